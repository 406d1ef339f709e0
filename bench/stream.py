"""``/v1/stream`` fan-out: N live SSE clients on ONE server process, one append, and how long
until the last of them has the event.

For each database, in a freshly created, migrated database holding the seed article's
timeline: a real uvicorn (a subprocess on loopback) and N clients (raw asyncio sockets in this
process, so the client is not what is measured) following ``/v1/stream?conflict=…`` from now.
Once every client has its stream's opening message and the server is quiet, one allegation is
POSTed, ``--appends`` times in turn. For each append:

- the time from sending the POST to each client's receipt of the event: p50, p99 and max;
- the server's CPU from the POST until the last client has it (from /proc): the append itself
  and its delivery to every stream.

The same with ``--few`` clients (10) is the baseline, in the same run. No assertions: it
prints figures.

    .venv/bin/python bench/stream.py
    .venv/bin/python bench/stream.py --databases sqlite --clients 1000 --appends 5
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench.harness import GUARDED, Server, Table, alleged_json, fresh_database, seed_database
from bench.polling import cpu_seconds, settle

CONFLICT = "armenia-azerbaijan"


async def _open_stream(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"GET /v1/stream?conflict={CONFLICT} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Accept: text/event-stream\r\n\r\n".encode()
    )
    status = await reader.readline()
    if b" 200 " not in status:
        raise RuntimeError(f"stream refused: {status!r}")
    await reader.readuntil(b"\r\n\r\n")  # the headers
    await reader.readuntil(b"\n\n")  # the opening message: the stream is following
    return reader, writer


async def _receipt(reader: asyncio.StreamReader, marker: bytes) -> float:
    while True:
        line = await reader.readline()
        if not line:
            raise RuntimeError("a stream ended")
        if marker in line:
            return time.perf_counter()


async def fan_out(server: Server, key: str, clients: int, appends: int) -> list[dict[str, float]]:
    port = int(server.base_url.rsplit(":", 1)[1])
    streams = []
    for _ in range(clients):
        streams.append(await _open_stream(port))
    figures = []
    async with httpx.AsyncClient(timeout=60) as http:
        for n in range(appends):
            await settle(server.pid)
            body = alleged_json(CONFLICT, 200_000 + clients * 10 + n)
            body["id"] = str(uuid.uuid4())
            marker = f'"id":"{body["id"]}"'.encode()
            receipts = [asyncio.ensure_future(_receipt(r, marker)) for r, _ in streams]
            cpu_before = cpu_seconds(server.pid)
            sent = time.perf_counter()
            response = await http.post(
                server.base_url + "/v1/events",
                json=body,
                headers={"Authorization": f"Bearer {key}"},
            )
            response.raise_for_status()
            delays = sorted(t - sent for t in await asyncio.gather(*receipts))
            cpu = cpu_seconds(server.pid) - cpu_before
            figures.append(
                {
                    "p50": statistics.median(delays),
                    "p99": delays[max(0, int(len(delays) * 0.99) - 1)],
                    "max": delays[-1],
                    "cpu": cpu,
                }
            )
    for _, writer in streams:
        writer.close()
    return figures


def run_database(kind: str, table: Table, args: argparse.Namespace) -> None:
    with fresh_database(kind) as url:
        key = asyncio.run(seed_database(url, 0, writer_key=True))
        assert key is not None
        env = {
            "CEASEFIRE_DATABASE_URL": url,
            "CEASEFIRE_WEBHOOK_WORKER": "false",
            "CEASEFIRE_MAX_STREAMS": str(max(args.clients, args.few) + 10),
        }
        for clients in (args.few, args.clients):
            with Server("app.main:create_app", factory=True, extra_args=GUARDED, env=env) as server:
                figures = asyncio.run(fan_out(server, key, clients, args.appends))
            for i, f in enumerate(figures):
                for name in ("p50", "p99", "max"):
                    table.add(f"{clients} streams: {name} receipt", i, f[name] * 1000, "ms")
                table.add(f"{clients} streams: server CPU per append", i, f["cpu"] * 1000, "ms")
            print(f"   {kind} {clients} streams: {figures}", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--clients", type=int, default=1000, help="streams on one process")
    parser.add_argument("--few", type=int, default=10, help="the baseline's streams")
    parser.add_argument("--appends", type=int, default=3, help="appends measured, in turn")
    args = parser.parse_args(argv)
    for kind in args.databases.split(","):
        table = Table(
            f"one append to {args.clients} live streams on one process, {kind}", args.appends
        )
        table.notes.append(
            "receipt: from sending the POST to the client reading the event; CPU: the server's, "
            "from the POST to the last receipt (the append included)"
        )
        run_database(kind, table, args)
        print(table.render())
        print()


if __name__ == "__main__":
    main()
