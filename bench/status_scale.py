"""What one status read costs as the log grows: the seed conflict's status read beside a log of
1k and of 1M other events, in-process (``projections.queries.status.read_status``, the view the
route serves, without HTTP), now and ``as_of`` a time.

For each database and each size, a fresh database is filled with ``bench/replay.py``'s bulk
path (``--size`` events over 1,000 conflicts, straight into the log), the projections are
rebuilt by ``ceasefire replay``'s own code, and the seed article plus ``--allegations`` more
allegations are appended through the store. Then ``--reads`` status reads are timed per round,
the rounds alternating between the databases; the median and the ratio of the large log to the
small one are printed. No assertions.

    .venv/bin/python bench/status_scale.py
    .venv/bin/python bench/status_scale.py --databases sqlite --sizes 1000,1000000
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import fresh_database, seed_database
from bench.replay import fill

CONFLICT = "armenia-azerbaijan"
AS_OF = datetime(2022, 9, 24, tzinfo=UTC)
WINDOW = timedelta(days=7)


async def _prepare(url: str, allegations: int) -> float:
    from events.log.database import create_engine
    from events.log.store import EventStore
    from projections.runner import replay

    store = EventStore(create_engine(url))
    try:
        started = time.perf_counter()
        await replay(store)
        took = time.perf_counter() - started
    finally:
        await store.close()
    await seed_database(url, allegations)
    return took


async def _reads(url: str, reads: int) -> dict[str, float]:
    from events.log.database import create_engine
    from projections.freshness import snapshot
    from projections.queries.status import read_status

    engine = create_engine(url)
    out: dict[str, float] = {}
    try:
        for name, as_of in (("now", None), ("as_of", AS_OF)):
            times = []
            for i in range(reads + 20):
                started = time.perf_counter()
                async with snapshot(engine) as conn:
                    view = await read_status(
                        conn,
                        CONFLICT,
                        as_of=as_of or datetime.now(UTC),
                        known_at=None,
                        window=WINDOW,
                    )
                if i >= 20:  # warm-up left out
                    times.append(time.perf_counter() - started)
            assert view.agreement is not None
            out[name] = statistics.median(times) * 1e6
    finally:
        await engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--sizes", default="1000,1000000")
    parser.add_argument("--allegations", type=int, default=1000)
    parser.add_argument("--reads", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    for kind in args.databases.split(","):
        with ExitStack() as stack:
            urls = {}
            for size in sizes:
                url = urls[size] = stack.enter_context(fresh_database(kind))
                filled = fill(kind, url, size)
                replayed = asyncio.run(_prepare(url, args.allegations))
                print(
                    f"{kind:10} {size:>9,} events: fill {filled:.1f} s, replay {replayed:.1f} s, "
                    f"then the seed and {args.allegations} allegations",
                    flush=True,
                )
            # Rounds alternate between the databases, so a machine busy for a while slows
            # both alike; the figure is the median of the rounds' medians.
            medians: dict[int, dict[str, list[float]]] = {
                s: {"now": [], "as_of": []} for s in sizes
            }
            for _ in range(args.rounds):
                for size in sizes:
                    for name, value in asyncio.run(_reads(urls[size], args.reads)).items():
                        medians[size][name].append(value)
        for size in sizes:
            now, as_of = (statistics.median(medians[size][n]) for n in ("now", "as_of"))
            print(
                f"{kind:10} {size:>9,} events: status read median now {now:,.0f} us, "
                f"as_of {as_of:,.0f} us",
                flush=True,
            )
        for name in ("now", "as_of"):
            small = statistics.median(medians[sizes[0]][name])
            large = statistics.median(medians[sizes[-1]][name])
            print(
                f"{kind:10} status {name}: {sizes[-1]:,} / {sizes[0]:,} events = "
                f"{large / small:.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
