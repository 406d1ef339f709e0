"""The projection rows an append writes in its own transaction: the read model's side of the
store's ``events.log.writers.InTransaction``.

``ProjectionRows`` carries the row changes the fold computed and the checkpoint they bring up to
the append. PostgreSQL's append hands them, as JSON, to the ``ceasefire_append`` function (one
round trip; ``changes_as_json``); SQLite's runs the statements on the writer's own connection
(``write_sqlite``) through ``projections.sqlite_changes``, the SQLite applier the replay's
``projections.bulk.BulkWriter`` runs too.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from projections.changes import Changes
from projections.inline import CHECKPOINT
from projections.sqlite_changes import sqlite_statements
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
        """Through the one SQLite applier, which the replay runs too."""
        for statement, params in sqlite_statements(self.changes):
            conn.executemany(statement, params)


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
