"""SQLite's values as SQLAlchemy's types store them, converted fast: the one converter of the
raw-``sqlite3`` append path, of the projection rows (``projections.sqlite_changes``, for the
append and the replay alike) and of the replay's bulk reads.

Values are converted per column, by the processors of the column's declared type on SQLite
(``bind_processors``, ``rows_binder``): what lands in a table is what SQLAlchemy would write.

SQLite stores an instant as naive UTC text. SQLAlchemy converts each value in two steps
(``UtcDateTime`` to a naive UTC datetime, then the dialect's ``DATETIME`` to text, through a
``%`` format of seven fields; and back through a regular expression): measured on a 100k-event
SQLite replay, these per-value conversions took about a third of its time. ``datetime``'s own
``isoformat`` / ``fromisoformat`` in C give the same text and the same values.

"The same" is checked, not assumed: ``faster_bind`` and ``faster_result`` compare the fast
functions with SQLAlchemy's processors for the column on a set of probe instants (microseconds
or none, years before 1000, another offset) and hand back SQLAlchemy's own processor when any
differs, e.g. after a change of the storage format.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.types import TypeEngine

from events.log.tables import UtcDateTime
from events.model.envelope import in_utc

__all__ = [
    "DIALECT",
    "Processor",
    "bind_processors",
    "converter",
    "faster_bind",
    "faster_result",
    "result_processors",
    "rows_binder",
    "text_to_utc",
    "utc_to_text",
]

Processor = Callable[[Any], Any] | None
#: Rows of values in, rows as the driver takes them out.
RowsBinder = Callable[[Sequence[Sequence[Any]]], list[Sequence[Any]]]

#: The dialect of the service's SQLite engine (``sqlite+aiosqlite``): its type processors say
#: how each value is stored, whether the row goes through aiosqlite or raw ``sqlite3``.
DIALECT = SQLiteDialect_aiosqlite()

_PROBES = (
    datetime(2022, 9, 14, 16, 0, tzinfo=UTC),
    datetime(2026, 1, 1, 0, 0, 0, 654321, tzinfo=UTC),
    datetime(2022, 9, 14, 18, 30, 5, 7, tzinfo=timezone(timedelta(hours=2, minutes=30))),
    datetime(1, 1, 1, 0, 0, tzinfo=UTC),
    datetime(999, 12, 31, 23, 59, 59, 1, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
)


def utc_to_text(value: datetime) -> str:
    """An aware datetime as SQLite stores it: naive UTC ``YYYY-MM-DD HH:MM:SS.ffffff``."""
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the store")
    # isoformat of a UTC datetime ends in "+00:00": cut rather than copy it without tzinfo
    return in_utc(value).isoformat(" ", "microseconds")[:-6]


def text_to_utc(value: str) -> datetime:
    """Stored text back to the aware UTC datetime ``UtcDateTime`` gives."""
    return datetime.fromisoformat(value + "+00:00")  # UTC itself (the probes check it is)


def faster_bind(type_: TypeEngine[Any], slow: Processor) -> Processor:
    """``utc_to_text`` for a ``UtcDateTime`` column whose processor it matches; else ``slow``."""
    if not isinstance(type_, UtcDateTime) or slow is None:
        return slow
    try:
        same = all(utc_to_text(p) == slow(p) for p in _PROBES)
    except Exception:  # a processor that refuses a probe: keep it, it knows best
        return slow
    return utc_to_text if same else slow


def faster_result(type_: TypeEngine[Any], slow: Processor, bind: Processor) -> Processor:
    """``text_to_utc`` for a ``UtcDateTime`` column whose processor it matches on the text
    ``bind`` (that column's bind processor) stores; else ``slow``."""
    if not isinstance(type_, UtcDateTime) or slow is None or bind is None:
        return slow
    try:
        texts = [bind(p) for p in _PROBES]
        same = all(
            text_to_utc(t) == slow(t) and text_to_utc(t).tzinfo is slow(t).tzinfo for t in texts
        )
    except Exception:  # a processor that refuses a probe: keep it, it knows best
        return slow
    return text_to_utc if same else slow


def bind_processors(table: Table, columns: Sequence[str]) -> list[Processor]:
    """Per column of ``table``, its type's SQLite bind processor (the faster instant one where
    it matches, ``faster_bind``); None where a value is stored as it is."""
    processors: list[Processor] = []
    for name in columns:
        type_ = table.c[name].type
        processors.append(faster_bind(type_, type_.dialect_impl(DIALECT).bind_processor(DIALECT)))
    return processors


def result_processors(table: Table, columns: Sequence[str]) -> list[Processor]:
    """Per column of ``table``, from what ``sqlite3`` returns to what SQLAlchemy would (the
    faster instant one where it matches, ``faster_result``)."""
    processors: list[Processor] = []
    for name in columns:
        type_ = table.c[name].type
        impl = type_.dialect_impl(DIALECT)
        processors.append(
            faster_result(type_, impl.result_processor(DIALECT, None), impl.bind_processor(DIALECT))
        )
    return processors


@functools.cache
def rows_binder(table: Table, columns: tuple[str, ...]) -> RowsBinder:
    """Rows of ``columns`` values of ``table`` converted as SQLite stores them (built once per
    table and column set: the append path asks for the same few on every append)."""
    return converter(bind_processors(table, columns))


def converter(processors: Sequence[Processor]) -> RowsBinder:
    """A function passing each non-NULL value of a row through its column's processor (None:
    as it is). Rows come back as lists when any processor applies; ``sqlite3`` takes either."""
    active = [(i, p) for i, p in enumerate(processors) if p is not None]
    if not active:
        return list

    def convert(rows: Sequence[Sequence[Any]]) -> list[Sequence[Any]]:
        out: list[Sequence[Any]] = []
        for row in rows:
            values = list(row)
            for i, process in active:
                if values[i] is not None:
                    values[i] = process(values[i])
            out.append(values)
        return out

    return convert
