"""Webhooks: append-to-receipt latency and deliveries/s, against baselines of the same run.

1,000 allegations (over 10 conflicts) go to 5 endpoints of a loopback receiver (a bare ASGI
app under uvicorn, a process of its own): 5,000 deliveries. The store and one webhook worker
share one process, as in ``ceasefire serve`` (the worker is woken by the append); the
allegations are appended one call at a time, either as fast as they go ("burst": the worker
works through a backlog) or at a steady rate ("paced", ``--rate``, 20/s by default: 100
deliveries/s, below what one worker sends on the 2-core machine this was written on, so it
shows the latency of a worker that keeps up).

- latency: receipt time at the receiver minus the time the append returned, p50 and p99;
- deliveries/s: 5,000 over the time from the first append to the last receipt;
- baselines: the same body POSTed straight to the receiver with httpx (one at a time for
  latency; with the worker's concurrency for throughput) — what HTTP on this machine costs
  before any webhook machinery. Ratios are within the round.

    .venv/bin/python bench/webhooks.py                       # SQLite and PostgreSQL
    .venv/bin/python bench/webhooks.py --databases sqlite --events 200 --rate 50
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.services.appending import Appender
from app.settings import Settings
from app.webhooks.cloudevents import event_body
from app.webhooks.sender import WebhookSender
from app.webhooks.subscriptions import create_subscription, write_transaction
from app.webhooks.worker import WebhookWorker
from bench.harness import Server, Table, alleged, fresh_database, signed
from events.log.database import create_engine
from events.log.store import EventStore
from events.model.envelope import Recorded, to_recorded

CONFLICTS = [f"bench-{i}" for i in range(10)]


def percentile(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


async def webhook_round(
    url: str, receiver: str, *, events: int, endpoints: int, rate: float
) -> dict[str, float]:
    settings = Settings(
        database_url=url,
        webhook_allow_http=True,
        webhook_allowed_subnets=["127.0.0.0/8"],
    )
    store = EventStore(create_engine(url), sqlite_synchronous=settings.sqlite_synchronous)
    appender = Appender(store)
    sender = WebhookSender(settings)
    worker = WebhookWorker(store, settings, sender)
    try:
        for conflict in CONFLICTS:
            await appender.append([signed(conflict)])
        async with write_transaction(store.engine) as conn:
            for i in range(endpoints):
                await create_subscription(
                    conn,
                    url=f"{receiver}/endpoint-{i}",
                    event_types=["violation.alleged"],
                    conflicts=None,
                    description=None,
                    now=datetime.now(UTC),
                )
        async with httpx.AsyncClient() as client:
            await client.get(f"{receiver}/reset")
            worker.start()
            appended: dict[str, float] = {}
            started = time.time()
            for i in range(events):
                result = await appender.append([alleged(CONFLICTS[i % len(CONFLICTS)], i)])
                appended[str(result.events[0].id)] = time.time()
                if rate:
                    await asyncio.sleep(max(0.0, started + (i + 1) / rate - time.time()))
            expected = events * endpoints
            deadline = time.monotonic() + 600
            while int((await client.get(f"{receiver}/count")).text) < expected:
                if time.monotonic() > deadline:
                    raise RuntimeError("deliveries did not all arrive within 10 minutes")
                await asyncio.sleep(0.05)
            arrivals = (await client.get(f"{receiver}/stats")).json()
    finally:
        await worker.stop()
        await sender.close()
        await store.close()
    latencies = [(at - appended[event_id]) * 1000 for at, event_id, _path in arrivals]
    last = max(at for at, _id, _path in arrivals)
    return {
        "p50": statistics.median(latencies),
        "p99": percentile(latencies, 99),
        "deliveries/s": len(arrivals) / (last - started),
    }


async def baseline(receiver: str, *, requests: int, concurrency: int) -> dict[str, float]:
    """The same kind of body POSTed straight to the receiver."""
    body = event_body(_sample_event())
    latencies = []
    async with httpx.AsyncClient(
        limits=httpx.Limits(max_connections=concurrency), trust_env=False
    ) as client:
        await client.get(f"{receiver}/reset")
        for _ in range(200):
            start = time.perf_counter()
            await client.post(f"{receiver}/baseline", content=body)
            latencies.append((time.perf_counter() - start) * 1000)
        queue = iter(range(requests))

        async def post_all() -> None:
            for _ in queue:
                await client.post(f"{receiver}/baseline", content=body)

        start = time.perf_counter()
        await asyncio.gather(*(post_all() for _ in range(concurrency)))
        seconds = time.perf_counter() - start
        await client.get(f"{receiver}/reset")
    return {"post p50": statistics.median(latencies), "posts/s": requests / seconds}


def _sample_event() -> Recorded:
    return to_recorded(
        alleged(CONFLICTS[0], 1),
        version=2,
        position=2,
        recorded_at=datetime.now(UTC),
        schema_version=1,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--endpoints", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--rate", type=float, default=20.0, help="appends/s of the paced run (0: skip it)"
    )
    args = parser.parse_args()
    concurrency = Settings().webhook_concurrency
    with Server("bench.webhook_receiver:app", ready_path="/healthz") as receiver:
        for kind in [d.strip() for d in args.databases.split(",") if d.strip()]:
            table = Table(
                f"webhooks on {kind}: {args.events} allegations x {args.endpoints} endpoints",
                args.rounds,
            )
            for r in range(args.rounds):
                base = asyncio.run(
                    baseline(
                        receiver.base_url,
                        requests=args.events * args.endpoints,
                        concurrency=concurrency,
                    )
                )
                table.add("baseline: one POST, p50", r, base["post p50"], "ms")
                table.add(f"baseline: POSTs/s, {concurrency} at once", r, base["posts/s"], "/s")
                runs = [("burst", 0.0)] + (
                    [(f"paced {args.rate:g}/s", args.rate)] if args.rate else []
                )
                for name, rate in runs:
                    with fresh_database(kind) as url:
                        figures = asyncio.run(
                            webhook_round(
                                url,
                                receiver.base_url,
                                events=args.events,
                                endpoints=args.endpoints,
                                rate=rate,
                            )
                        )
                    table.add(f"{name}: append-to-receipt p50", r, figures["p50"], "ms")
                    table.add(f"{name}: append-to-receipt p99", r, figures["p99"], "ms")
                    table.add(f"{name}: deliveries/s", r, figures["deliveries/s"], "/s")
                    table.ratio(
                        f"{name}: p50 / one POST p50",
                        f"{name}: append-to-receipt p50",
                        "baseline: one POST, p50",
                    )
                table.ratio(
                    "burst: deliveries/s / POSTs/s",
                    "burst: deliveries/s",
                    f"baseline: POSTs/s, {concurrency} at once",
                )
            print(table.render(), flush=True)


if __name__ == "__main__":
    main()
