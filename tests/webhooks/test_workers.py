"""Worker processes: killed with SIGKILL they lose nothing; on PostgreSQL two of them never
send the same attempt twice. Real ``ceasefire worker`` processes, a real receiver."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from uuid import UUID

import pytest
from sqlalchemy import select

from app.services.appending import Appender
from app.webhooks.subscriptions import create_subscription, write_transaction
from app.webhooks.tables import attempts, deliveries
from events.log.store import EventStore
from tests.factories import alleged, signed
from tests.webhooks.receiver import Receiver, Reply, eventually

ROOT = Path(__file__).resolve().parents[2]


@asynccontextmanager
async def worker_process(
    database_url: str, **settings: str
) -> AsyncIterator[asyncio.subprocess.Process]:
    """A ``ceasefire worker`` process (loopback-only network), ready once it says so."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CEASEFIRE_")}
    env.update(
        {
            "CEASEFIRE_DATABASE_URL": database_url,
            "CEASEFIRE_WEBHOOK_ALLOW_HTTP": "true",
            "CEASEFIRE_WEBHOOK_ALLOWED_SUBNETS": "127.0.0.0/8",
            "CEASEFIRE_WEBHOOK_POLL_INTERVAL": "0.05",
            "CEASEFIRE_WEBHOOK_RETRY_JITTER": "0",
            "CEASEFIRE_WEBHOOK_RETRY_SCHEDULE": "0,0.05,0.1,0.1,0.1,0.1,0.1,0.1",
            "CEASEFIRE_WEBHOOK_CONNECT_TIMEOUT": "1",
        }
    )
    env.update({f"CEASEFIRE_{k.upper()}": v for k, v in settings.items()})
    log = tempfile.NamedTemporaryFile(prefix="worker-", suffix=".log", delete=False)  # noqa: SIM115
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.webhooks.loopback_worker",
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )

    def output() -> str:
        return Path(log.name).read_text(errors="replace")

    try:
        deadline = time.monotonic() + 30
        while "webhook worker" not in output():
            if process.returncode is not None or time.monotonic() > deadline:
                pytest.fail(f"the worker did not start:\n{output()}")
            await asyncio.sleep(0.05)
        yield process
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(10):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()
        log.close()
        os.unlink(log.name)


async def subscribe(store: EventStore, url: str) -> UUID:
    from datetime import UTC, datetime

    async with write_transaction(store.engine) as conn:
        sub = await create_subscription(
            conn,
            url=url,
            event_types=["violation.alleged"],
            conflicts=None,
            description=None,
            now=datetime.now(UTC),
        )
    return sub.id


def received_event_ids(receiver: Receiver, path: str = "/hook") -> set[str]:
    return {json.loads(r.body)["id"] for r in receiver.at(path)}


async def delivery_rows(store: EventStore) -> list[tuple[UUID, str, int]]:
    async with store.engine.connect() as conn:
        rows = await conn.execute(
            select(deliveries.c.id, deliveries.c.status, deliveries.c.attempts)
        )
        return [(r.id, r.status, r.attempts) for r in rows]


async def attempt_rows(
    store: EventStore,
) -> list[tuple[UUID, int, str | None, str, int | None]]:
    async with store.engine.connect() as conn:
        rows = await conn.execute(
            select(
                attempts.c.delivery_id,
                attempts.c.number,
                attempts.c.error,
                attempts.c.worker,
                attempts.c.status_code,
            )
        )
        return [(r.delivery_id, r.number, r.error, r.worker, r.status_code) for r in rows]


async def test_a_worker_killed_mid_batch_loses_nothing(
    fresh_store: EventStore, fresh_database_url: str, receiver: Receiver, fresh_appender: Appender
) -> None:
    """Appends keep coming while the worker dispatches and sends; it is killed with SIGKILL
    in the middle of that; more appends arrive while no worker runs; a new worker delivers
    every one of them. A duplicate is allowed only where an attempt's outcome was lost."""
    conflict = "kill-nine"
    await fresh_appender.append([signed(conflict)])
    await subscribe(fresh_store, receiver.url())
    receiver.responders["/hook"] = lambda _r, _n: Reply(204, delay=0.005)
    settings = {
        "webhook_dispatch_batch": "10",
        "webhook_concurrency": "4",
        "webhook_lease": "1.5",
        "webhook_timeout": "1",
    }
    appended: list[str] = []

    async def append(count: int) -> None:
        for i in range(count):
            result = await fresh_appender.append([alleged(conflict, incidents=i + 1)])
            appended.append(str(result.events[0].id))
            await asyncio.sleep(0.003)

    async with worker_process(fresh_database_url, **settings) as first:
        appending = asyncio.create_task(append(150))
        await eventually(lambda: len(receiver.at()) >= 20)
        first.send_signal(signal.SIGKILL)
        assert await first.wait() == -signal.SIGKILL
        await appending
    assert len(received_event_ids(receiver)) < len(appended)  # it really died midway

    async with worker_process(fresh_database_url, **settings):
        await eventually(lambda: received_event_ids(receiver) == set(appended), within=60)
        await eventually(lambda: _all_succeeded(fresh_store, len(appended)), within=30)

    lost = {
        d for d, _n, error, _w, _c in await attempt_rows(fresh_store) if error and "lease" in error
    }
    by_id = Counter(r.message_id for r in receiver.at())
    twice = {m for m, n in by_id.items() if n > 1}
    assert {f"msg_{d.hex}" for d in lost} >= twice


async def _all_succeeded(store: EventStore, expected: int) -> bool:
    rows = await delivery_rows(store)
    return len(rows) == expected and all(status == "succeeded" for _d, status, _a in rows)


async def test_a_worker_killed_mid_send_is_taken_over_when_its_lease_expires(
    fresh_store: EventStore, fresh_database_url: str, receiver: Receiver, fresh_appender: Appender
) -> None:
    conflict = "mid-send"
    await fresh_appender.append([signed(conflict)])
    await subscribe(fresh_store, receiver.url())
    receiver.responders["/hook"] = lambda _r, n: Reply(204, delay=0.8 if n == 1 else 0)
    settings = {"webhook_lease": "1.5", "webhook_timeout": "1"}
    async with worker_process(fresh_database_url, **settings) as first:
        await fresh_appender.append([alleged(conflict)])
        await eventually(lambda: receiver.at())  # the receiver holds the answer back 0.8 s
        first.send_signal(signal.SIGKILL)
        await first.wait()
    async with worker_process(fresh_database_url, **settings) as second:
        await eventually(lambda: len(receiver.at()) == 2)
        await eventually(lambda: _all_succeeded(fresh_store, 1))
    assert second.returncode == 0  # SIGTERM: a clean stop
    first_try, second_try = receiver.at()
    assert first_try.message_id == second_try.message_id
    [(delivery, _status, count)] = await delivery_rows(fresh_store)
    tried = sorted((n, error) for _d, n, error, _w, _c in await attempt_rows(fresh_store))
    assert count == 2
    assert tried[0][0] == 1 and "lease expired" in (tried[0][1] or "")
    assert tried[1] == (2, None)
    assert first_try.message_id == f"msg_{delivery.hex}"


async def test_two_workers_on_postgresql_never_send_the_same_attempt_twice(
    db_kind: str,
    fresh_store: EventStore,
    fresh_database_url: str,
    receiver: Receiver,
    fresh_appender: Appender,
) -> None:
    if db_kind != "postgresql":
        pytest.skip("several workers share the work with FOR UPDATE SKIP LOCKED: PostgreSQL")
    conflict = "two-workers"
    await fresh_appender.append([signed(conflict)])
    for path in ("/a", "/b"):
        await subscribe(fresh_store, receiver.url(path))
        # Every delivery fails once, then succeeds: two attempts each, each exactly once.
        receiver.responders[path] = lambda _r, n: Reply(500 if n == 1 else 204)
    settings = {"webhook_concurrency": "8", "webhook_dispatch_batch": "50"}
    async with (
        worker_process(fresh_database_url, **settings),
        worker_process(fresh_database_url, **settings),
    ):
        for i in range(80):
            await fresh_appender.append([alleged(conflict, incidents=i + 1)])
        await eventually(lambda: _all_succeeded(fresh_store, 160), within=60)

    by_id = Counter(r.message_id for r in receiver.received)
    assert len(by_id) == 160
    tried = await attempt_rows(fresh_store)
    assert max(Counter((d, n) for d, n, _e, _w, _c in tried).values()) == 1
    reached = Counter(f"msg_{d.hex}" for d, _n, _e, _w, code in tried if code is not None)
    assert by_id == reached  # every request the receiver got is one recorded attempt
    assert all(n >= 2 for n in by_id.values())  # the first answer was 500, the last 204
    assert len({w for _d, _n, _e, w, _c in tried}) == 2  # both workers took part
