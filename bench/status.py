"""``GET /v1/conflicts/{conflict}/status``, requests/s, beside a bare FastAPI endpoint.

For each database and each round, in a freshly created, migrated database holding the seed
article's timeline plus ``--allegations`` more allegations under its current agreement:

- the real route, through a real uvicorn (a subprocess on loopback), now and ``as_of`` a time;
- ``bench/bare_app.py``: the same path answering the same JSON as a constant, served by the same
  uvicorn settings (``ceasefire serve``'s, ``GUARDED``) and driven by the same load generator,
  in the same round.

The load generator is ``wrk`` when installed (C; one thread of it outruns one uvicorn worker
many times over, so it is not what is measured), else httpx clients in separate processes.
Ratios are computed within each round. No assertions: it prints figures.

    .venv/bin/python bench/status.py
    .venv/bin/python bench/status.py --databases sqlite --seconds 10 --profile bench/results
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench.harness import GUARDED, Server, Table, fresh_database, load, seed_database

CONFLICT = "armenia-azerbaijan"
AS_OF = "2022-09-24T00:00:00Z"


def run_database(kind: str, table: Table, round_: int, args: argparse.Namespace) -> None:
    def measure(name: str, base_url: str, path: str) -> None:
        result = load(
            base_url + path, connections=args.connections, seconds=args.seconds, threads=1
        )
        if result.bad:
            print(f"   {name}: {result.bad} of {result.requests} not 2xx", file=sys.stderr)
        table.add(name, round_, result.rate, unit="requests/s")
        print(f"   round {round_ + 1}  {name}: {result.rate:,.0f} requests/s", file=sys.stderr)

    status = f"/v1/conflicts/{CONFLICT}/status"
    profile = None
    if args.profile:
        profile = str(Path(args.profile) / f"status-{kind}-round{round_ + 1}.{args.profile_format}")
    with fresh_database(kind) as url, tempfile.TemporaryDirectory() as tmp:
        asyncio.run(seed_database(url, args.allegations))
        constant = Path(tmp) / "status.json"
        env = {"CEASEFIRE_DATABASE_URL": url, "CEASEFIRE_BENCH_CONSTANT": str(constant)}
        with Server(
            "app.main:create_app", factory=True, extra_args=GUARDED, env=env, profile_to=profile
        ) as ours:
            response = httpx.get(ours.base_url + status)
            response.raise_for_status()
            constant.write_bytes(response.content)
            measure("status (now)", ours.base_url, status)
            measure(f"status ?as_of={AS_OF}", ours.base_url, f"{status}?as_of={AS_OF}")
        with Server("bench.bare_app:create_app", factory=True, extra_args=GUARDED, env=env) as bare:
            measure("bare FastAPI, constant dict", bare.base_url, status)
            measure("bare FastAPI, constant bytes", bare.base_url, f"/bytes/{CONFLICT}/status")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each figure")
    parser.add_argument("--connections", type=int, default=8, help="concurrent clients")
    parser.add_argument(
        "--allegations", type=int, default=200, help="allegations added to the seed timeline"
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--profile", help="a folder: py-spy records our server into it")
    parser.add_argument("--profile-format", default="svg", choices=["svg", "json", "txt"])
    args = parser.parse_args(argv)
    kinds = [k.strip() for k in args.databases.split(",") if k.strip()]
    tables = {k: Table(f"GET …/status on {k}, requests/s", args.rounds) for k in kinds}
    started = time.perf_counter()
    for round_ in range(args.rounds):
        for kind in kinds:
            print(f"-- round {round_ + 1}, {kind}", file=sys.stderr, flush=True)
            run_database(kind, tables[kind], round_, args)
    for table in tables.values():
        # Issue 20's line: at least half the bare endpoint with public APIs only (0.70 was the
        # target of the earlier status route that answered outside FastAPI).
        table.ratio(
            "status / bare dict  (issue 20: >= 0.5)", "status (now)", "bare FastAPI, constant dict"
        )
        table.target("status / bare dict  (issue 20: >= 0.5)", minimum=0.5)
        table.ratio("status / bare bytes", "status (now)", "bare FastAPI, constant bytes")
        table.ratio(
            "status as_of / bare dict", f"status ?as_of={AS_OF}", "bare FastAPI, constant dict"
        )
        table.notes.append(
            f"{args.connections} keep-alive connections, {args.seconds:g} s per figure, "
            f"uvicorn 1 worker ({' '.join(GUARDED)}, no access log); "
            f"seed + {args.allegations} allegations"
        )
        print(table.render())
        print()
    print(f"({time.perf_counter() - started:.0f} s in all)")


if __name__ == "__main__":
    main()
