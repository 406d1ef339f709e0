"""Row changes written in bulk: the replay's way to write a batch of the fold's ``Changes``,
into the live tables or the scratch tables of a rebuild (``targets``).

- SQLite: the one SQLite applier, ``projections.sqlite_changes``, which the append runs too.
- PostgreSQL: closes as one ``executemany`` per table, inserts as ``COPY``, the values as the
  fold made them (asyncpg encodes aware datetimes, UUIDs and booleans itself). The append's
  applier there is the ``ceasefire_append`` function (migration 0001), which appends events
  and moves the checkpoint in the same call and writes through ``jsonb_populate_recordset``:
  it cannot write a batch of rows alone, and ``COPY`` is what makes a replay fast.
"""

from __future__ import annotations

from events.log.gc_pause import gc_paused
from projections.changes import Changes
from projections.driver import RawConnection
from projections.sqlite_changes import sqlite_statements
from projections.tables import PROJECTION_KEYS

__all__ = ["BulkWriter"]


class BulkWriter:
    """Writes a replay batch's row changes to ``targets`` (live table -> table to write)."""

    def __init__(self, conn: RawConnection, targets: dict[str, str]) -> None:
        self.conn = conn
        self.targets = targets

    async def write(self, changes: Changes) -> None:
        if self.conn.dialect == "postgresql":
            await self._write_postgresql(changes)
            return
        with gc_paused(promote=True):  # see gc_pause: thousands of rows, none of them in a cycle
            statements = sqlite_statements(changes, self.targets)
        for statement, params in statements:
            await self.conn.executemany(statement, params)

    async def _write_postgresql(self, changes: Changes) -> None:
        with gc_paused(promote=True):
            grouped = changes.grouped(self.targets)
        for table, params in grouped.closes.items():
            await self.conn.executemany(_postgresql_close(self.targets[table], table), params)
        for table, groups in grouped.inserts.items():
            for columns, values in groups.items():
                await self.conn.insert_rows(self.targets[table], columns, values)


def _postgresql_close(target: str, table: str) -> str:
    where = " AND ".join(f'"{k}" = ${i}' for i, k in enumerate(PROJECTION_KEYS[table], start=2))
    return f'UPDATE "{target}" SET known_until = $1 WHERE known_until IS NULL AND {where}'
