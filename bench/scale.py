"""Scaling out reads: status reads/s with 1 and 2 API processes, with a hot standby, through a
shared cache, each beside the bare FastAPI endpoint in the same run; and a status read's cost
with 1k vs 1M events in the log.

PostgreSQL only (the standby is one of its own): a freshly created, migrated database holding
the seed article's timeline plus ``--allegations`` more allegations, per round. Figures:

- **bare FastAPI** (``bench/bare_app.py``), 1 and 2 uvicorn processes: the ceiling of the HTTP
  stack on this machine with the same load generator.
- **status, 1 / 2 processes**: ``GET /v1/conflicts/armenia-azerbaijan/status`` (a head lookup
  per request, the body from each process's representation cache).
- **status, reads on the standby**: one process whose reads go to the hot standby of
  ``.ci/replica.sh`` (``make replica``); skipped when none is running.
- **status through nginx**: ``proxy_cache`` in front of one process
  (``CEASEFIRE_CACHE_MAX_AGE=1``), the same config as the cache test (tests/e2e/nginx.py).

Then **log size**: the same conflict's status with 1k and with 1M other events in the log
(filled directly and replayed, as bench/replay.py does): requests/s through one process, and
the time of one status computed in-process (no HTTP, no representation cache), median of
``--samples``.

The load generator is ``wrk`` when installed (``apt-get install wrk``), else httpx clients in
separate processes; on this 2-core machine it competes with the servers for CPU, which limits
every figure here (say so beside them). No assertions: it prints figures.

    .venv/bin/python bench/scale.py
    .venv/bin/python bench/scale.py --rounds 1 --seconds 5 --sizes 1000,1000000
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench.harness import Server, Table, fresh_database, load, seed_database
from bench.replay import fill
from tests.e2e.nginx import nginx_binary, running_nginx
from tests.e2e.replica import STANDBY, standby_url

CONFLICT = "armenia-azerbaijan"
STATUS = f"/v1/conflicts/{CONFLICT}/status"


def _standby_up() -> bool:
    import asyncpg

    async def probe() -> bool:
        try:
            conn = await asyncpg.connect(STANDBY, timeout=3)
        except Exception:  # any failure: no standby
            return False
        try:
            return bool(await conn.fetchval("SELECT pg_is_in_recovery()"))
        finally:
            await conn.close()

    return asyncio.run(probe())


def throughput(table: Table, round_: int, args: argparse.Namespace) -> None:
    def measure(name: str, url: str) -> None:
        result = load(url, connections=args.connections, seconds=args.seconds, threads=1)
        if result.bad:
            print(f"   {name}: {result.bad} of {result.requests} not 2xx", file=sys.stderr)
        table.add(name, round_, result.rate, unit="requests/s")
        print(f"   round {round_ + 1}  {name}: {result.rate:,.0f} requests/s", file=sys.stderr)

    with fresh_database("postgresql") as url, tempfile.TemporaryDirectory() as tmp:
        asyncio.run(seed_database(url, args.allegations))
        constant = Path(tmp) / "status.json"
        env = {"CEASEFIRE_DATABASE_URL": url, "CEASEFIRE_BENCH_CONSTANT": str(constant)}
        app, bare = "app.main:create_app", "bench.bare_app:create_app"
        with Server(app, factory=True, env=env) as ours:
            constant.write_bytes(httpx.get(ours.base_url + STATUS).content)
        with Server(bare, factory=True, env=env) as server:
            measure("bare FastAPI, 1 process", server.base_url + STATUS)
        with Server(app, factory=True, env=env) as server:
            measure("status, 1 process", server.base_url + STATUS)
        two = ["--workers", "2"]
        with Server(bare, factory=True, env=env, extra_args=two) as server:
            measure("bare FastAPI, 2 processes", server.base_url + STATUS)
        with Server(app, factory=True, env=env, extra_args=two) as server:
            measure("status, 2 processes", server.base_url + STATUS)
        if _standby_up():
            replica = {**env, "CEASEFIRE_READ_DATABASE_URL": asyncio.run(standby_url(url))}
            with Server(app, factory=True, env=replica) as server:
                measure("status, reads on the standby", server.base_url + STATUS)
        else:
            print("   no hot standby (make replica): its figure is skipped", file=sys.stderr)
        if nginx_binary() is not None:
            cached = {**env, "CEASEFIRE_CACHE_MAX_AGE": "1"}
            with (
                Server(app, factory=True, env=cached) as server,
                tempfile.TemporaryDirectory() as directory,
                running_nginx(
                    server.base_url.removeprefix("http://"), Path(directory), access_log=False
                ) as nginx,
            ):
                measure("status through nginx (max-age 1 s)", nginx.base_url + STATUS)
        else:
            print("   no nginx (apt-get install nginx): its figure is skipped", file=sys.stderr)


async def _computed_ms(url: str, samples: int) -> float:
    """One status computed in-process (a snapshot, the queries, the view): median ms."""
    from datetime import timedelta

    from app.reads.view_bytes import status
    from events.log.database import create_engine

    engine = create_engine(url)
    try:
        times = []
        for _ in range(samples):
            started = time.perf_counter()
            await status(engine, CONFLICT, as_of=None, known_at=None, window=timedelta(days=7))
            times.append(time.perf_counter() - started)
    finally:
        await engine.dispose()
    return statistics.median(times) * 1000


def log_size(table: Table, round_: int, size: int, args: argparse.Namespace) -> None:
    from projections.runner import replay

    async def build(url: str) -> None:
        from events.log.database import create_engine
        from events.log.store import EventStore

        store = EventStore(create_engine(url))
        try:
            await replay(store)
        finally:
            await store.close()

    with fresh_database("postgresql") as url:
        started = time.perf_counter()
        fill("postgresql", url, size)
        asyncio.run(build(url))
        asyncio.run(seed_database(url, args.allegations))
        print(
            f"   {size:,} events filled and replayed in {time.perf_counter() - started:,.0f} s",
            file=sys.stderr,
        )
        label = f"{size:,} events"
        table.add(
            f"status computed, {label}",
            round_,
            asyncio.run(_computed_ms(url, args.samples)),
            unit="ms",
        )
        with Server("app.main:create_app", factory=True, env={"CEASEFIRE_DATABASE_URL": url}) as s:
            result = load(s.base_url + STATUS, connections=args.connections, seconds=args.seconds)
            table.add(f"status over HTTP, {label}", round_, result.rate, unit="requests/s")
        print(f"   round {round_ + 1}  {label}: done", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each figure")
    parser.add_argument("--connections", type=int, default=16, help="concurrent clients")
    parser.add_argument("--allegations", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sizes", default="1000,1000000", help="log sizes, comma-separated")
    parser.add_argument("--samples", type=int, default=300, help="in-process status reads")
    args = parser.parse_args(argv)
    started = time.perf_counter()

    speed = Table("GET …/status on PostgreSQL, requests/s", args.rounds)
    for r in range(args.rounds):
        throughput(speed, r, args)
    base = "bare FastAPI, 1 process"
    for name in list(speed.rows):
        if name != base:
            speed.ratio(f"{name} / bare 1 process", name, base)
    if "status, 2 processes" in speed.rows:
        speed.ratio("status: 2 processes / 1 process", "status, 2 processes", "status, 1 process")
        speed.ratio("bare: 2 processes / 1 process", "bare FastAPI, 2 processes", base)
    speed.notes.append(
        "2 cores shared by the servers, PostgreSQL, the standby and the load generator"
    )
    print(speed.render())

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if sizes:
        grown = Table("one conflict's status vs the log's length (PostgreSQL)", args.rounds)
        for r in range(args.rounds):
            for size in sizes:
                log_size(grown, r, size, args)
        print(grown.render())
    print(f"({time.perf_counter() - started:,.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
