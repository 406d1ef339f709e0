"""A PostgreSQL restart under load: eight writers appending over HTTP to a real server, and a
webhook worker delivering to a real receiver, while the database (a PostgreSQL of the
test's own, ``tests/private_postgres.py``: the suite's shared one is never restarted) is
stopped and started under them.

Clients get 503 problems, never a 500, and the service recovers by itself; every acknowledged
event is stored with no hole in versions or positions and the log verifies; the worker, which
ran throughout, delivers every event, a second time only where an attempt's outcome was lost.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from app.services.schema_migrations import upgrade
from app.webhooks.machinery import running, webhooks_of
from app.webhooks.subscriptions import create_subscription, write_transaction
from app.webhooks.tables import attempts, deliveries
from events.log.database import create_engine
from events.log.store import EventStore
from events.log.tables import events as events_table
from tests.conftest import SELECTED
from tests.e2e.conftest import make_keys, start_server
from tests.e2e.writers import WRITERS, Load, assert_log_intact, writing
from tests.private_postgres import PrivatePostgres, private_postgres
from tests.webhooks.conftest import fast_settings
from tests.webhooks.receiver import Receiver, eventually


@pytest.fixture
def pg() -> Iterator[PrivatePostgres]:
    """A migrated PostgreSQL of this test's own (made outside the event loop)."""
    if "postgresql" not in SELECTED:
        pytest.skip("CEASEFIRE_TEST_DATABASES leaves PostgreSQL out")
    with private_postgres() as server:
        upgrade(server.url)
        yield server


async def test_a_postgresql_restart_mid_load_gives_503s_and_loses_nothing(
    pg: PrivatePostgres, receiver: Receiver
) -> None:
    if True:
        keys = await make_keys(pg.url)
        store = EventStore(create_engine(pg.url))
        # The worker runs in this process, on an engine of its own, over the loopback-only
        # network of these tests.
        settings = fast_settings(pg.url, webhook_lease=30, webhook_timeout=5)
        worker_store = EventStore(create_engine(pg.url))
        try:
            async with write_transaction(store.engine) as conn:
                await create_subscription(
                    conn,
                    url=receiver.url(),
                    event_types=["violation.alleged"],
                    conflicts=None,
                    description=None,
                    now=datetime.now(UTC),
                )
            load = Load()
            with start_server(pg.url, webhook_worker="false") as server:
                async with running(webhooks_of(worker_store, settings)):
                    async with writing(server.base_url, keys, load, died=False):
                        await eventually(lambda: len(load.acked) >= 24 and len(receiver.at()) >= 5)
                        pg.stop("fast")
                        await eventually(lambda: load.statuses[503] >= WRITERS)
                        pg.start()
                        await store.engine.dispose()  # the test's own connections died too
                        before = len(load.acked)
                        await eventually(lambda: len(load.acked) >= before + 24, within=60)
                    alleged = await _alleged(store)
                    await eventually(lambda: _received(receiver) >= alleged, within=60)
                    await eventually(lambda: _all_succeeded(store))
                server_log = server.log()
            assert load.unexpected == [], (load.unexpected, server_log)
            assert set(load.statuses) == {201, 503}, load.statuses
            await assert_log_intact(pg.url, load.acked)

            async with store.engine.connect() as conn:
                lost = {
                    f"msg_{r.delivery_id.hex}"
                    for r in await conn.execute(
                        select(attempts.c.delivery_id).where(attempts.c.error.like("%lease%"))
                    )
                }
            twice = {m for m, n in Counter(r.message_id for r in receiver.at()).items() if n > 1}
            assert twice <= lost
        finally:
            await worker_store.close()
            await store.close()


async def _alleged(store: EventStore) -> set[str]:
    async with store.engine.connect() as conn:
        rows = await conn.execute(
            select(events_table.c.id).where(events_table.c.type == "violation.alleged")
        )
        return {str(r.id) for r in rows}


def _received(receiver: Receiver) -> set[str]:
    return {json.loads(r.body)["id"] for r in receiver.at()}


async def _all_succeeded(store: EventStore) -> bool:
    async with store.engine.connect() as conn:
        statuses = {r.status for r in await conn.execute(select(deliveries.c.status))}
    return statuses == {"succeeded"}
