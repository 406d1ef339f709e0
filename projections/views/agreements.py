"""An agreement as a view shows it: its scope, extensions, milestones, disputes and
withdrawals, the weight of what contests it, the reports filed under it; and a lull."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import ConfigDict, Field

from events.model.milestones import MilestoneState, MilestoneStateName
from events.model.state import AgreementState, LullState
from projections.views.base import AgreementStateName, Role, View


class ScopeView(View):
    """Where an agreement applies: national ones set the conflict's state."""

    level: Literal["national", "regional", "local"]
    area: str | None = None


class ExtensionView(View):
    """A fixed term moved to a later end."""

    occurred_at: datetime = Field(description="When it was agreed: it takes effect then.")
    expires_at: datetime = Field(description="The new end.")


class MilestoneExtensionView(View):
    """A milestone's deadline moved to a later time."""

    occurred_at: datetime = Field(description="When it was agreed: it takes effect then.")
    due_at: datetime = Field(description="The new due time.")
    reason: str | None = None


class MilestoneView(View):
    """A deadline inside an agreement (a withdrawal, a handover, an exchange) as it stood at
    ``as_of``: nothing that occurred later (an extension, its meeting) shows."""

    milestone_id: str
    description: str
    due_at: datetime = Field(description="When it is due as known at as_of (extensions by then).")
    signed_due_at: datetime = Field(description="When it was due as signed.")
    extensions: list[MilestoneExtensionView] = Field(
        default_factory=list, description="Its extensions that occurred by as_of."
    )
    state: MilestoneStateName = Field(
        description="`met` once met (by as_of); else `pending` before `due_at`, `overdue` "
        "from it on. It never changes the agreement's own state."
    )
    met_at: datetime | None = Field(default=None, description="When it was met (by as_of).")
    statement: str | None = Field(default=None, description="What its `milestone.met` said.")

    @classmethod
    def of(cls, milestone: MilestoneState, at: datetime) -> MilestoneView:
        met = milestone.met if milestone.met_by(at) else None
        return cls(
            milestone_id=milestone.milestone_id,
            description=milestone.description,
            due_at=milestone.due_at_time(at),
            signed_due_at=milestone.due_at,
            extensions=[
                MilestoneExtensionView(occurred_at=e.occurred_at, due_at=e.due_at, reason=e.reason)
                for e in sorted(milestone.extensions, key=lambda e: (e.occurred_at, e.due_at))
                if e.occurred_at <= at
            ],
            state=milestone.state_at(at),
            met_at=None if met is None else met.occurred_at,
            statement=None if met is None else met.statement,
        )


class DeadlineView(View):
    """An agreement's earliest pending milestone."""

    milestone_id: str
    description: str
    due_at: datetime


class DisputeView(View):
    """A party that says it never agreed: what it said."""

    party: str = Field(description="The party that says it was never bound.")
    statement: str = Field(description="What it said, in words.")


class WithdrawalView(View):
    """A party that withdrew: from when, and what it said."""

    party: str = Field(description="The party that withdrew.")
    occurred_at: datetime = Field(description="When it withdrew: it is bound no more from then.")
    statement: str = Field(description="What it said, in words.")


class ContestTally(View):
    """The allegations of one weight under an agreement by as_of (retracted ones aside): how
    many, and the latest."""

    count: int = Field(default=0, description="How many (a report counts as one).")
    latest_at: datetime | None = Field(
        default=None, description="When the latest occurred (a report: the end of its period)."
    )
    latest_by: str | None = Field(default=None, description="Who made the latest.")


class ReportView(View):
    """A ``violations.reported``: an aggregate report by a monitor, a mediator or a third
    party over a period, apart from individual allegations."""

    model_config = ConfigDict(frozen=True, validate_by_name=True, serialize_by_alias=True)

    id: UUID
    reported_by: str = Field(description="Who reported it.")
    role: Role | None = Field(
        description="The role of reported_by against the agreement it is listed under; null "
        "outside every agreement."
    )
    period_from: datetime = Field(alias="from", description="The period's start (inclusive).")
    period_to: datetime = Field(alias="to", description="The period's end (exclusive).")
    count: int = Field(description="The violations it counts over the period.")
    by_party: dict[str, int] | None = Field(
        default=None, description="The violations it attributes to each accused."
    )
    agreement_id: str | None = Field(
        default=None, description="The agreement it names (null: filed by its period)."
    )
    statement: str | None = Field(default=None, description="What the report says, in words.")
    occurred_at: datetime = Field(description="When the report was made.")
    source: dict[str, Any]
    version: int


class ReportedTotals(View):
    """The aggregate reports listed under an agreement by as_of: shown apart from its
    individual allegations."""

    reports: int = Field(default=0, description="How many reports.")
    violations: int = Field(default=0, description="Their counts added up.")
    by_party: dict[str, int] = Field(
        default_factory=dict, description="Their counts per accused added up."
    )
    latest: ReportView | None = Field(
        default=None, description="The report whose period ended last."
    )


class AgreementView(View):
    """An agreement or a unilateral declaration as it stood at ``as_of``: nothing that
    occurred later (a collapse, an extension) shows."""

    agreement_id: str
    parties: list[str]
    mediators: list[str]
    kind: str
    terms: str | None = None
    signed_at: datetime
    effective_at: datetime
    expires_at: datetime | None = Field(
        default=None, description="Its end as known at as_of (extensions by then included)."
    )
    extensions: list[ExtensionView] = Field(default_factory=list)
    scope: ScopeView
    unilateral: bool = Field(
        description="True for a ceasefire.declared by one side, and for an agreement that all "
        "but one of its parties repudiated or withdrew from by as_of: that one's commitment."
    )
    declared_by: str | None = Field(
        default=None, description="Whose unilateral commitment it is (null: not unilateral)."
    )
    state: AgreementStateName = Field(description="Its own state at as_of.")
    collapsed_at: datetime | None = None
    collapse_reason: str | None = None
    milestones: list[MilestoneView] = Field(
        default_factory=list,
        description="Its deadlines (withdrawals, handovers, exchanges) with their state at "
        "as_of, earliest due first.",
    )
    next_deadline: DeadlineView | None = Field(
        default=None, description="The pending milestone due first (null: none is pending)."
    )
    committed: list[str] = Field(
        default_factory=list,
        description="The parties bound by it at as_of: those that made it (a declaration's "
        "declarer), less any that says it never agreed and any that withdrew by as_of. The "
        "others stay in `parties`: the commitment is toward them.",
    )
    disputed_by: list[DisputeView] = Field(
        default_factory=list,
        description="Parties that say they never agreed (`agreement.repudiated` with "
        "never_agreed), at every as_of once recorded.",
    )
    withdrawals: list[WithdrawalView] = Field(
        default_factory=list, description="Parties that withdrew from it by as_of."
    )
    withdrawn_at: datetime | None = Field(
        default=None,
        description="When the last party bound by it withdrew (state `withdrawn`), by as_of.",
    )
    claims: ContestTally = Field(
        default_factory=ContestTally, description="Allegations under it by its parties."
    )
    findings: ContestTally = Field(
        default_factory=ContestTally,
        description="Findings of violations under it by its mediators and monitors (reports "
        "included): they contest it like a party's claim.",
    )
    third_party: ContestTally = Field(
        default_factory=ContestTally,
        description="Allegations (and reports) under it by anyone else.",
    )
    reported: ReportedTotals = Field(
        default_factory=ReportedTotals,
        description="Aggregate reports (violations.reported) under it whose period ended by as_of.",
    )

    @classmethod
    def of(
        cls,
        agreement: AgreementState,
        at: datetime,
        state: AgreementStateName,
        weighed: Mapping[str, ContestTally] | None = None,
        reported: ReportedTotals | None = None,
    ) -> AgreementView:
        """``weighed``: its ``claims``, ``findings`` and ``third_party`` tallies (by
        ``projections.findings.weight_of``) and ``reported``, when the caller counted them."""
        weights = weighed or {}
        collapsed = agreement.collapsed_at is not None and agreement.collapsed_at <= at
        milestones = sorted(
            (MilestoneView.of(m, at) for m in agreement.milestones),
            key=lambda m: (m.due_at, m.milestone_id),
        )
        pending = next((m for m in milestones if m.state == "pending"), None)
        withdrawn = agreement.withdrawn_at
        declarer = agreement.declarer_at(at)
        return cls(
            agreement_id=agreement.agreement_id,
            parties=list(agreement.parties),
            mediators=list(agreement.mediators),
            kind=agreement.kind,
            terms=agreement.terms,
            signed_at=agreement.signed_at,
            effective_at=agreement.effective_at,
            expires_at=agreement.end_at(at),
            extensions=[
                ExtensionView(occurred_at=t, expires_at=end)
                for t, end in sorted(agreement.extensions)
                if t <= at
            ],
            scope=ScopeView(level=agreement.scope_level, area=agreement.scope_area),
            unilateral=declarer is not None,
            declared_by=declarer,
            state=state,
            collapsed_at=agreement.collapsed_at if collapsed else None,
            collapse_reason=agreement.collapse_reason if collapsed else None,
            milestones=milestones,
            next_deadline=(
                None
                if pending is None
                else DeadlineView(
                    milestone_id=pending.milestone_id,
                    description=pending.description,
                    due_at=pending.due_at,
                )
            ),
            committed=list(agreement.bound_at(at)),
            # In an order of their own, never the order of recording.
            disputed_by=[
                DisputeView(party=d.party, statement=d.statement)
                for d in sorted(agreement.departures, key=lambda d: d.party)
                if d.never_agreed
            ],
            withdrawals=[
                WithdrawalView(party=d.party, occurred_at=d.occurred_at, statement=d.statement)
                for d in sorted(agreement.departures, key=lambda d: (d.occurred_at, d.party))
                if not d.never_agreed and d.occurred_at <= at
            ],
            withdrawn_at=withdrawn if withdrawn is not None and withdrawn <= at else None,
            claims=weights.get("claims", ContestTally()),
            findings=weights.get("findings", ContestTally()),
            third_party=weights.get("third_party", ContestTally()),
            reported=reported or ReportedTotals(),
        )


class LullView(View):
    """A de facto calm without an agreement, as it stood at ``as_of``."""

    lull_id: str
    parties: list[str]
    observed_by: str
    statement: str | None = None
    observed_at: datetime = Field(description="When it was observed: the lull holds from then.")

    @classmethod
    def of(cls, lull: LullState) -> LullView:
        return cls(
            lull_id=lull.lull_id,
            parties=list(lull.parties),
            observed_by=lull.observed_by,
            statement=lull.statement,
            observed_at=lull.observed_at,
        )
