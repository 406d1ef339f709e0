"""The store's tables. Alembic migrations create them; this module only describes them to
SQLAlchemy so the store can build statements.

``events`` is append-only: rows are inserted and never updated or deleted. ``streams`` holds
each conflict's current version (the compare-and-set target of optimistic concurrency) and
``log_head`` the global position and chain hash of the newest event; both are single rows an
append locks, which is what makes positions commit in order.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Dialect,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    Uuid,
)

__all__ = [
    "UtcDateTime",
    "events",
    "log_head",
    "metadata",
    "projection_checkpoints",
    "record_of",
    "streams",
]

metadata = MetaData()

R = TypeVar("R")


@functools.cache
def _fields_of(cls: Callable[..., Any]) -> tuple[str, ...]:
    return tuple(inspect.signature(cls).parameters)


def record_of(cls: Callable[..., R], row: Any, **converted: Any) -> R:
    """The record ``cls`` (a dataclass, or a view's model) of a row whose columns carry its
    fields' names: every field copied from the column of its name, except those given in
    ``converted`` (a column that needs decoding, or is named otherwise). The one row-to-record
    mapping of every table; a record made from another record (a view from a wider one) is
    copied the same way."""
    copied = {name: getattr(row, name) for name in _fields_of(cls) if name not in converted}
    return cls(**copied, **converted)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both databases. SQLite stores them as naive ISO strings, which
    compare correctly as long as every stored value is UTC; this type guarantees that."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is UTC:  # asyncpg's timestamptz already: no copy (replay reads millions)
            return value
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


events = Table(
    "events",
    metadata,
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("id", Uuid, nullable=False, unique=True),
    Column("conflict", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("type", String(64), nullable=False),
    Column("schema_version", SmallInteger, nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("source", Text, nullable=False),
    Column("data", Text, nullable=False),
    Column("hash", LargeBinary(32), nullable=False),
    #: The id of the API key that appended it (``cli``: an operator's command without a key);
    #: NULL for events recorded before keys were recorded (migration 0006).
    Column("key_id", String(64), nullable=True),
    UniqueConstraint("conflict", "version", name="uq_events_conflict_version"),
)
Index("ix_events_conflict_recorded", events.c.conflict, events.c.recorded_at)
#: 0014: a conflict's latest event occurred by a time (its freshness), one index probe.
Index("ix_events_conflict_occurred", events.c.conflict, events.c.occurred_at)

streams = Table(
    "streams",
    metadata,
    Column("conflict", String(64), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("position", BigInteger, nullable=False),
)

log_head = Table(
    "log_head",
    metadata,
    Column("id", SmallInteger, primary_key=True),
    Column("position", BigInteger, nullable=False),
    Column("hash", LargeBinary(32), nullable=False),
)

projection_checkpoints = Table(
    "projection_checkpoints",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("position", BigInteger, nullable=False),
    Column("rebuilt_at", UtcDateTime, nullable=True),
)
