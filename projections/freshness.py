"""How fresh a view is: the log position it reflects, and when it may change by itself.

A view of a past instant (``as_of`` given) changes only when the log grows. A view of *now*
also changes with the clock: an agreement becomes effective, the contested window after the
last allegation runs out, a milestone falls due, an event dated in the future comes due, a
conflict's ``quiet_for`` reaches its next whole day or it turns ``stale`` (no report for
``CEASEFIRE_STALE_AFTER``). ``next_change`` finds the earliest such instant from the projection
tables and the log's (conflict, occurred_at) index (a few indexed minimums), so a validator
can say "unchanged until position P moves or until instant U", and a waiter can wake at U.

``snapshot`` gives a connection whose reads all see one state of the database, so a view and
the position it is tagged with always agree.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, Table, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from events.log.positions import LOG_POSITION
from events.log.tables import events
from projections.bitemporal import known_at_condition
from projections.queries.shared import conflict_head
from projections.tables import (
    agreements,
    allegations,
    extensions,
    lulls,
    milestone_updates,
    milestones,
    mission_ends,
    missions,
    reports,
)

__all__ = ["newest_recorded_at", "next_change", "quiet_now", "snapshot", "stream_position"]

_DAY = timedelta(days=1)


def quiet_now(last_report_at: datetime | None, now: datetime) -> timedelta | None:
    """``quiet_for`` in a view of now: whole days (under a day: none), so its bytes change
    once a day; ``next_change`` knows when the next day starts."""
    if last_report_at is None:
        return None
    return (now - last_report_at) // _DAY * _DAY


def _clock_instants(
    reported: Mapping[str, datetime | None], after: datetime, stale_after: timedelta | None
) -> list[datetime]:
    """When a view of now showing these conflicts' last reports changes with the clock alone:
    the next whole day of each one's ``quiet_now``, and the instant each turns stale."""
    instants: list[datetime] = []
    for last in reported.values():
        if last is None:
            continue
        with contextlib.suppress(OverflowError):  # past the last instant a datetime holds
            instants.append(last + ((after - last) // _DAY + 1) * _DAY)
            if stale_after is not None:
                instants.append(last + stale_after)
    return instants


@asynccontextmanager
async def snapshot(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A read connection whose statements all see one snapshot. PostgreSQL: REPEATABLE READ
    (its default, READ COMMITTED, takes a new snapshot per statement). SQLite in WAL mode: the
    read transaction the first statement opens already is one."""
    async with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn = await conn.execution_options(isolation_level="REPEATABLE READ")
        yield conn


async def stream_position(conn: AsyncConnection, conflict: str) -> int:
    """The position of the conflict's newest event; ``UnknownConflictError`` for none
    (``projections.queries.shared.conflict_head``, the one lookup)."""
    return (await conflict_head(conn, conflict))[1]


async def newest_recorded_at(conn: AsyncConnection) -> datetime | None:
    """When the log learned its newest event (None for an empty log): what the log said at an
    earlier ``known_at`` is settled, up to how far appends' clocks may trail each other."""
    return (
        await conn.execute(
            select(events.c.recorded_at).where(events.c.position == LOG_POSITION.scalar_subquery())
        )
    ).scalar_one_or_none()


async def next_change(
    conn: AsyncConnection,
    *,
    conflict: str | Sequence[str] | None,
    after: datetime,
    known_at: datetime | None,
    also: Iterable[datetime | None] = (),
    window: timedelta | None = None,
    reported: Mapping[str, datetime | None] | None = None,
    stale_after: timedelta | None = None,
) -> datetime | None:
    """The earliest instant after ``after`` at which a view of the conflict (of any of several
    conflicts given, of every conflict when None: a scan of the tables, where a few conflicts
    are a few index ranges) as of *now* may change with no new event: a signing, an
    effective_at, an end, an extension, a collapse, a withdrawal, an allegation, its retraction
    or denial, an ongoing violation's end, the end of a report's period, a mission's dispatch
    or end, a milestone falling due, its extension or its meeting dated later than ``after``,
    or any of ``also`` (the end of a contested window, say). Given the contested ``window``,
    also the earliest end of the window after any allegation, any ongoing violation's end and
    any report's period (whichever agreement it contests); an allegation recorded as still
    going on, no end of it known, has none (its end comes with a new event). None when
    nothing is due. It may name an instant at which nothing visible changes; never one later
    than a real change.

    ``reported``: the conflicts the view shows with their ``last_report_at`` (their freshness):
    then also the next event of theirs dated later (of any kind: it is their next report), the
    next whole day of their ``quiet_now``, and, given ``stale_after``, when each turns stale.
    A lull's observation or end dated later is a change like an agreement's."""

    def of_conflict(table: Table) -> list[ColumnElement[bool]]:
        if isinstance(conflict, str):
            return [table.c.conflict == conflict]
        if conflict is not None:
            return [table.c.conflict.in_(list(conflict))]
        return []

    def earliest(
        table: Table, column: str, *extra: ColumnElement[bool], since: datetime = after
    ) -> ScalarSelect[Any]:
        conditions = [table.c[column] > since, known_at_condition(table, known_at), *extra]
        conditions += of_conflict(table)
        return select(func.min(table.c[column])).where(*conditions).scalar_subquery()

    # Every version of an agreement's row known holds one withdrawal's time (departed_at):
    # a withdrawal is never undone, so each version known counts, not the current one only.
    departed = [agreements.c.departed_at > after]
    if known_at is not None:
        departed.append(agreements.c.known_from <= known_at)
    departed += of_conflict(agreements)
    row = (
        await conn.execute(
            select(
                select(func.min(agreements.c.departed_at)).where(*departed).scalar_subquery(),
                earliest(agreements, "signed_at"),
                earliest(agreements, "effective_at"),
                earliest(agreements, "collapsed_at"),
                earliest(agreements, "expires_at"),
                earliest(extensions, "occurred_at"),
                earliest(extensions, "expires_at"),
                earliest(allegations, "occurred_at"),
                earliest(allegations, "retracted_at"),
                earliest(allegations, "denied_at"),
                earliest(missions, "dispatched_at"),
                earliest(mission_ends, "ended_at"),
                earliest(milestones, "due_at"),
                earliest(milestone_updates, "occurred_at"),
                earliest(milestone_updates, "due_at"),
                earliest(allegations, "ended_at"),
                earliest(reports, "period_to"),
                earliest(lulls, "observed_at"),
                earliest(lulls, "ended_at"),
                _next_report(reported, after, known_at),
                # (One going on with no end known yet has no window end: its end comes with
                # an incident.ended, a new event.)
                earliest(
                    allegations,
                    "occurred_at",
                    or_(allegations.c.ongoing.is_(False), allegations.c.ended_at.is_not(None)),
                    since=after - (window or timedelta(0)),
                ),
                earliest(allegations, "ended_at", since=after - (window or timedelta(0))),
                earliest(reports, "period_to", since=after - (window or timedelta(0))),
            )
        )
    ).one()
    *due, recent, recent_end, recent_report = row
    if reported:
        due.extend(_clock_instants(reported, after, stale_after))
    window_ends = []
    for last in (recent, recent_end, recent_report):
        if (
            window is not None
            and last is not None
            and last < datetime.max.replace(tzinfo=last.tzinfo) - window
        ):  # a window ending past the last instant a datetime holds never ends
            window_ends.append(last + window)
    candidates = [c for c in (*due, *also, *window_ends) if c is not None and c > after]
    return min(candidates, default=None)


def _next_report(
    reported: Mapping[str, datetime | None] | None, after: datetime, known_at: datetime | None
) -> ScalarSelect[Any]:
    """The earliest event of the ``reported`` conflicts dated after ``after``: a probe of the
    (conflict, occurred_at) index per conflict (NULL when none is asked)."""
    e = events.c
    conditions = [e.conflict.in_(list(reported or ())), e.occurred_at > after]
    if known_at is not None:
        conditions.append(e.recorded_at <= known_at)
    return select(func.min(e.occurred_at)).where(*conditions).scalar_subquery()
