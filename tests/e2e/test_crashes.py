"""Appends under faults, through a real server: eight writers over HTTP while the server is
killed with SIGKILL, on both databases. Afterwards every acknowledged (201) event is stored,
stream versions and positions have no hole, the chain and the projections verify, and the
store appends again. (A PostgreSQL restart under load: ``tests/webhooks/test_database_restart.py``.)
"""

from __future__ import annotations

import uuid

from app.services.appending import Appender
from events.log.database import create_engine
from events.log.store import EventStore
from tests.e2e.conftest import make_keys, start_server
from tests.e2e.writers import Load, assert_log_intact, writing
from tests.factories import signed
from tests.webhooks.receiver import eventually


async def test_a_server_killed_mid_load_loses_no_acknowledged_event(
    fresh_database_url: str,
) -> None:
    keys = await make_keys(fresh_database_url)
    load = Load()
    with start_server(fresh_database_url) as server:
        async with writing(server.base_url, keys, load, died=True):
            await eventually(lambda: len(load.acked) >= 40)
            server.process.kill()
            server.process.wait()
    assert load.unexpected == [] and set(load.statuses) == {201}
    await assert_log_intact(fresh_database_url, load.acked)
    store = EventStore(create_engine(fresh_database_url))
    try:  # what the killed process left behind (a WAL, locks) does not stop the next writer
        await Appender(store).append([signed(f"after-{uuid.uuid4().hex[:6]}")])
    finally:
        await store.close()
