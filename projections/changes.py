"""Row changes: what a fold asks the database to do, as plain data.

A fold never touches the database. It returns ``Changes``: row versions to close and row
versions to insert, per projection table. The store applies them in the append transaction
(and the replay applies them in batches), so the live path and the replay write exactly the
same rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["Changes", "Close", "Row"]

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

    def close(self, table: str, key: Row, known_until: datetime) -> None:
        """Close the current version of a row. A version inserted earlier in these same changes
        is closed in place, so a batch can always be applied as "all closes, then all inserts"
        (one statement per table) and still mean the same as applying it event by event."""
        for pending_table, row in reversed(self.inserts):
            if (
                pending_table == table
                and row["known_until"] is None
                and all(row[k] == v for k, v in key.items())
            ):
                row["known_until"] = known_until
                return
        self.closes.append(Close(table, key, known_until))

    def insert(self, table: str, row: Row) -> None:
        self.inserts.append((table, row))

    def merge(self, later: Changes) -> None:
        """Append changes made after these ones, keeping the closes-then-inserts invariant."""
        for close in later.closes:
            self.close(close.table, close.key, close.known_until)
        self.inserts.extend(later.inserts)

    def __bool__(self) -> bool:
        return bool(self.closes or self.inserts)
