"""Applying row changes to the projection tables through SQLAlchemy.

SQLite's append path and the replay on both databases use this. PostgreSQL's append path hands
the same changes, as JSON, to the ``ceasefire_append`` function instead (one round trip); see
``changes_as_json``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Table, and_, bindparam, update
from sqlalchemy.ext.asyncio import AsyncConnection

from events.tables import metadata
from projections.changes import Changes, Row
from projections.tables import PROJECTION_KEYS

__all__ = ["apply_changes", "changes_as_json"]


def _table(name: str, rename: dict[str, str] | None) -> Table:
    return metadata.tables[(rename or {}).get(name, name)]


async def apply_changes(
    conn: AsyncConnection, changes: Changes, *, rename: dict[str, str] | None = None
) -> None:
    """Closes first, then inserts, one executemany per table (see ``Changes.close`` for why
    that order is always right). ``rename`` maps a live table name to another table of the
    same shape, for rebuilding into scratch tables."""
    closes: dict[str, list[Row]] = defaultdict(list)
    for close in changes.closes:
        closes[close.table].append(
            {**{f"k_{k}": v for k, v in close.key.items()}, "k_known_until": close.known_until}
        )
    for name, params in closes.items():
        table = _table(name, rename)
        key = PROJECTION_KEYS[name]
        statement = (
            update(table)
            .where(
                and_(
                    table.c.known_until.is_(None),
                    *(table.c[k] == bindparam(f"k_{k}") for k in key),
                )
            )
            .values(known_until=bindparam("k_known_until"))
        )
        await conn.execute(statement, params)
    inserts: dict[str, list[Row]] = defaultdict(list)
    for name, row in changes.inserts:
        inserts[name].append(row)
    for name, rows in inserts.items():
        await conn.execute(_table(name, rename).insert(), rows)


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
