"""A conflict's allegations (``GET /v1/conflicts/{c}/allegations``): each one, per
agreement and outside every agreement, with the casualties claimed."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import Field

from projections.views.agreements import ContestTally, ReportView
from projections.views.base import AsOf, KnownAt, Role, View
from projections.views.status import PartyCounts


class AllegationView(View):
    """One allegation, counted (retracted ones are not listed)."""

    id: UUID
    agreement_id: str | None = Field(
        description="The agreement it belongs to: the one it names, else the one in effect when "
        "it occurred whose parties include the accused (broadest scope, then latest signed); "
        "null when outside every agreement."
    )
    agreement_implicit: bool = Field(
        description="True when the writer named no agreement and the allegation was assigned "
        "to the agreement in effect when it occurred."
    )
    role: Role | None = Field(
        description="The role of alleged_by against its agreement; null when it belongs to none."
    )
    denied: bool = Field(default=False, description="Denied by the accused by as_of.")
    retracted: bool = Field(default=False, description="Withdrawn by its author by as_of.")
    alleged_by: str
    accused: str
    incidents: int
    occurred_at: datetime
    ended_at: datetime | None = Field(
        default=None,
        description="For an ongoing violation, its end once it ended by as_of (null: an "
        "instant, or still going on at as_of: see `ongoing`).",
    )
    ongoing: bool = Field(
        default=False,
        description="True when it went on past as_of: its end came later, or it was recorded "
        "as still going on and no end of it is known at known_at.",
    )
    location: str | None = None
    description: str | None = None
    casualties_claimed: Any = None
    source: dict[str, Any]
    version: int


class CasualtySum(View):
    """Claimed casualties summed over allegations: the low, best and high estimates each."""

    low: int
    best: int
    high: int


class CasualtyTotals(View):
    """What one accuser claims the accused killed and injured, summed over its counted
    allegations that claim a toll (a bare `{low, best, high}` claim counts as killed)."""

    alleged_by: str
    accused: str
    allegations: int = Field(description="The counted allegations that claim a toll.")
    killed: CasualtySum | None = Field(default=None, description="Null: none claimed killed.")
    injured: CasualtySum | None = Field(default=None, description="Null: none claimed injured.")


class AgreementAllegations(View):
    """The allegations filed under one agreement, with per-party counts."""

    agreement_id: str
    parties: list[str]
    counts: dict[str, PartyCounts]
    roles: dict[str, int] = Field(
        default_factory=dict, description="Allegations under it by the role of their author."
    )
    allegations: list[AllegationView]
    casualties: list[CasualtyTotals] = Field(
        default_factory=list, description="Claimed casualties per accuser and accused."
    )
    claims: ContestTally = Field(default_factory=ContestTally, description="Its parties' claims.")
    findings: ContestTally = Field(
        default_factory=ContestTally,
        description="Its mediators' and monitors' findings (reports included).",
    )
    third_party: ContestTally = Field(
        default_factory=ContestTally, description="Anyone else's allegations and reports."
    )
    reports: list[ReportView] = Field(
        default_factory=list,
        description="Aggregate reports under it (violations.reported) whose period ended by "
        "as_of, apart from the allegations.",
    )


class OutsideAgreements(View):
    """Allegations that belong to no agreement: none was in effect for the accused."""

    counts: dict[str, PartyCounts]
    allegations: list[AllegationView]
    casualties: list[CasualtyTotals] = Field(
        default_factory=list, description="Claimed casualties per accuser and accused."
    )
    reports: list[ReportView] = Field(
        default_factory=list, description="Aggregate reports under no agreement."
    )


class AllegationsView(View):
    """Allegations per party: per agreement and over the whole conflict."""

    conflict: str
    totals: dict[str, PartyCounts] = Field(description="Per party, over the whole conflict.")
    agreements: list[AgreementAllegations]
    outside_agreements: OutsideAgreements
    casualties: list[CasualtyTotals] = Field(
        default_factory=list,
        description="Claimed casualties per accuser and accused, over the whole conflict.",
    )
    period_from: datetime | None = Field(
        default=None, description="`from` as asked: only allegations that occurred from then."
    )
    period_to: datetime | None = Field(
        default=None, description="`to` as asked: only allegations that occurred before then."
    )
    version: int
    position: int
    as_of: AsOf = None
    known_at: KnownAt = None
