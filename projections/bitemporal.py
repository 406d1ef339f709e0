"""The bitemporal pair every projection table has (``known_between``), and the reading of it:
the row versions the log held at a ``known_at`` (``known_at_condition``), and the statements
built once per shape and run with a read's conflict, ``as_of`` and ``known_at``
(``by_knowledge``, ``read_params``).

Apart from the tables (``projections.tables``) because every query, the inline projection and
the freshness of a view read through these, whichever table they read.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import BindParameter, Column, ColumnElement, String, Table, and_, bindparam, or_

from events.log.tables import UtcDateTime

__all__ = [
    "AS_OF",
    "CONFLICT",
    "KNOWN_AT",
    "by_knowledge",
    "known_at_condition",
    "known_between",
    "read_params",
]


S = TypeVar("S")


def known_between() -> tuple[Column[datetime], Column[datetime]]:
    """The bitemporal pair every projection table has: ``known_from`` (when the log said it)
    and ``known_until`` (when it stopped saying it; NULL while current). Each table keeps it
    where its migration put it, beside its ``version``; ``known_at_condition`` reads it."""
    return (
        Column("known_from", UtcDateTime, nullable=False),
        Column("known_until", UtcDateTime, nullable=True),
    )


#: The parameters of the reads built once and run many times (``Read``): a read's conflict,
#: ``as_of`` and ``known_at``, given at execution (``Read.params``). Building a statement costs
#: more than running it on a conflict's few rows.
CONFLICT: BindParameter[str] = bindparam("conflict", type_=String())
AS_OF: BindParameter[datetime] = bindparam("as_of", type_=UtcDateTime())
KNOWN_AT: BindParameter[datetime] = bindparam("known_at", type_=UtcDateTime())


def by_knowledge(
    build: Callable[[BindParameter[datetime] | None], S],
) -> Callable[[datetime | None], S]:
    """A statement built once for each of its two shapes, as the log is now (``known_at`` None)
    and as it was at a ``known_at`` (``KNOWN_AT``): ``build`` gets ``KNOWN_AT`` or None."""
    shapes = (build(None), build(KNOWN_AT))
    return lambda known_at: shapes[known_at is not None]


def read_params(
    conflict: str, as_of: datetime | None = None, known_at: datetime | None = None
) -> dict[str, Any]:
    """The parameters of a ``by_knowledge`` statement (one that lacks some ignores them)."""
    return {"conflict": conflict, "as_of": as_of, "known_at": known_at}


def known_at_condition(
    table: Table, known_at: datetime | BindParameter[datetime] | None
) -> ColumnElement[bool]:
    """The row versions the log held at ``known_at`` (None: the current ones)."""
    if known_at is None:
        return table.c.known_until.is_(None)
    return and_(
        table.c.known_from <= known_at,
        or_(table.c.known_until.is_(None), table.c.known_until > known_at),
    )
