"""Polling: status reads/s with and without If-None-Match, and 1,000 long-polls released at once.

For each database and each round, in a freshly created, migrated database holding the seed
article's timeline plus ``--allegations`` more allegations:

**Reads** (``wrk``, keep-alive connections, one uvicorn worker), beside the bare FastAPI app of
``bench/bare_app.py`` (the same path answering the same JSON as a constant) served the same
way in the same round:

- ``status 304``: ``GET …/status`` with the current ETag in If-None-Match;
- ``status 200``: without it (the body comes from the per-position representation cache);
- ``status 200, cache off``: the same with ``CEASEFIRE_REPRESENTATION_CACHE_BYTES=0`` (each request
  builds the view; equal reads in flight still share one build).

**Long-poll**: ``--waiters`` clients (raw asyncio sockets, so the client is not what is
measured) each send ``GET …/status`` with the current ETag and ``Prefer: wait=60`` to ONE
server process. Then:

- the server's CPU while they all wait (``--hold`` seconds, from /proc), beside the same
  process idle with no waiter: flat means no per-waiter work while waiting;
- one allegation is POSTed (to the same process, and on PostgreSQL also to a second process,
  whose append reaches the first through LISTEN/NOTIFY); the time from sending the POST to
  the first, median, 99th percentile and last waiter's 200;
- baseline: the same number of plain status GETs fired at once at the same process.

Ratios are computed within each round. No assertions: it prints figures.

    .venv/bin/python bench/polling.py
    .venv/bin/python bench/polling.py --databases postgresql --waiters 1000 --rounds 1
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench.harness import (
    GUARDED,
    Server,
    Table,
    alleged_json,
    fresh_database,
    load,
    seed_database,
)

CONFLICT = "armenia-azerbaijan"
STATUS = f"/v1/conflicts/{CONFLICT}/status"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def settle(pid: int, *, quiet: float = 0.02, most: float = 20.0) -> None:
    """Return once the server has used under ``quiet`` of a CPU for half a second (it has
    taken every request in), or after ``most`` seconds."""
    deadline = time.monotonic() + most
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        await asyncio.sleep(0.5)
        if (cpu_seconds(pid) - before) / 0.5 < quiet:
            return


async def _open(port: int, count: int) -> list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    streams = []
    for _ in range(count):
        streams.append(await asyncio.open_connection("127.0.0.1", port))
    return streams


def _request(path: str, headers: dict[str, str]) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def _status_line(reader: asyncio.StreamReader) -> tuple[int, float]:
    line = await reader.readline()
    return int(line.split()[1]), time.perf_counter()


async def burst(port: int, count: int) -> float:
    """Seconds for ``count`` plain status GETs, sent at once on open connections."""
    streams = await _open(port, count)
    request = _request(STATUS, {})
    started = time.perf_counter()
    for _, writer in streams:
        writer.write(request)
    answers = await asyncio.gather(*(_status_line(r) for r, _ in streams))
    for _, writer in streams:
        writer.close()
    if any(code != 200 for code, _ in answers):
        raise RuntimeError("a plain GET failed")
    return max(t for _, t in answers) - started


async def long_polls(
    server: Server, poster: Server, key: str, waiters: int, hold: float, index: int
) -> dict[str, float]:
    port = int(server.base_url.rsplit(":", 1)[1])
    async with httpx.AsyncClient(timeout=30) as http:
        tag = (await http.get(server.base_url + STATUS)).headers["etag"]
        idle_before = cpu_seconds(server.pid)
        await asyncio.sleep(hold)
        idle = (cpu_seconds(server.pid) - idle_before) / hold

        streams = await _open(port, waiters)
        request = _request(STATUS, {"If-None-Match": tag, "Prefer": "wait=60"})
        for _, writer in streams:
            writer.write(request)
        answers = [asyncio.ensure_future(_status_line(r)) for r, _ in streams]
        await settle(server.pid)  # every request has reached the server and waits
        early = sum(a.done() for a in answers)
        held_before = cpu_seconds(server.pid)
        await asyncio.sleep(hold)
        held = (cpu_seconds(server.pid) - held_before) / hold

        body = alleged_json(CONFLICT, 100_000 + index)
        body["id"] = str(uuid.uuid4())
        sent = time.perf_counter()
        response = await http.post(
            poster.base_url + "/v1/events",
            json=body,
            headers={"Authorization": f"Bearer {key}"},
        )
        appended = time.perf_counter() - sent
        response.raise_for_status()
        results = await asyncio.gather(*answers)
        for _, writer in streams:
            writer.close()
    codes = [code for code, _ in results]
    delays = sorted(t - sent for _, t in results)
    if early or any(code != 200 for code in codes):
        print(f"   {early} answered before the append; codes {set(codes)}", file=sys.stderr)
    return {
        "idle cpu": idle,
        "held cpu": held,
        "append": appended,
        "first": delays[0],
        "median": statistics.median(delays),
        "p99": delays[int(len(delays) * 0.99) - 1],
        "last": delays[-1],
        "released": sum(code == 200 for code in codes),
    }


def run_database(
    kind: str, reads: Table, polls: Table, round_: int, args: argparse.Namespace
) -> None:
    def measure(name: str, url: str, headers: dict[str, str] | None = None) -> None:
        result = load(url, connections=args.connections, seconds=args.seconds, headers=headers)
        if result.bad:
            print(f"   {name}: {result.bad} of {result.requests} failed", file=sys.stderr)
        reads.add(name, round_, result.rate, unit="requests/s")
        print(f"   round {round_ + 1}  {name}: {result.rate:,.0f} requests/s", file=sys.stderr)

    with fresh_database(kind) as url, tempfile.TemporaryDirectory() as tmp:
        key = asyncio.run(seed_database(url, args.allegations, writer_key=True))
        constant = Path(tmp) / "status.json"
        env = {
            "CEASEFIRE_DATABASE_URL": url,
            "CEASEFIRE_BENCH_CONSTANT": str(constant),
            "CEASEFIRE_WEBHOOK_WORKER": "false",
        }
        with Server("app.main:create_app", factory=True, extra_args=GUARDED, env=env) as ours:
            first = httpx.get(ours.base_url + STATUS)
            first.raise_for_status()
            constant.write_bytes(first.content)
            tag = first.headers["etag"]
            measure("status 304 (If-None-Match)", ours.base_url + STATUS, {"If-None-Match": tag})
            measure("status 200", ours.base_url + STATUS)
        cache_off = {**env, "CEASEFIRE_REPRESENTATION_CACHE_BYTES": "0"}
        with Server("app.main:create_app", factory=True, extra_args=GUARDED, env=cache_off) as ours:
            measure("status 200, cache off", ours.base_url + STATUS)
        with Server("bench.bare_app:create_app", factory=True, env=env) as bare:
            measure("bare FastAPI, constant", bare.base_url + STATUS)

        with Server("app.main:create_app", factory=True, extra_args=GUARDED, env=env) as ours:
            figures = asyncio.run(long_polls(ours, ours, key, args.waiters, args.hold, round_))
            seconds = asyncio.run(burst(int(ours.base_url.rsplit(":", 1)[1]), args.waiters))
            _record(polls, "append here", figures, round_)
            polls.add(
                f"baseline: {args.waiters} plain GETs at once, all answered",
                round_,
                seconds * 1000,
                "ms",
            )
            if kind == "postgresql":
                with Server(
                    "app.main:create_app", factory=True, extra_args=GUARDED, env=env
                ) as other:
                    figures = asyncio.run(
                        long_polls(ours, other, key, args.waiters, args.hold, 10 + round_)
                    )
                _record(polls, "append in another process", figures, round_)
            print(f"   round {round_ + 1}  long-poll: {figures}", file=sys.stderr)


def _record(table: Table, where: str, figures: dict[str, float], round_: int) -> None:
    table.add(f"[{where}] server CPU idle, no waiter", round_, figures["idle cpu"] * 100, "% cpu")
    table.add(f"[{where}] server CPU, waiters held", round_, figures["held cpu"] * 100, "% cpu")
    table.add(f"[{where}] POST /v1/events answered", round_, figures["append"] * 1000, "ms")
    for name in ("first", "median", "p99", "last"):
        table.add(f"[{where}] {name} waiter released (200)", round_, figures[name] * 1000, "ms")
    table.add(f"[{where}] waiters released", round_, figures["released"], "count")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each read figure")
    parser.add_argument("--connections", type=int, default=8, help="concurrent read clients")
    parser.add_argument("--allegations", type=int, default=200)
    parser.add_argument("--waiters", type=int, default=1000, help="concurrent long-polls")
    parser.add_argument("--hold", type=float, default=5.0, help="seconds of CPU measured")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    kinds = [k.strip() for k in args.databases.split(",") if k.strip()]
    reads = {k: Table(f"GET …/status on {k}, requests/s", args.rounds) for k in kinds}
    polls = {k: Table(f"{args.waiters} long-polls on one process, {k}", args.rounds) for k in kinds}
    started = time.perf_counter()
    for round_ in range(args.rounds):
        for kind in kinds:
            print(f"-- round {round_ + 1}, {kind}", file=sys.stderr, flush=True)
            run_database(kind, reads[kind], polls[kind], round_, args)
    for kind in kinds:
        table = reads[kind]
        table.ratio("304 / bare", "status 304 (If-None-Match)", "bare FastAPI, constant")
        table.ratio("200 / bare", "status 200", "bare FastAPI, constant")
        table.ratio("200 cache off / bare", "status 200, cache off", "bare FastAPI, constant")
        table.notes.append(
            f"{args.connections} keep-alive connections (wrk), {args.seconds:g} s per figure, "
            f"uvicorn 1 worker; seed + {args.allegations} allegations"
        )
        print(table.render())
        print()
        polls[kind].notes.append(
            "times from sending the POST to each waiter's status line; CPU from /proc over "
            f"{args.hold:g} s"
        )
        print(polls[kind].render())
        print()
    print(json.dumps({"seconds": round(time.perf_counter() - started)}))


if __name__ == "__main__":
    main()
