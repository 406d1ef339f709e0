"""The head lookups' and the appends' asyncpg connections (``events.log.pg_connections``), on
a real PostgreSQL: reused after a result or a refused statement, never more than their number
open, and never reused when their state is unknown (cancelled mid-statement, left in a
transaction, killed by the server)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from events.log.pg_connections import Connections
from tests.conftest import ADMIN_URL, SELECTED, _require_postgres

PID = "SELECT pg_backend_pid()"


@pytest.fixture
def postgresql() -> None:
    if "postgresql" not in SELECTED:
        pytest.skip("PostgreSQL only, and CEASEFIRE_TEST_DATABASES leaves it out")
    _require_postgres()


@pytest.fixture
async def connections(postgresql: None) -> AsyncIterator[Connections]:
    pool = Connections(ADMIN_URL, size=2, application_name="ceasefire-test-connections")
    yield pool
    await pool.close()


async def _running(admin: asyncpg.Connection, pid: int, query: str) -> None:
    """Until backend ``pid`` is running ``query`` (a condition polled, not a fixed sleep)."""
    sql = "SELECT state = 'active' AND query = $2 FROM pg_stat_activity WHERE pid = $1"
    for _ in range(1000):
        if await admin.fetchval(sql, pid, query):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"backend {pid} never ran {query!r}")


async def test_a_connection_is_reused_after_a_result_and_after_a_refused_statement(
    connections: Connections,
) -> None:
    pid = await connections.fetchval(PID)
    assert await connections.fetchval(PID) == pid
    with pytest.raises(asyncpg.DivisionByZeroError):
        await connections.fetchval("SELECT 1 / 0")
    with pytest.raises(asyncpg.UndefinedTableError):
        await connections.fetch("SELECT * FROM no_such_table")
    assert await connections.fetchval(PID) == pid


async def test_never_more_connections_open_than_its_size(connections: Connections) -> None:
    pids = await asyncio.gather(
        *(connections.fetchval("SELECT pg_backend_pid() FROM pg_sleep(0.05)") for _ in range(6))
    )
    assert len(pids) == 6
    assert 1 <= len(set(pids)) <= 2


async def test_a_connection_cancelled_mid_statement_is_not_reused(
    connections: Connections,
) -> None:
    pid = await connections.fetchval(PID)
    sleeping = "SELECT pg_sleep(30)"
    lookup = asyncio.ensure_future(connections.fetchval(sleeping))
    admin = await asyncpg.connect(ADMIN_URL)
    try:
        await _running(admin, pid, sleeping)
        lookup.cancel()
        with pytest.raises(asyncio.CancelledError):
            await lookup
    finally:
        await admin.close()
    assert await connections.fetchval(PID) != pid


async def test_a_connection_left_in_a_transaction_is_not_reused(
    connections: Connections,
) -> None:
    async with connections.acquire() as conn:
        pid = await conn.fetchval(PID)
        await conn.execute("BEGIN")
    assert await connections.fetchval(PID) != pid


async def test_a_connection_the_server_killed_is_replaced(connections: Connections) -> None:
    pid = await connections.fetchval(PID)
    admin = await asyncpg.connect(ADMIN_URL)
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()
    # The kill may reach the client only with the next statement: that one may fail, as a
    # lost connection (not a statement's error), and the one after it must not.
    try:
        after = await connections.fetchval(PID)
    except (
        asyncpg.PostgresConnectionError,
        asyncpg.OperatorInterventionError,
        asyncpg.InterfaceError,
        asyncpg.InternalClientError,  # the kill arrived in the middle of the exchange
        OSError,
    ):
        after = await connections.fetchval(PID)
    assert after != pid
