"""One classification of database errors (``events.log.store.storage_failure``), on the real
databases: a database without our tables is "not migrated" (``ceasefire migrate``), not
"unreachable"; a server that is not there is unreachable; an error of the statement itself is
neither, whichever path (SQLAlchemy, or the raw drivers ``events.log.heads`` uses) raised it."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from events.log.database import create_engine
from events.log.heads import Heads
from events.log.store import EventStore, storage_failure
from events.model.errors import SchemaNotMigratedError, StorageUnavailableError
from tests.conftest import ADMIN_URL, _admin, _require_postgres
from tests.e2e.conftest import free_port


@pytest.fixture
def unmigrated_url(db_kind: str, tmp_path: Path) -> Iterator[str]:
    """A database that exists and answers, with none of our tables."""
    if db_kind == "sqlite":
        path = tmp_path / "empty.db"
        sqlite3.connect(path).close()
        yield f"sqlite+aiosqlite:///{path}"
        return
    _require_postgres()
    name = f"ceasefire_unmigrated_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    base = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def test_head_lookups_on_an_unmigrated_database_say_migrate(unmigrated_url: str) -> None:
    store = EventStore(create_engine(unmigrated_url))
    heads = Heads(store.engine)
    try:
        for lookup in (heads.log(), heads.stream("nowhere"), store.head()):
            with pytest.raises(SchemaNotMigratedError, match="ceasefire migrate"):
                await lookup
    finally:
        await heads.close()
        await store.close()


async def _error_of(store: EventStore, sql: str) -> BaseException:
    async with store.engine.connect() as conn:
        with pytest.raises(DBAPIError) as raised:
            await conn.execute(text(sql))
    return raised.value


async def test_statement_errors_are_not_storage_failures(store: EventStore) -> None:
    missing = await _error_of(store, "SELECT position FROM no_such_table")
    assert isinstance(storage_failure(missing), SchemaNotMigratedError)
    duplicate = await _error_of(
        store, "INSERT INTO log_head (id, position, hash) VALUES (1, 0, '')"
    )
    assert storage_failure(duplicate) is None


async def test_raw_driver_errors_are_classified_the_same(database_url: str) -> None:
    """What ``Heads`` sees on PostgreSQL: asyncpg's own errors, not SQLAlchemy's."""
    if not database_url.startswith("postgresql"):
        pytest.skip("the raw asyncpg path is PostgreSQL's")
    import asyncpg

    conn = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        with pytest.raises(asyncpg.PostgresError) as missing:
            await conn.fetchval("SELECT position FROM no_such_table")
        with pytest.raises(asyncpg.PostgresError) as by_zero:
            await conn.fetchval("SELECT 1 / 0")
    finally:
        await conn.close()
    assert isinstance(storage_failure(missing.value), SchemaNotMigratedError)
    assert storage_failure(by_zero.value) is None  # a bug to surface, not a 503


async def test_a_server_that_is_not_there_is_unreachable() -> None:
    url = f"postgresql+asyncpg://nobody@127.0.0.1:{free_port()}/nothing"
    store = EventStore(create_engine(url))
    heads = Heads(store.engine)
    try:
        for lookup in (heads.log(), store.head()):
            with pytest.raises(StorageUnavailableError) as raised:
                await lookup
            assert not isinstance(raised.value, SchemaNotMigratedError)
    finally:
        await heads.close()
        await store.close()
