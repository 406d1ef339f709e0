"""A conflict's aggregate reports (``violations.reported``) at ``as_of``, each listed under the
agreements it reports on (``projections.findings.report_agreements``): the status counts them
per agreement beside the allegations, ``/allegations`` lists them.

A report counts over its whole period, so it shows from the end of its period on: a view of a
time inside the period would show violations that occurred after it. A conflict has few, read
in one indexed lookup."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import RowMapping, select
from sqlalchemy.ext.asyncio import AsyncConnection

from events.model.state import AgreementState
from projections.bitemporal import known_at_condition
from projections.filing import Role, role_of
from projections.findings import report_agreements
from projections.queries.shared import ALL_TIME, Period
from projections.tables import reports
from projections.views import ContestTally, ReportedTotals, ReportView

__all__ = ["FiledReport", "read_reports", "reported_totals", "tally_weight"]


@dataclass(frozen=True, slots=True)
class FiledReport:
    """A report as listed under one agreement (None: under none), with its author's role."""

    agreement_id: str | None
    view: ReportView


async def read_reports(
    conn: AsyncConnection,
    conflict: str,
    agreements: Mapping[str, AgreementState],
    monitors: Mapping[str, Sequence[str]],
    *,
    as_of: datetime,
    known_at: datetime | None,
    period: Period = ALL_TIME,
) -> list[FiledReport]:
    """Every report whose period ended by ``as_of`` (and lies in ``period`` when bounded),
    once per agreement it is listed under among ``agreements`` (those visible at ``as_of``), or
    once under none, in order of their periods' ends."""
    r = reports.c
    conditions = [
        r.conflict == conflict,
        r.period_to <= as_of,
        known_at_condition(reports, known_at),
    ]
    if period.start is not None:
        conditions.append(r.period_from >= period.start)
    if period.end is not None:
        conditions.append(r.period_to <= period.end)
    # As mappings: a row's ``count`` would be the tuple method of that name.
    rows = (
        await conn.execute(select(reports).where(*conditions).order_by(r.period_to, r.version))
    ).mappings()
    filed: list[FiledReport] = []
    for row in rows:
        by_party = None if row["by_party"] is None else json.loads(row["by_party"])
        under: list[str | None] = [
            a
            for a in report_agreements(
                agreements.values(),
                row["agreement_id"],
                row["period_from"],
                row["period_to"],
                by_party or (),
            )
            if a in agreements
        ]
        for agreement_id in under or [None]:
            role: Role | None = None
            if agreement_id is not None:
                role = role_of(
                    agreements[agreement_id], row["reported_by"], monitors.get(agreement_id, ())
                )
            filed.append(FiledReport(agreement_id, _view(row, by_party, role)))
    return filed


def _view(row: RowMapping, by_party: dict[str, int] | None, role: Role | None) -> ReportView:
    return ReportView(
        id=row["event_id"],
        reported_by=row["reported_by"],
        role=role,
        period_from=row["period_from"],
        period_to=row["period_to"],
        count=row["count"],
        by_party=by_party,
        agreement_id=row["agreement_id"],
        statement=row["statement"],
        occurred_at=row["occurred_at"],
        source=json.loads(row["source"]),
        version=row["version"],
    )


def tally_weight(
    tallies: dict[str, ContestTally], weight: str, n: int, latest: datetime, by: str
) -> None:
    """Add ``n`` allegations (or one report) of ``weight`` whose latest is ``latest`` by ``by``.
    Of two at the same instant the later name is the latest: never the order of recording."""
    was = tallies.get(weight, ContestTally())
    newer = (
        was.latest_at is None
        or latest > was.latest_at
        or (latest == was.latest_at and by > (was.latest_by or ""))
    )
    tallies[weight] = ContestTally(
        count=was.count + n,
        latest_at=latest if newer else was.latest_at,
        latest_by=by if newer else was.latest_by,
    )


def reported_totals(filed: Sequence[ReportView]) -> ReportedTotals:
    """What the reports listed under one agreement add up to."""
    by_party: dict[str, int] = {}
    for report in filed:
        for accused, n in (report.by_party or {}).items():
            by_party[accused] = by_party.get(accused, 0) + n
    return ReportedTotals(
        reports=len(filed),
        violations=sum(r.count for r in filed),
        by_party=by_party,
        latest=max(filed, key=lambda r: (r.period_to, r.version), default=None),
    )
