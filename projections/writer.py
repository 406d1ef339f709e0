"""The projection rows an append writes in its own transaction: the read model's side of the
store's ``events.writers.InTransaction``.

``ProjectionRows`` carries the row changes the fold computed and the checkpoint they bring up to
the append. PostgreSQL's append hands them, as JSON, to the ``ceasefire_append`` function (one
round trip; ``changes_as_json``); SQLite's runs the statements on the writer's own connection
(``write_sqlite``). The replay writes its batches through ``projections.bulk.BulkWriter``.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import Any
from uuid import UUID

from events.sqlite_values import sqlite_value
from projections.changes import Changes, Row
from projections.inline import CHECKPOINT
from projections.tables import PROJECTION_KEYS

__all__ = ["ProjectionRows", "changes_as_json"]


@dataclass(frozen=True, slots=True)
class ProjectionRows:
    """The inline projections' row changes of one append, and their checkpoint."""

    changes: Changes
    checkpoint: str = CHECKPOINT

    def __len__(self) -> int:
        return len(self.changes.closes) + len(self.changes.inserts)

    def as_json(self) -> str:
        return changes_as_json(self.changes)

    def write_sqlite(self, conn: sqlite3.Connection) -> None:
        """Closes, then inserts (see ``Changes.close``); table and column names come from our
        own code (``PROJECTION_KEYS`` and the fold's rows), never from input."""
        for close in self.changes.closes:
            key = PROJECTION_KEYS[close.table]
            where = " AND ".join(f"{k} = ?" for k in key)
            conn.execute(
                f"UPDATE {close.table} SET known_until = ? WHERE known_until IS NULL AND {where}",
                (sqlite_value(close.known_until), *(sqlite_value(close.key[k]) for k in key)),
            )
        for table, group in _grouped(self.changes.inserts):
            columns = tuple(group[0])
            values = itemgetter(*columns)
            conn.executemany(
                _insert_statement(table, columns),
                [tuple(map(sqlite_value, values(row))) for row in group],
            )


@functools.cache
def _insert_statement(table: str, columns: tuple[str, ...]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def _grouped(inserts: Iterable[tuple[str, Row]]) -> list[tuple[str, list[Row]]]:
    groups: dict[str, list[Row]] = {}
    for table, row in inserts:
        if table not in PROJECTION_KEYS:
            raise ValueError(f"not a projection table: {table}")
        groups.setdefault(table, []).append(row)
    return list(groups.items())


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    return value


def changes_as_json(changes: Changes) -> str:
    """The changes in the shape ``ceasefire_append`` reads: per table, its key columns, the
    rows to close and the rows to insert (as ``jsonb_populate_recordset`` records)."""
    out: dict[str, dict[str, Any]] = {}
    for close in changes.closes:
        entry = out.setdefault(close.table, {"key": list(PROJECTION_KEYS[close.table])})
        record = {k: _json_value(v) for k, v in close.key.items()}
        record["known_until"] = close.known_until.isoformat()
        entry.setdefault("close", []).append(record)
    for name, row in changes.inserts:
        entry = out.setdefault(name, {"key": list(PROJECTION_KEYS[name])})
        entry.setdefault("insert", []).append({k: _json_value(v) for k, v in row.items()})
    return json.dumps(out, ensure_ascii=False)
