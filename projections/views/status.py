"""A conflict's status (``GET /v1/conflicts/{c}/status``) and its line in the list of
conflicts, with the per-party counts both add up (``tally``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from projections.views.agreements import AgreementView, LullView
from projections.views.base import (
    _LAST_REPORT_AT,
    _QUIET_FOR,
    _STALE,
    _TITLE,
    AsOf,
    ConflictState,
    Duration,
    KnownAt,
    View,
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
