"""The read models the API returns. The states they carry are derived in
``projections.standing``; the queries gather its inputs with indexed lookups, so their cost
does not grow with the log."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from events.model.milestones import MilestoneState, MilestoneStateName
from events.model.state import AgreementState, LullState

__all__ = [
    "ActorRole",
    "ActorView",
    "ActorsView",
    "AgreementAllegations",
    "AgreementStateName",
    "AgreementView",
    "AllegationView",
    "AllegationsView",
    "CasualtySum",
    "CasualtyTotals",
    "ConflictState",
    "ConflictSummary",
    "ContestTally",
    "DeadlineView",
    "DescriptionView",
    "DisputeView",
    "Duration",
    "ExtensionView",
    "LullView",
    "MilestoneExtensionView",
    "MilestoneView",
    "MissionView",
    "OutsideAgreements",
    "PartyCounts",
    "ReportView",
    "ReportedTotals",
    "Role",
    "ScopeView",
    "StatusView",
    "WithdrawalView",
]

ConflictState = Literal[
    "none", "pending", "collapsed", "expired", "contested", "holding", "lull", "withdrawn"
]
AgreementStateName = Literal["pending", "holding", "contested", "expired", "collapsed", "withdrawn"]
Role = Literal["party", "mediator", "monitor", "third_party"]


AsOf = Annotated[
    datetime | None,
    Field(
        description="The time asked for (by occurred_at); null when none was: the state now "
        "(the response's Date header says when it was read)."
    ),
]
KnownAt = Annotated[
    datetime | None,
    Field(
        description="The recording time asked for (by recorded_at); null: what the log says now."
    ),
]


class View(BaseModel):
    model_config = ConfigDict(frozen=True)


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


def _iso_duration(length: timedelta) -> str:
    """ISO 8601 in days and time (``P615DT3H5S``): never years or months, whose length
    varies, and whole seconds (RFC 3339's duration has no fractions; a part of a second is
    dropped, never rounded up)."""
    hours, rest = divmod(length.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    time = "".join(f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M"), (seconds, "S")) if n)
    days = f"{length.days}D" if length.days else ""
    if not days and not time:
        return "PT0S"
    return f"P{days}{f'T{time}' if time else ''}"


#: A length of time, written as ``_iso_duration`` spells it; one schema for reading and writing.
Duration = Annotated[
    timedelta,
    PlainSerializer(_iso_duration, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "duration"}),
]


_LAST_REPORT_AT = Field(
    default=None,
    description="When the latest event of the conflict (of any kind) occurred by as_of, as known "
    "at known_at (null: none by then).",
)
_QUIET_FOR = Field(
    default=None,
    description="as_of minus last_report_at, an ISO 8601 duration in days and time. In a view of "
    "now (as_of null): whole days (`P20D`; `P0D` under a day), so the view changes once a day "
    "rather than every second.",
)
_STALE = Field(
    default=False,
    description="True when quiet_for is CEASEFIRE_STALE_AFTER (default 30 days) or more: the "
    "state is what the record last said, and nothing was recorded for that long. The state "
    "itself does not change.",
)


class PartyCounts(View):
    """A party's allegations: ``made`` and ``received`` count parties' claims only."""

    made: int = 0
    received: int = 0
    incidents_made: int = 0
    incidents_received: int = 0
    denied: int = Field(default=0, description="Allegations it received and denied by as_of.")
    received_from_third_parties: int = Field(
        default=0, description="Allegations against it by mediators, monitors and third parties."
    )


class MissionView(View):
    """A mission dispatched to the conflict."""

    mission_id: str
    agreement_id: str | None = Field(default=None, description="The agreement it monitors.")
    organization: str = Field(description="The organization that leads it.")
    organizations: list[str] = Field(
        default_factory=list, description="The other organizations that run it."
    )
    head: str | None = None
    purpose: str | None = None
    expected_arrival: datetime | None = None
    dispatched_at: datetime


class DescriptionView(View):
    """What a conflict is called and where it is (its latest ``conflict.described``)."""

    title: str
    summary: str | None = None
    countries: list[str] = Field(description="ISO 3166-1 alpha-2 codes.")
    region: str


_TITLE = Field(
    default=None,
    description="The conflict's title, from its latest `conflict.described` known (null: the "
    "conflict was never described; `conflict` is its slug).",
)


class StatusView(View):
    """Is the ceasefire holding: the conflict's state, its agreement, who accuses whom."""

    conflict: str
    title: str | None = _TITLE
    description: DescriptionView | None = Field(
        default=None, description="Its latest `conflict.described` known (null: none)."
    )
    state: ConflictState = Field(
        description="From the national agreements and declarations alone: contested if any in "
        "effect is contested, else holding if any is in effect, else lull if a lull is "
        "observed and not ended, else pending if any is pending, else the state of the one "
        "that ended last (collapsed or expired), else none."
    )
    since: datetime | None = Field(
        description="When the state took its current value (null for none)."
    )
    agreement: AgreementView | None = Field(
        description="The national commitment the state comes from: the latest signed of those "
        "in effect, else of those pending, else the one that ended last (in state lull: the "
        "pending or ended one it would otherwise come from)."
    )
    lull: LullView | None = Field(
        default=None,
        description="In state lull: the lull it comes from (the latest observed of those "
        "holding); null otherwise.",
    )
    agreements: list[AgreementView] = Field(
        description="Every agreement and declaration signed at or before as_of, each with its "
        "state and scope, newest first."
    )
    allegations: dict[str, PartyCounts] = Field(
        description="Per party of `agreement`, the allegations under it, every party listed "
        "even at zero."
    )
    missions: list[MissionView] = Field(description="The missions active at as_of.")
    last_allegation_at: datetime | None = Field(
        description="When the latest allegation of the conflict occurred by as_of, whatever "
        "agreement it falls under (outside every agreement included); retracted ones aside."
    )
    agreement_last_allegation_at: datetime | None = Field(
        default=None,
        description="When the latest allegation under `agreement` occurred (null: none, or no "
        "agreement).",
    )
    last_report_at: datetime | None = _LAST_REPORT_AT
    quiet_for: Duration | None = _QUIET_FOR
    stale: bool = _STALE
    version: int = Field(description="The conflict's stream version this status reflects.")
    position: int = Field(description="The global log position this status reflects.")
    as_of: AsOf = None
    known_at: KnownAt = None


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


class ConflictSummary(View):
    """A conflict and its state now."""

    conflict: str
    title: str | None = _TITLE
    state: ConflictState
    since: datetime | None = None
    agreement_id: str | None
    last_allegation_at: datetime | None
    last_report_at: datetime | None = _LAST_REPORT_AT
    quiet_for: Duration | None = _QUIET_FOR
    stale: bool = _STALE
    version: int
    position: int


ActorRole = Literal["party", "mediator", "monitor"]


class ActorView(View):
    """One actor of the conflict: every spelling of its name, and what it is in the conflict
    at ``as_of``."""

    name: str = Field(description="Its canonical name: what every event stores.")
    kind: str | None = Field(
        description="`state`, `armed_group`, `international_organization`, `ngo`, `media` or "
        "`other`, as registered; null for an actor named by an agreement or a mission and "
        "never registered."
    )
    aliases: list[str] = Field(description="The other spellings registered for it.")
    registered: bool = Field(description="True once an `actor.registered` named it.")
    since: datetime = Field(description="When it first appears: the earliest event naming it.")
    roles: list[ActorRole] = Field(description="Its roles by as_of (none: a third party).")
    party_to: list[str] = Field(
        description="The agreements and declarations it is a party of (a declarer included)."
    )
    mediator_of: list[str] = Field(description="The agreements it mediates.")
    monitor_of: list[str] = Field(description="The missions it runs (or helps run).")


class ActorsView(View):
    """A conflict's actors: its parties, mediators, monitors and registered third parties."""

    conflict: str
    actors: list[ActorView] = Field(description="Every actor appearing by as_of, by name.")
    version: int
    position: int
    as_of: AsOf = None
    known_at: KnownAt = None


def tally(
    counts: dict[str, PartyCounts],
    alleged_by: str,
    accused: str,
    n: int,
    incidents: int,
    *,
    party_claim: bool = True,
    denied: int = 0,
) -> None:
    """Add ``n`` allegations of ``incidents`` incidents by ``alleged_by`` against ``accused``
    (``denied`` of them denied). A claim by a non-party counts only as received from a third
    party."""
    if denied:
        received = counts.get(accused, PartyCounts())
        counts[accused] = received.model_copy(update={"denied": received.denied + denied})
    if not party_claim:
        received = counts.get(accused, PartyCounts())
        counts[accused] = received.model_copy(
            update={"received_from_third_parties": received.received_from_third_parties + n}
        )
        return
    made = counts.get(alleged_by, PartyCounts())
    counts[alleged_by] = made.model_copy(
        update={"made": made.made + n, "incidents_made": made.incidents_made + incidents}
    )
    received = counts.get(accused, PartyCounts())
    counts[accused] = received.model_copy(
        update={
            "received": received.received + n,
            "incidents_received": received.incidents_received + incidents,
        }
    )
