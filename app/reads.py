"""The representations conditional reads serve: each view's JSON bytes with its validator.

Each one is built inside one database snapshot (``projections.freshness.snapshot``), so the
body and the position it is tagged with always agree; views of *now* also carry the instant
until which the clock alone cannot change them. A view asked without ``as_of`` says
``"as_of": null`` (now) rather than the instant it was read, so equal states have equal bytes
and a strong ETag can stand for them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine

from app.conditional import Representation, Validator
from events.errors import UnknownConflictError
from events.heads import Heads
from events.store import storage_errors
from projections.freshness import log_position, next_change, snapshot, stream_position
from projections.queries import list_conflicts, read_allegations, read_status
from projections.timeline import read_timeline

__all__ = [
    "allegations",
    "conflict_head",
    "conflicts",
    "log_head",
    "status",
    "timeline",
]


def _bytes(model: BaseModel | list[BaseModel]) -> bytes:
    if isinstance(model, list):
        return b"[" + b",".join(m.model_dump_json().encode() for m in model) + b"]"
    return model.model_dump_json().encode()


async def conflict_head(heads: Heads, conflict: str) -> int:
    """The position of the conflict's newest event (one indexed lookup); 404 for none."""
    head = await heads.stream(conflict)
    if head is None:
        raise UnknownConflictError(conflict)
    return head


async def log_head(heads: Heads) -> int:
    return await heads.log()


async def status(
    engine: AsyncEngine,
    conflict: str,
    *,
    as_of: datetime | None,
    known_at: datetime | None,
    window: timedelta,
) -> Representation:
    with storage_errors():
        async with snapshot(engine) as conn:
            position = await stream_position(conn, conflict)
            now = datetime.now(UTC)
            view = await read_status(
                conn, conflict, as_of=as_of or now, known_at=known_at, window=window
            )
            until = None
            if as_of is None:
                last = view.last_allegation_at
                until = await next_change(
                    conn,
                    conflict=conflict,
                    after=now,
                    known_at=known_at,
                    also=[None if last is None else last + window],
                )
                view = view.model_copy(update={"as_of": None})
    return Representation(_bytes(view), Validator(position, until))


async def allegations(
    engine: AsyncEngine, conflict: str, *, as_of: datetime | None, known_at: datetime | None
) -> Representation:
    with storage_errors():
        async with snapshot(engine) as conn:
            position = await stream_position(conn, conflict)
            now = datetime.now(UTC)
            view = await read_allegations(conn, conflict, as_of=as_of or now, known_at=known_at)
            until = None
            if as_of is None:
                until = await next_change(conn, conflict=conflict, after=now, known_at=known_at)
                view = view.model_copy(update={"as_of": None})
    return Representation(_bytes(view), Validator(position, until))


async def conflicts(engine: AsyncEngine, *, window: timedelta) -> Representation:
    with storage_errors():
        async with snapshot(engine) as conn:
            position = await log_position(conn)
            now = datetime.now(UTC)
            summaries = await list_conflicts(conn, as_of=now, window=window)
            until = await next_change(
                conn,
                conflict=None,
                after=now,
                known_at=None,
                also=[
                    s.last_allegation_at + window
                    for s in summaries
                    if s.last_allegation_at is not None
                ],
            )
    return Representation(_bytes(list(summaries)), Validator(position, until))


async def timeline(
    engine: AsyncEngine, conflict: str, *, known_at: datetime | None, window: timedelta
) -> Representation:
    with storage_errors():
        async with snapshot(engine) as conn:
            view, position = await read_timeline(conn, conflict, known_at=known_at, window=window)
    return Representation(_bytes(view), Validator(position))
