"""Engines for the two databases, with the per-dialect setup each needs.

SQLite: WAL so readers never wait for the writer, ``synchronous=NORMAL`` by default (a commit
survives a crash of the process but may be lost on power loss; ``CEASEFIRE_SQLITE_SYNCHRONOUS=FULL``
restores full durability), a busy timeout so a second process waits instead of failing, and
explicit ``BEGIN`` / ``BEGIN IMMEDIATE`` because the driver's own transaction handling would
otherwise defer the write lock until the first write and turn read-then-write into a deadlock.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

__all__ = ["WAL_SIZE_LIMIT", "WRITE", "create_engine", "dialect_of"]

#: Execution option for a connection that will write: on SQLite its transaction starts with
#: BEGIN IMMEDIATE, taking the write lock up front.
WRITE = {"ceasefire_write": True}


def dialect_of(engine: AsyncEngine) -> Literal["sqlite", "postgresql"]:
    name = engine.dialect.name
    if name not in ("sqlite", "postgresql"):
        raise ValueError(f"unsupported database dialect {name!r}")
    return name  # type: ignore[return-value]


def create_engine(
    url: str,
    *,
    sqlite_synchronous: str = "NORMAL",
    pool_size: int = 10,
    max_overflow: int | None = None,
    echo: bool = False,
) -> AsyncEngine:
    """``max_overflow``: connections beyond ``pool_size`` (PostgreSQL; default as many again)."""
    if url.startswith("sqlite"):
        engine = create_async_engine(
            url,
            echo=echo,
            hide_parameters=True,
            connect_args={"timeout": 30, "check_same_thread": False},
        )
        _configure_sqlite(engine, sqlite_synchronous)
        return engine
    if url.startswith("postgresql"):
        return create_async_engine(
            url,
            echo=echo,
            hide_parameters=True,
            pool_size=pool_size,
            max_overflow=pool_size if max_overflow is None else max_overflow,
            pool_pre_ping=False,
            connect_args={"server_settings": {"application_name": "ceasefire"}},
        )
    raise ValueError(
        f"CEASEFIRE_DATABASE_URL must be sqlite+aiosqlite or postgresql+asyncpg: {url}"
    )


#: What an SQLite WAL file is cut back to when SQLite starts it over (``journal_size_limit``,
#: bytes), on every connection that writes: the appends' WAL starts over once it holds about half
#: of it (``events.log.sqlite_writer``); one long transaction (a bulk load's), as much as it wrote.
WAL_SIZE_LIMIT = 32 * 1024 * 1024


def _configure_sqlite(engine: AsyncEngine, synchronous: str) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get("ceasefire_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
