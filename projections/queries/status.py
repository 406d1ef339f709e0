"""A conflict's status at ``as_of`` (its standing, its agreements, the counts under the current
one, its active missions) and the list of conflicts with theirs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, false, func, literal, null, or_, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from events.log.tables import record_of, streams
from events.model.state import AgreementState
from projections.bitemporal import known_at_condition
from projections.filing import Filing, contests, role_of
from projections.findings import weight_of
from projections.inline import load_agreements, load_lulls
from projections.queries.reports import FiledReport, read_reports, reported_totals, tally_weight
from projections.queries.shared import conflict_head, read_glance, read_missions, standing_now
from projections.standing import conflict_standing, contested_run_start
from projections.tables import allegations
from projections.views import (
    AgreementView,
    ConflictSummary,
    ContestTally,
    LullView,
    PartyCounts,
    StatusView,
    tally,
)

__all__ = ["DEFAULT_STALE_AFTER", "list_conflicts", "read_status"]

#: ``CEASEFIRE_STALE_AFTER``'s default: a conflict with no report for this long is ``stale``.
DEFAULT_STALE_AFTER = timedelta(days=30)


def _under(filing: Filing, wanted: Iterable[str]) -> tuple[Any, ColumnElement[bool]]:
    """The SQL spelling of ``filing``, restricted to the agreements ``wanted``: the id of the
    agreement each allegation belongs to, and the condition selecting those that belong to one
    of them. Range conditions on occurred_at over a conflict's few agreements: indexed."""
    wanted = list(wanted)
    a = allegations.c
    whens: list[tuple[ColumnElement[bool], Any]] = [(a.agreement_id.is_not(None), a.agreement_id)]
    implicit: list[ColumnElement[bool]] = []
    for agreement_id in wanted:
        for start, end, keys in filing.spans_of(agreement_id):
            within = and_(
                a.occurred_at >= start,
                true() if end is None else a.occurred_at < end,
                a.accused_key.in_(keys),
            )
            whens.append((within, literal(agreement_id)))
            implicit.append(within)
    filed = case(*whens, else_=null())
    condition = or_(
        a.agreement_id.in_(wanted), and_(a.agreement_id.is_(None), or_(false(), *implicit))
    )
    return filed, condition


def _open_ended() -> ColumnElement[bool]:
    """An allegation recorded as still going on whose end no row version known gives yet: it
    goes on through every as_of."""
    return and_(allegations.c.ongoing.is_(True), allegations.c.ended_at.is_(None))


@dataclass
class _Under:
    """What the allegations under one agreement add up to at ``as_of``."""

    counts: dict[str, PartyCounts] = field(default_factory=dict)
    last: datetime | None = None
    #: The latest instant by as_of at which an allegation contesting it occurred or went on.
    last_contesting: datetime | None = None
    #: Its allegations (and reports) by weight: claims, findings, third_party.
    weighed: dict[str, ContestTally] = field(default_factory=dict)
    reports: list[FiledReport] = field(default_factory=list)

    def contested_at(self, at: datetime) -> None:
        if self.last_contesting is None or at > self.last_contesting:
            self.last_contesting = at


async def _tallies(
    conn: AsyncConnection,
    conflict: str,
    filing: Filing,
    wanted: list[AgreementState],
    monitors: dict[str, list[str]],
    as_of: datetime,
    known_at: datetime | None,
) -> dict[str, _Under]:
    """Per agreement wanted, its allegations' counts per party and the latest ones: one
    grouped query whose rows are (agreement, author, accused) pairs."""
    under = {a.agreement_id: _Under({p: PartyCounts() for p in a.parties}) for a in wanted}
    if not wanted:
        return under
    filed, condition = _under(filing, under)
    a = allegations.c
    rows = await conn.execute(
        select(
            filed,
            a.alleged_by,
            a.accused,
            func.count(),
            func.sum(a.incidents),
            func.max(a.occurred_at),
            func.sum(case((a.denied_at <= as_of, 1), else_=0)),
            func.max(a.ended_at),
            func.max(case((_open_ended(), 1), else_=0)),
        )
        .where(
            a.conflict == conflict,
            a.occurred_at <= as_of,
            standing_now(as_of),
            known_at_condition(allegations, known_at),
            condition,
        )
        .group_by(filed, a.alleged_by, a.accused)
    )
    by_id = {a.agreement_id: a for a in wanted}
    for agreement_id, alleged_by, accused, n, incidents, latest, denied, ended, open_ in rows:
        agreement = by_id.get(agreement_id)
        if agreement is None:
            continue
        role = role_of(agreement, alleged_by, monitors.get(agreement_id, ()))
        into = under[agreement_id]
        tally(
            into.counts,
            agreement.party(alleged_by) or alleged_by,
            agreement.party(accused) or accused,
            int(n),
            int(incidents),
            party_claim=role == "party",
            denied=int(denied or 0),
        )
        into.last = latest if into.last is None or latest > into.last else into.last
        tally_weight(into.weighed, weight_of(role), int(n), latest, alleged_by)
        if contests(role):
            # An ongoing violation goes on until its end (ends are never before occurrences),
            # one recorded going on with no end known yet through as_of.
            goes_on = latest if ended is None or ended < latest else ended
            into.contested_at(as_of if open_ else min(goes_on, as_of))
    return under


async def _contesting_times(
    conn: AsyncConnection,
    conflict: str,
    filing: Filing,
    national: list[AgreementState],
    monitors: dict[str, list[str]],
    as_of: datetime,
    known_at: datetime | None,
    window: timedelta,
    under: dict[str, _Under],
) -> tuple[list[datetime], list[tuple[datetime, datetime]]]:
    """When the allegations contesting the national agreements occurred, newest first, back
    to the first gap of ``window`` or more, and the (start, end) of every ongoing one (few,
    read at once; one with no end known yet ends at ``as_of``); reports count at their
    period's end. Only read when the conflict is contested, to say since when. Its cost grows
    with the length of the contested run, read in pages that grow fourfold."""
    filed, condition = _under(filing, [a.agreement_id for a in national])
    by_id = {a.agreement_id: a for a in national}
    a = allegations.c
    common = (
        a.conflict == conflict,
        standing_now(as_of),
        known_at_condition(allegations, known_at),
        condition,
    )

    decided: dict[tuple[str, str | None], bool] = {}  # a run has few (author, agreement) pairs

    def contesting(alleged_by: str, agreement_id: str | None) -> bool:
        key = (alleged_by, agreement_id)
        if key not in decided:
            agreement = by_id.get(agreement_id) if agreement_id is not None else None
            decided[key] = agreement is not None and contests(
                role_of(agreement, alleged_by, monitors.get(agreement.agreement_id, ()))
            )
        return decided[key]

    spans = [
        (occurred_at, as_of if ended_at is None else ended_at)
        for occurred_at, ended_at, alleged_by, agreement_id in await conn.execute(
            select(a.occurred_at, a.ended_at, a.alleged_by, filed).where(
                *common, a.occurred_at <= as_of, or_(a.ended_at.is_not(None), _open_ended())
            )
        )
        if contesting(alleged_by, agreement_id)
    ]
    times = sorted(
        (
            f.view.period_to
            for u in (under[n.agreement_id] for n in national if n.agreement_id in under)
            for f in u.reports
            if f.view.count > 0
        ),
        reverse=True,
    )
    paged: list[datetime] = []
    before, page = as_of, _FIRST_PAGE
    while True:
        rows = (
            await conn.execute(
                select(a.occurred_at, a.alleged_by, filed)
                .where(
                    *common,
                    a.occurred_at <= before,
                    a.ended_at.is_(None),
                    a.ongoing.is_(False),
                )
                .order_by(a.occurred_at.desc())
                .limit(page)
            )
        ).all()
        paged.extend(
            occurred_at
            for occurred_at, alleged_by, agreement_id in rows
            if contesting(alleged_by, agreement_id)
        )
        if len(rows) < page:
            break
        oldest = rows[-1].occurred_at
        since = contested_run_start([*times, *paged], spans, as_of, window)
        if since is not None and since - oldest >= window:
            break
        before = oldest - timedelta(microseconds=1)
        page *= 4  # a short run costs one small page, a long one few round trips
    return sorted([*times, *paged], reverse=True), spans


#: The first page of ``_contesting_times``; each next one is four times longer.
_FIRST_PAGE = 500


async def read_status(
    conn: AsyncConnection,
    conflict: str,
    *,
    as_of: datetime,
    known_at: datetime | None,
    window: timedelta,
    head: tuple[int, int] | None = None,
    stale_after: timedelta = DEFAULT_STALE_AFTER,
) -> StatusView:
    """``head``: the conflict's ``(version, position)`` when the caller looked it up already in
    this snapshot (``conflict_head``). ``stale_after``: how long without a report makes the
    view ``stale``."""
    version, position = await conflict_head(conn, conflict, known_at, head=head)
    glance = await read_glance(conn, conflict, as_of=as_of, known_at=known_at)
    known = await load_agreements(conn, conflict, known_at, with_milestones=glance.has_milestones)
    visible = [a for a in known.values() if a.signed_at <= as_of]
    filing = Filing(known.values())
    dispatched = await read_missions(conn, conflict, as_of, known_at)
    monitors = dispatched.monitors
    under = await _tallies(conn, conflict, filing, visible, monitors, as_of, known_at)
    filed = (
        await read_reports(
            conn,
            conflict,
            {a.agreement_id: a for a in visible},
            monitors,
            as_of=as_of,
            known_at=known_at,
        )
        if visible and glance.has_reports
        else []
    )
    for report in filed:
        found, role = report.view, report.view.role
        if report.agreement_id is None or role is None:
            continue
        into = under[report.agreement_id]
        into.reports.append(report)
        tally_weight(into.weighed, weight_of(role), 1, found.period_to, found.reported_by)
        if found.count > 0 and contests(role):
            into.contested_at(found.period_to)
    last_contesting = {
        k: u.last_contesting for k, u in under.items() if u.last_contesting is not None
    }
    standing = conflict_standing(visible, as_of, last_contesting, window)
    if standing.state == "contested":
        national = [a for a in visible if a.national]
        times, spans = await _contesting_times(
            conn, conflict, filing, national, monitors, as_of, known_at, window, under
        )
        standing = conflict_standing(visible, as_of, last_contesting, window, times, spans)
    if glance.has_lulls and standing.state not in ("holding", "contested"):
        # An agreement in effect wins: no lull.
        lulls = (await load_lulls(conn, conflict, known_at)).values()
        standing = conflict_standing(visible, as_of, last_contesting, window, lulls=lulls)
    current = standing.agreement
    states = {s.agreement.agreement_id: s.state for s in standing.agreements}
    counts: dict[str, PartyCounts] = {}
    last_under: datetime | None = None
    if current is not None:
        counts, last_under = under[current.agreement_id].counts, under[current.agreement_id].last
    described = glance.description

    def view(agreement: AgreementState) -> AgreementView:
        u = under[agreement.agreement_id]
        return AgreementView.of(
            agreement,
            as_of,
            states[agreement.agreement_id],
            u.weighed,
            reported_totals([f.view for f in u.reports]),
        )

    last_allegation, last_report = glance.last_allegation_at, glance.last_report_at
    quiet_for = None if last_report is None else as_of - last_report
    return StatusView(
        conflict=conflict,
        title=None if described is None else described.title,
        description=described,
        state=standing.state,
        since=standing.since,
        agreement=None if current is None else view(current),
        agreements=[view(s.agreement) for s in standing.agreements],
        allegations=counts,
        lull=None if standing.lull is None else LullView.of(standing.lull),
        missions=dispatched.active,
        last_allegation_at=last_allegation,
        agreement_last_allegation_at=last_under,
        last_report_at=last_report,
        quiet_for=quiet_for,
        stale=quiet_for is not None and quiet_for >= stale_after,
        version=version,
        position=position,
        as_of=as_of,
        known_at=known_at,
    )


async def list_conflicts(
    conn: AsyncConnection,
    *,
    as_of: datetime,
    known_at: datetime | None = None,
    window: timedelta,
    after: str | None = None,
    limit: int | None = None,
    stale_after: timedelta = DEFAULT_STALE_AFTER,
) -> list[ConflictSummary]:
    """The conflicts in slug order (after ``after``, at most ``limit`` of them): those of which
    something was recorded by ``known_at``."""
    summaries: list[ConflictSummary] = []
    while limit is None or len(summaries) < limit:
        wanted = None if limit is None else limit - len(summaries)
        listed = select(streams.c.conflict).order_by(streams.c.conflict).limit(wanted)
        if after is not None:
            listed = listed.where(streams.c.conflict > after)
        names = list((await conn.execute(listed)).scalars())
        for name in names:
            after = name
            status = await read_status(
                conn, name, as_of=as_of, known_at=known_at, window=window, stale_after=stale_after
            )
            if status.version == 0:  # nothing of it was recorded yet at known_at
                continue
            agreement = status.agreement
            summaries.append(
                record_of(
                    ConflictSummary,
                    status,
                    conflict=name,
                    agreement_id=agreement.agreement_id if agreement else None,
                )
            )
        if wanted is None or len(names) < wanted:
            break
    return summaries
