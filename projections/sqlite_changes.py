"""The one applier of the fold's ``Changes`` on SQLite: the append and the replay both run it.

``sqlite_statements`` turns changes into statements, each with all its parameter rows: per
table, one ``UPDATE`` closing the current row versions, then one ``INSERT`` per column set.
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
from collections.abc import Mapping, Sequence
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
            statements.append(
                (_insert_statement(targets[table], columns), _bind(table, columns, values))
            )
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


@functools.cache
def _insert_statement(table: str, columns: tuple[str, ...]) -> str:
    names = ", ".join(f'"{c}"' for c in columns)
    return f'INSERT INTO "{table}" ({names}) VALUES ({", ".join("?" * len(columns))})'
