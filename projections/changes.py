"""Row changes: what a fold asks the database to do, as plain data.

A fold never touches the database. It returns ``Changes``: row versions to close and row
versions to insert, per projection table. The store applies them in the append transaction
(and the replay applies them in batches), so the live path and the replay write exactly the
same rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from typing import Any

from projections.tables import PROJECTION_KEYS

__all__ = ["Changes", "Close", "Grouped", "Row", "by_columns"]

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Close:
    """Close the current version (``known_until IS NULL``) of the row named by ``key``."""

    table: str
    key: Row
    known_until: datetime


@dataclass(slots=True)
class Changes:
    closes: list[Close] = field(default_factory=list)
    inserts: list[tuple[str, Row]] = field(default_factory=list)
    #: The open row versions inserted here, by table and key (``PROJECTION_KEYS``), latest last,
    #: for ``inserts[:_indexed]``: a close finds the one it names at once instead of scanning
    #: every insert (a replay batch holds thousands). Built on the first close only, so changes
    #: that close nothing never pay for it.
    _open: dict[tuple[str, Any], list[Row]] = field(default_factory=dict, repr=False, compare=False)
    _indexed: int = field(default=0, repr=False, compare=False)
    #: Tables with an insert that could not be indexed: their closes scan instead.
    _unindexed: set[str] = field(default_factory=set, repr=False, compare=False)

    def close(self, table: str, key: Row, known_until: datetime) -> None:
        """Close the current version of a row. A version inserted earlier in these same changes
        is closed in place, so a batch can always be applied as "all closes, then all inserts"
        (one statement per table) and still mean the same as applying it event by event."""
        name = _name(table, key) if set(key) == set(PROJECTION_KEYS.get(table, ())) else None
        if name is not None:
            self._index()
        if name is not None and table not in self._unindexed:
            stack = self._open.get(name)
            while stack:
                row = stack.pop()
                if row["known_until"] is None:
                    row["known_until"] = known_until
                    return
        else:
            for pending_table, row in reversed(self.inserts):
                if (
                    pending_table == table
                    and row["known_until"] is None
                    and all(row[k] == v for k, v in key.items())
                ):
                    row["known_until"] = known_until
                    return
        self.closes.append(Close(table, key, known_until))

    def _index(self) -> None:
        # _name inlined: in a replay batch this runs once for nearly every row inserted.
        inserts, index, getters = self.inserts, self._open, _KEY_GETTERS
        for position in range(self._indexed, len(inserts)):
            table, row = inserts[position]
            if row.get("known_until") is not None:
                continue
            getter = getters.get(table)
            try:
                name = (table, getter(row)) if getter is not None else None
            except KeyError:
                name = None
            if name is None:
                self._unindexed.add(table)
                continue
            stack = index.get(name)
            if stack is None:
                index[name] = [row]
            else:
                stack.append(row)
        self._indexed = len(inserts)

    def insert(self, table: str, row: Row) -> None:
        self.inserts.append((table, row))

    def merge(self, later: Changes) -> None:
        """Append changes made after these ones, keeping the closes-then-inserts invariant."""
        for close in later.closes:
            self.close(close.table, close.key, close.known_until)
        self.inserts.extend(later.inserts)

    def __bool__(self) -> bool:
        return bool(self.closes or self.inserts)

    def grouped(self, targets: Mapping[str, str]) -> Grouped:
        """The changes per table, as each database's applier writes them (one statement per
        table and column set), for the tables in ``targets`` only. A table that is not a
        projection's is refused: appliers build their statements from these names."""
        closes: dict[str, list[tuple[Any, ...]]] = {}
        for close in self.closes:
            table = _projection_table(close.table)
            if table in targets:
                key = close.key
                closes.setdefault(table, []).append(
                    (close.known_until, *[key[k] for k in PROJECTION_KEYS[table]])
                )
        rows: dict[str, list[Row]] = {}
        for table, row in self.inserts:
            if _projection_table(table) in targets:
                rows.setdefault(table, []).append(row)
        return Grouped(closes, {table: by_columns(group) for table, group in rows.items()})


@dataclass(frozen=True, slots=True)
class Grouped:
    """``Changes`` per table: to apply them, all the closes, then all the inserts."""

    #: Per table, each close as (known_until, *its key's values in ``PROJECTION_KEYS`` order).
    closes: dict[str, list[tuple[Any, ...]]]
    #: Per table and column set, the rows to insert as tuples of those columns' values.
    inserts: dict[str, dict[tuple[str, ...], list[tuple[Any, ...]]]]


def by_columns(rows: list[Row]) -> dict[tuple[str, ...], list[tuple[Any, ...]]]:
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


def _projection_table(table: str) -> str:
    if table not in PROJECTION_KEYS:
        raise ValueError(f"not a projection table: {table}")
    return table


def _name(table: str, values: Row) -> tuple[str, Any] | None:
    """(table, the values of its key columns) when ``values`` holds them all."""
    getter = _KEY_GETTERS.get(table)
    if getter is None:
        return None
    try:
        return table, getter(values)
    except KeyError:
        return None


#: Per table, a function from a row (or a key) to its key columns' values.
_KEY_GETTERS = {table: itemgetter(*columns) for table, columns in PROJECTION_KEYS.items()}
