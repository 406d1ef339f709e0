"""The one applier of the fold's ``Changes`` on SQLite: the append and the replay both run it.

``sqlite_statements`` turns changes into statements, each with all its parameter rows: per
table, one ``UPDATE`` closing the current row versions, then per column set one multi-row
``INSERT`` (``VALUES (…), (…), …``), run once per chunk of as many rows as SQLite binds values
in one statement, the rest in chunks of powers of two (a replay batch's thousands of rows: a
statement step per chunk instead of one per row; the append's one row: the plain one-row
``INSERT``).
The append runs them on the writer's raw ``sqlite3`` connection inside its transaction
(``projections.writer.ProjectionRows.write_sqlite``); the replay on its aiosqlite connection,
into the live tables or a rebuild's scratch tables (``projections.bulk.BulkWriter``). So the two
paths write the same rows with the same statements and the same value conversion
(``events.log.sqlite_values``), and cannot drift.

Closes before inserts is what ``Changes`` guarantees to mean the same as applying its changes
one by one (see ``Changes.close``). Table and column names come from our own code
(``PROJECTION_KEYS`` and the fold's rows), never from input (``Changes.grouped`` refuses a
table that is not a projection's).
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Mapping, Sequence
from itertools import chain
from typing import Any

from sqlalchemy import Table

from events.log.sqlite_values import rows_binder
from events.log.tables import metadata
from projections.changes import Changes
from projections.tables import PROJECTION_KEYS

__all__ = ["LIVE", "Statement", "sqlite_statements"]

#: A statement and its parameter rows, for ``executemany``.
Statement = tuple[str, list[Sequence[Any]]]

#: Every projection table written under its own name (the append's targets).
LIVE: Mapping[str, str] = {table: table for table in PROJECTION_KEYS}


def sqlite_statements(changes: Changes, targets: Mapping[str, str] = LIVE) -> list[Statement]:
    """The statements that apply ``changes`` on SQLite, closes first. ``targets`` maps each
    projection table to the table to write (a rebuild's scratch table, or itself); changes to
    the projection tables it leaves out are skipped."""
    grouped = changes.grouped(targets)
    statements: list[Statement] = []
    for table, params in grouped.closes.items():
        key = PROJECTION_KEYS[table]
        statements.append(
            (_close_statement(targets[table], key), _bind(table, ("known_until", *key), params))
        )
    for table, groups in grouped.inserts.items():
        for columns, values in groups.items():
            statements.extend(_inserts(targets[table], columns, _bind(table, columns, values)))
    return statements


def _variable_limit() -> int:
    """How many values one statement may bind in this build of SQLite."""
    conn = sqlite3.connect(":memory:")
    try:
        return conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    finally:
        conn.close()


#: Values bound per statement at most: SQLite's limit, and a bound that keeps a statement's text
#: (and what one step holds) small.
_MAX_VALUES = min(_variable_limit(), 16_384)


def _inserts(table: str, columns: tuple[str, ...], rows: list[Sequence[Any]]) -> list[Statement]:
    """Multi-row inserts of ``rows``: chunks of ``per`` rows (as many as one statement binds)
    through one statement, then the rest in chunks of powers of two, largest first, each row's
    values laid end to end.

    The sizes come from that fixed ladder, not from each batch's row count: every distinct text
    is a statement ``sqlite3`` prepares and keeps in its connection's statement cache (128 of
    them), and one of hundreds of rows holds hundreds of kB. With a statement per remainder
    size, a replay's memory grew with the log until that cache was full (about 50 MB more at
    1M events than at 100k); with the ladder, a table has at most ``1 + log2(per)`` texts."""
    per = max(1, _MAX_VALUES // len(columns))
    full = len(rows) - len(rows) % per
    statements: list[Statement] = []
    if full:
        chunks: list[Sequence[Any]] = [
            list(chain.from_iterable(rows[i : i + per])) for i in range(0, full, per)
        ]
        statements.append((_insert_statement(table, columns, per), chunks))
    start, size = full, 1 << max(0, (len(rows) - full).bit_length() - 1)
    while start < len(rows):
        if start + size <= len(rows):
            rest = list(chain.from_iterable(rows[start : start + size]))
            statements.append((_insert_statement(table, columns, size), [rest]))
            start += size
        size >>= 1
    return statements


def _bind(
    table: str, columns: tuple[str, ...], rows: Sequence[Sequence[Any]]
) -> list[Sequence[Any]]:
    return rows_binder(_table(table), columns)(rows)


@functools.cache
def _table(name: str) -> Table:
    return metadata.tables[name]


@functools.cache
def _close_statement(table: str, key: tuple[str, ...]) -> str:
    where = " AND ".join(f'"{k}" = ?' for k in key)
    return f'UPDATE "{table}" SET known_until = ? WHERE known_until IS NULL AND {where}'


@functools.lru_cache(maxsize=512)  # bounded: the sizes of ``_inserts``'s ladder, per table
def _insert_statement(table: str, columns: tuple[str, ...], rows: int = 1) -> str:
    names = ", ".join(f'"{c}"' for c in columns)
    row = f"({', '.join('?' * len(columns))})"
    return f'INSERT INTO "{table}" ({names}) VALUES {", ".join([row] * rows)}'
