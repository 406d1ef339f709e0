"""A conflict's allegations at ``as_of``, filed under their agreements with their roles; the
retracted ones listed (marked) but not counted."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from projections.bitemporal import known_at_condition
from projections.filing import Filing, role_of
from projections.findings import weight_of
from projections.inline import load_agreements
from projections.queries.reports import read_reports, tally_weight
from projections.queries.shared import ALL_TIME, Period, conflict_head, read_monitors
from projections.tables import allegations
from projections.views import (
    AgreementAllegations,
    AllegationsView,
    AllegationView,
    CasualtySum,
    CasualtyTotals,
    ContestTally,
    OutsideAgreements,
    PartyCounts,
    Role,
    tally,
)

__all__ = ["read_allegations"]

_Sum = tuple[int, int, int]


class _CasualtyTally:
    """Claimed casualties summed per (accuser, accused), in the order first claimed."""

    def __init__(self) -> None:
        self._totals: dict[tuple[str, str], tuple[int, _Sum | None, _Sum | None]] = {}

    def add(self, item: AllegationView) -> None:
        claimed = item.casualties_claimed
        if not isinstance(claimed, dict):
            return
        # A bare {low, best, high} claim (the first shape, still valid) is the killed.
        killed = claimed.get("killed") if "low" not in claimed else claimed
        injured = claimed.get("injured")
        key = (item.alleged_by, item.accused)
        n, killed_sum, injured_sum = self._totals.get(key, (0, None, None))
        self._totals[key] = (n + 1, _plus(killed_sum, killed), _plus(injured_sum, injured))

    def totals(self) -> list[CasualtyTotals]:
        return [
            CasualtyTotals(
                alleged_by=alleged_by,
                accused=accused,
                allegations=n,
                killed=_view(killed),
                injured=_view(injured),
            )
            for (alleged_by, accused), (n, killed, injured) in self._totals.items()
        ]


def _plus(total: _Sum | None, claimed: Any) -> _Sum | None:
    if not isinstance(claimed, dict):
        return total
    low, best, high = total or (0, 0, 0)
    return (low + claimed["low"], best + claimed["best"], high + claimed["high"])


def _view(total: _Sum | None) -> CasualtySum | None:
    return None if total is None else CasualtySum(low=total[0], best=total[1], high=total[2])


def _allegation(
    row: Any, agreement_id: str | None, role: Role | None, as_of: datetime
) -> AllegationView:
    return AllegationView(
        id=row.event_id,
        agreement_id=agreement_id,
        agreement_implicit=row.agreement_implicit,
        role=role,
        denied=row.denied_at is not None and row.denied_at <= as_of,
        retracted=row.retracted_at is not None and row.retracted_at <= as_of,
        alleged_by=row.alleged_by,
        accused=row.accused,
        incidents=row.incidents,
        occurred_at=row.occurred_at,
        ended_at=row.ended_at if row.ended_at is not None and row.ended_at <= as_of else None,
        # Going on past as_of: it ends later, or was recorded going on and no end is known.
        ongoing=row.ended_at > as_of if row.ended_at is not None else row.ongoing,
        location=row.location,
        description=row.description,
        casualties_claimed=(
            None if row.casualties_claimed is None else json.loads(row.casualties_claimed)
        ),
        source=json.loads(row.source),
        version=row.version,
    )


async def read_allegations(
    conn: AsyncConnection,
    conflict: str,
    *,
    as_of: datetime,
    known_at: datetime | None,
    period: Period = ALL_TIME,
    head: tuple[int, int] | None = None,
) -> AllegationsView:
    """Every allegation that occurred by ``as_of`` (and in ``period`` when bounded: a period's
    counts), filed under its agreement with its role; the retracted ones listed (marked) but
    not counted. Its cost grows with the conflict's allegations: it lists them all. ``head`` as
    for ``read_status``."""
    version, position = await conflict_head(conn, conflict, known_at, head=head)
    known = await load_agreements(conn, conflict, known_at)
    filing = Filing(known.values())
    visible = sorted(
        (a for a in known.values() if a.signed_at <= as_of),
        key=lambda a: (a.signed_at, a.agreement_id),
    )
    by_id = {a.agreement_id: a for a in visible}
    monitors = await read_monitors(conn, conflict, as_of, known_at)
    within = []
    if period.start is not None:
        within.append(allegations.c.occurred_at >= period.start)
    if period.end is not None:
        within.append(allegations.c.occurred_at < period.end)
    rows = await conn.execute(
        select(allegations)
        .where(
            allegations.c.conflict == conflict,
            allegations.c.occurred_at <= as_of,
            known_at_condition(allegations, known_at),
            *within,
        )
        # Ties in time go by who and whom, never by the order of recording (the version).
        .order_by(
            allegations.c.occurred_at,
            allegations.c.alleged_by,
            allegations.c.accused,
            allegations.c.event_id,
        )
    )
    per_agreement: dict[str, list[AllegationView]] = {a.agreement_id: [] for a in visible}
    outside: list[AllegationView] = []
    totals: dict[str, PartyCounts] = {}
    casualties = _CasualtyTally()
    for agreement in visible:
        for party in agreement.parties:
            totals.setdefault(party, PartyCounts())
    for row in rows:
        agreement_id = filing.agreement_of(row.agreement_id, row.occurred_at, row.accused)
        home = None if agreement_id is None else by_id.get(agreement_id)
        role: Role | None = None
        if home is not None:
            role = role_of(home, row.alleged_by, monitors.get(home.agreement_id, ()))
            view = _allegation(row, home.agreement_id, role, as_of)
            view = view.model_copy(
                update={
                    "alleged_by": home.party(view.alleged_by) or view.alleged_by,
                    "accused": home.party(view.accused) or view.accused,
                }
            )
            per_agreement[home.agreement_id].append(view)
        else:
            view = _allegation(row, None, None, as_of)
            outside.append(view)
        if not view.retracted:
            casualties.add(view)
            tally(
                totals,
                view.alleged_by,
                view.accused,
                1,
                view.incidents,
                party_claim=role in (None, "party"),
                denied=int(view.denied),
            )
    filed_reports = await read_reports(
        conn,
        conflict,
        by_id,
        monitors,
        as_of=as_of,
        known_at=known_at,
        period=period,
    )
    sections = []
    for agreement in visible:
        items = per_agreement[agreement.agreement_id]
        counts = {p: PartyCounts() for p in agreement.parties}
        roles: dict[str, int] = {}
        weighed: dict[str, ContestTally] = {}
        section_casualties = _CasualtyTally()
        listed = [f.view for f in filed_reports if f.agreement_id == agreement.agreement_id]
        for report in listed:
            if report.role is not None:
                tally_weight(
                    weighed, weight_of(report.role), 1, report.period_to, report.reported_by
                )
        for item in items:
            if item.retracted:
                continue
            if item.role is not None:
                tally_weight(weighed, weight_of(item.role), 1, item.occurred_at, item.alleged_by)
            section_casualties.add(item)
            roles[item.role or "third_party"] = roles.get(item.role or "third_party", 0) + 1
            tally(
                counts,
                item.alleged_by,
                item.accused,
                1,
                item.incidents,
                party_claim=item.role == "party",
                denied=int(item.denied),
            )
        sections.append(
            AgreementAllegations(
                agreement_id=agreement.agreement_id,
                parties=list(agreement.parties),
                counts=counts,
                roles=roles,
                allegations=items,
                casualties=section_casualties.totals(),
                claims=weighed.get("claims", ContestTally()),
                findings=weighed.get("findings", ContestTally()),
                third_party=weighed.get("third_party", ContestTally()),
                reports=listed,
            )
        )
    outside_counts: dict[str, PartyCounts] = {}
    outside_casualties = _CasualtyTally()
    for item in outside:
        if not item.retracted:
            outside_casualties.add(item)
            tally(
                outside_counts,
                item.alleged_by,
                item.accused,
                1,
                item.incidents,
                denied=int(item.denied),
            )
    return AllegationsView(
        conflict=conflict,
        totals=totals,
        agreements=sections,
        outside_agreements=OutsideAgreements(
            counts=outside_counts,
            allegations=outside,
            casualties=outside_casualties.totals(),
            reports=[f.view for f in filed_reports if f.agreement_id is None],
        ),
        casualties=casualties.totals(),
        period_from=period.start,
        period_to=period.end,
        version=version,
        position=position,
        as_of=as_of,
        known_at=known_at,
    )
