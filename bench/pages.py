"""The pages at scale: `/` (the conflict list) and a conflict's page, their size and time with
1,000 conflicts and a large log, against a budget, beside the cheapest view in the same run.

For each database, in a freshly created, migrated database: the log is filled directly
(``bench/replay.py``'s ``fill``: 1,000 conflicts, agreements, allegations, missions,
retractions, corrections), the projections are built by a replay, then a real uvicorn serves
the app and each page is read:

- **computed**: a read the representation cache cannot answer (a new moment each round: the
  page ``as_of`` a distinct instant; the first round reads *now*), what a page costs to build;
- **cached**: the same read again (the body from the cache, checked against the head);
- **304**: the same read with its ETag in ``If-None-Match`` (a tab polling, a CDN revalidating);
- the baseline, in the same run: ``/v1/conflicts/{c}/status`` computed, the cheapest view.

Sizes are of the body as sent (no compression). The budget (``SIZE_BUDGET``, ``TIME_BUDGET``)
is what a page must stay under at any size: the issue measured 15 MB and 9.4 s for 50
conflicts and 50,000 events before the list was paged.

    .venv/bin/python bench/pages.py                                   # both databases, 1M events
    .venv/bin/python bench/pages.py --events 20000 --databases sqlite --rounds 2   # a quick check
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import Server, fresh_database
from bench.replay import BATCH, fill

#: What a page must stay under, computed, at any size of the log and of the list.
SIZE_BUDGET = 256 * 1024
TIME_BUDGET = 1.0
#: The conflict whose page is read: the first of ``fill``'s, as long as any.
CONFLICT = "bench-0000"


async def _replay(url: str) -> float:
    from events.log.database import create_engine
    from events.log.store import EventStore
    from projections.runner import replay

    store = EventStore(create_engine(url))
    try:
        started = time.perf_counter()
        await replay(store, batch_size=BATCH)
        return time.perf_counter() - started
    finally:
        await store.close()


def _timed(
    http: httpx.Client, path: str, headers: dict[str, str] | None = None
) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = http.get(path, headers=headers)
    seconds = time.perf_counter() - started
    if response.status_code not in (200, 304):
        raise RuntimeError(f"{path}: {response.status_code} {response.text[:300]}")
    return seconds, response


def _measure(base_url: str, rounds: int) -> dict[str, list[float]]:
    pages = {
        "/": "/",
        "/?sort=name&page=20": "/?sort=name&page=20",
        "/?q=bench-0999": "/?q=bench-0999",
        f"/conflicts/{CONFLICT}": f"/conflicts/{CONFLICT}",
        f"/embed/conflicts/{CONFLICT}": f"/embed/conflicts/{CONFLICT}",
    }
    figures: dict[str, list[float]] = {}

    def add(name: str, value: float) -> None:
        figures.setdefault(name, []).append(value)

    far = datetime(2030, 1, 1, tzinfo=UTC)
    with httpx.Client(base_url=base_url, timeout=120) as http:
        for r in range(rounds):
            moment = {} if r == 0 else {"as_of": (far + timedelta(seconds=r)).isoformat()}
            status_path = f"/v1/conflicts/{CONFLICT}/status"
            seconds, _ = _timed(http, str(httpx.URL(status_path, params=moment)))
            add("status (baseline), computed, s", seconds)
            for name, path in pages.items():
                url = str(httpx.URL(path).copy_merge_params(moment))
                seconds, first = _timed(http, url)
                add(f"{name} computed, s", seconds)
                add(f"{name} size, KiB", len(first.content) / 1024)
                add(
                    f"{name} computed / status",
                    seconds / figures["status (baseline), computed, s"][-1],
                )
                seconds, _ = _timed(http, url)
                add(f"{name} cached, s", seconds)
                seconds, again = _timed(http, url, {"If-None-Match": first.headers["etag"]})
                assert again.status_code == 304, (url, again.status_code)
                add(f"{name} 304, s", seconds)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    over: list[str] = []
    for kind in args.databases.split(","):
        with fresh_database(kind) as url:
            filled = fill(kind, url, args.events)
            replayed = asyncio.run(_replay(url))
            with Server(
                "app.main:create_app", factory=True, env={"CEASEFIRE_DATABASE_URL": url}
            ) as server:
                figures = _measure(server.base_url, args.rounds)
        print(f"== pages on {kind}: {args.events:,} events, 1,000 conflicts")
        print(
            f"   filled directly in {filled:.0f}s, projections replayed in {replayed:.0f}s "
            "(not measured)"
        )
        width = max(len(name) for name in figures)
        print(f"{'':<{width}}  {'median':>10}  {'worst':>10}")
        for name, values in figures.items():
            worst = max(values)
            print(f"{name:<{width}}  {statistics.median(values):>10.3f}  {worst:>10.3f}")
            if name.endswith("size, KiB") and worst * 1024 > SIZE_BUDGET:
                over.append(f"{kind}: {name} {worst:.0f} KiB > {SIZE_BUDGET // 1024} KiB")
            if (
                name.endswith("computed, s")
                and not name.startswith("status")
                and worst > TIME_BUDGET
            ):
                over.append(f"{kind}: {name} {worst:.2f} s > {TIME_BUDGET} s")
        print(flush=True)
    print(f"budget: each page under {SIZE_BUDGET // 1024} KiB and {TIME_BUDGET} s computed")
    print("over budget:" if over else "all within budget")
    for line in over:
        print(f"   {line}")
    sys.exit(1 if over else 0)


if __name__ == "__main__":
    main()
