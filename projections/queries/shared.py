"""What every read of a conflict starts with: its head (so the data is never older than the
position it is tagged with), its missions (the monitors of its agreements, whose findings are
not a party's claim), a glance at the rest (its title, its latest times, what it has), and the
period a view may be asked to count over."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Exists,
    ScalarSelect,
    Select,
    Table,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from events.log.positions import stream_head
from events.log.tables import events
from events.model.errors import UnknownConflictError
from projections.bitemporal import AS_OF, CONFLICT, by_knowledge, known_at_condition, read_params
from projections.tables import (
    allegations,
    descriptions,
    lulls,
    milestones,
    mission_ends,
    missions,
    reports,
)
from projections.views import DescriptionView, MissionView

__all__ = [
    "ALL_TIME",
    "Glance",
    "Missions",
    "Period",
    "conflict_head",
    "read_glance",
    "read_missions",
    "read_monitors",
    "standing_now",
]


class Period(NamedTuple):
    """What a view counts over: what occurred in [``start``, ``end``); None on a side, no bound
    there. The API's ``from`` and ``to``, checked (``start`` before ``end``) where they are read."""

    start: datetime | None = None
    end: datetime | None = None


#: No bound on either side: everything by ``as_of``.
ALL_TIME = Period()


def standing_now(as_of: datetime | BindParameter[datetime]) -> ColumnElement[bool]:
    """An allegation not retracted by ``as_of`` (a retraction shows from its own
    occurred_at)."""
    return or_(allegations.c.retracted_at.is_(None), allegations.c.retracted_at > as_of)


async def conflict_head(
    conn: AsyncConnection,
    conflict: str,
    known_at: datetime | None = None,
    *,
    head: tuple[int, int] | None = None,
) -> tuple[int, int]:
    """``(version, position)`` of the conflict's newest event known at ``known_at``.
    ``UnknownConflictError`` when the conflict has no events at all.

    The one lookup of a conflict's head inside a read's snapshot (``events.log.heads.Heads`` is
    the one outside it, for the ETag check). ``head``: the conflict's newest ``(version,
    position)`` already looked up in this snapshot, so a read that tags its body with it does
    not look it up again."""
    if head is None:
        head = await stream_head(conn, conflict)
        if head is None:
            raise UnknownConflictError(conflict)
    if known_at is None:
        return head
    known = (
        await conn.execute(
            select(events.c.version, events.c.position)
            .where(events.c.conflict == conflict, events.c.recorded_at <= known_at)
            .order_by(events.c.recorded_at.desc(), events.c.version.desc())
            .limit(1)
        )
    ).one_or_none()
    return (0, 0) if known is None else (int(known.version), int(known.position))


@dataclass(frozen=True)
class Missions:
    """The missions dispatched to a conflict by ``as_of``, read once for both of their uses."""

    #: Per agreement, the organizations (every one, ``organizations`` too) of the missions
    #: dispatched to monitor it, ended or not: their findings count as a monitor's, not a
    #: party's claim.
    monitors: dict[str, list[str]]
    #: Those not ended by ``as_of``, in order of dispatch.
    active: list[MissionView]


def _missions(known_at: BindParameter[datetime] | None) -> Select[Any]:
    m = missions.c
    ended = (
        select(mission_ends.c.mission_id)
        .where(
            mission_ends.c.conflict == CONFLICT,
            mission_ends.c.mission_id == m.mission_id,
            mission_ends.c.ended_at <= AS_OF,
            known_at_condition(mission_ends, known_at),
        )
        .exists()
    )
    return (
        select(missions, ended.label("ended"))
        .where(
            m.conflict == CONFLICT,
            m.dispatched_at <= AS_OF,
            known_at_condition(missions, known_at),
        )
        .order_by(m.dispatched_at, m.version)
    )


_MISSIONS = by_knowledge(_missions)


async def read_missions(
    conn: AsyncConnection, conflict: str, as_of: datetime, known_at: datetime | None
) -> Missions:
    """The conflict's missions at ``as_of`` as the log held them at ``known_at``: one indexed
    lookup, each row with whether it had ended."""
    rows = await conn.execute(_MISSIONS(known_at), read_params(conflict, as_of, known_at))
    monitors: dict[str, list[str]] = {}
    active: list[MissionView] = []
    for row in rows.mappings():
        others: list[str] = json.loads(row["organizations"] or "[]")
        if row["agreement_id"] is not None:
            monitors.setdefault(row["agreement_id"], []).extend([row["organization"], *others])
        if not row["ended"]:
            active.append(MissionView.model_validate({**row, "organizations": others}))
    return Missions(monitors, active)


async def read_monitors(
    conn: AsyncConnection, conflict: str, as_of: datetime, known_at: datetime | None
) -> dict[str, list[str]]:
    """Per agreement, the organizations of the missions dispatched to monitor it by ``as_of``
    (``Missions.monitors``)."""
    return (await read_missions(conn, conflict, as_of, known_at)).monitors


@dataclass(frozen=True)
class Glance:
    """What a status read wants of a conflict beside its agreements, allegations and missions,
    looked up in one round trip: each part one indexed lookup or one backward walk of an
    index, so that what most conflicts lack (milestones, reports, lulls) costs a probe rather
    than a query of its own."""

    #: Its latest description (its title) known at ``known_at`` (None: never described).
    description: DescriptionView | None
    #: When its latest allegation occurred by ``as_of``, under whichever agreement or none
    #: (retracted ones aside).
    last_allegation_at: datetime | None
    #: When its latest event of any kind occurred by ``as_of`` (its freshness).
    last_report_at: datetime | None
    has_milestones: bool
    #: A report whose period ended by ``as_of``.
    has_reports: bool
    has_lulls: bool


def _glance(known_at: BindParameter[datetime] | None) -> Select[Any]:
    a, e, d = allegations.c, events.c, descriptions.c

    def described(column: ColumnElement[Any]) -> ScalarSelect[Any]:
        return (
            select(column)
            .where(d.conflict == CONFLICT, known_at_condition(descriptions, known_at))
            .scalar_subquery()
        )

    def probe(table: Table, *where: ColumnElement[bool]) -> Exists:
        return (
            select(table.c.conflict)
            .where(table.c.conflict == CONFLICT, known_at_condition(table, known_at), *where)
            .exists()
        )

    allegation = (
        select(a.occurred_at)
        .where(
            a.conflict == CONFLICT,
            a.occurred_at <= AS_OF,
            standing_now(AS_OF),
            known_at_condition(allegations, known_at),
        )
        .order_by(a.occurred_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    report = select(e.occurred_at).where(e.conflict == CONFLICT, e.occurred_at <= AS_OF)
    if known_at is not None:
        report = report.where(e.recorded_at <= known_at)
    return select(
        described(d.title),
        described(d.summary),
        described(d.countries),
        described(d.region),
        allegation,
        report.order_by(e.occurred_at.desc()).limit(1).scalar_subquery(),
        probe(milestones),
        probe(reports, reports.c.period_to <= AS_OF),
        probe(lulls),
    )


_GLANCE = by_knowledge(_glance)


async def read_glance(
    conn: AsyncConnection, conflict: str, *, as_of: datetime, known_at: datetime | None
) -> Glance:
    """The conflict's ``Glance`` at ``as_of`` as the log held it at ``known_at``."""
    row = (await conn.execute(_GLANCE(known_at), read_params(conflict, as_of, known_at))).one()
    title, summary, countries, region, last_allegation, last_report, *has = row
    return Glance(
        description=None
        if title is None
        else DescriptionView(
            title=title, summary=summary, countries=json.loads(countries), region=region
        ),
        last_allegation_at=last_allegation,
        last_report_at=last_report,
        has_milestones=bool(has[0]),
        has_reports=bool(has[1]),
        has_lulls=bool(has[2]),
    )
