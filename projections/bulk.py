"""Row changes written in bulk: the replay's way to write a batch of the fold's ``Changes``.

Closes as one ``executemany`` per table, inserts as ``COPY`` (PostgreSQL) or one
``executemany`` (SQLite), with SQLAlchemy's own value conversion, into the live tables or the
scratch tables of a rebuild (``targets``).
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from events.tables import metadata
from projections.changes import Changes
from projections.driver import RawConnection
from projections.gc_pause import gc_paused

__all__ = ["BulkWriter"]


class BulkWriter:
    """Row changes written fast: closes as one ``executemany`` per table, inserts as ``COPY``
    (PostgreSQL) or one ``executemany`` (SQLite), with SQLAlchemy's own value conversion."""

    def __init__(self, conn: RawConnection, targets: dict[str, str]) -> None:
        self.conn = conn
        self.targets = targets
        self._processors: dict[tuple[str, tuple[str, ...]], list[Any]] = {}

    def _convert(self, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> Any:
        key = (table, columns)
        processors = self._processors.get(key)
        if processors is None:
            processors = self._processors[key] = self.conn.bind_processors(
                metadata.tables[table], columns
            )
        if not any(processors):  # PostgreSQL: the values go to COPY as they are
            return rows
        return self.conn.convert(rows, processors)

    async def write(self, changes: Changes) -> None:
        with gc_paused():  # see gc_pause: thousands of tuples, none of them in a cycle
            closes, inserts = self._statements(changes)
        for statement, params in closes:
            await self.conn.executemany(statement, params)
        for table, columns, values in inserts:
            await self.conn.insert_rows(table, columns, values)

    def _statements(
        self, changes: Changes
    ) -> tuple[list[tuple[str, Any]], list[tuple[str, tuple[str, ...], Any]]]:
        """The closes as (UPDATE statement, parameters) and the inserts as (table, columns,
        rows), per table, with the values converted for the driver."""
        closes: dict[str, list[tuple[Any, ...]]] = {}
        close_columns: dict[str, tuple[str, ...]] = {}
        for close in changes.closes:
            if close.table not in self.targets:
                continue
            columns = ("known_until", *close.key)
            close_columns[close.table] = columns
            closes.setdefault(close.table, []).append((close.known_until, *close.key.values()))
        updates = []
        for table, params in closes.items():
            columns = close_columns[table]
            where = " AND ".join(f'"{c}" = ${i}' for i, c in enumerate(columns[1:], start=2))
            updates.append(
                (
                    f'UPDATE "{self.targets[table]}" SET known_until = $1 '
                    f"WHERE known_until IS NULL AND {where}",
                    self._convert(table, columns, params),
                )
            )
        inserts: dict[str, list[dict[str, Any]]] = {}
        for table, row in changes.inserts:
            if table in self.targets:
                inserts.setdefault(table, []).append(row)
        copies = []
        for table, rows in inserts.items():
            for columns, values in _by_columns(rows).items():
                copies.append((self.targets[table], columns, self._convert(table, columns, values)))
        return updates, copies


def _by_columns(rows: list[dict[str, Any]]) -> dict[tuple[str, ...], list[tuple[Any, ...]]]:
    """The rows' values grouped by their columns. A fold writes every row of a table with the
    same columns, so that case takes one ``itemgetter`` pass; others are grouped row by row."""
    columns = tuple(rows[0])
    width = len(columns)
    if all(len(row) == width for row in rows):
        values = itemgetter(*columns)
        try:
            if width == 1:
                return {columns: [(values(row),) for row in rows]}
            return {columns: [values(row) for row in rows]}
        except KeyError:
            pass  # a row with another column: group them one by one
    groups: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
    for row in rows:
        groups.setdefault(tuple(row), []).append(tuple(row.values()))
    return groups
