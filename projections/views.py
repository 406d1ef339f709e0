"""The read models the API returns, and the pure rules that derive a conflict's state.

``derive_state`` is the one definition of none / pending / collapsed / contested / holding;
the queries gather its inputs with indexed lookups, so its cost does not grow with the log.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from events.state import AgreementState

__all__ = [
    "AgreementAllegations",
    "AgreementView",
    "AllegationView",
    "AllegationsView",
    "ConflictState",
    "ConflictSummary",
    "MissionView",
    "PartyCounts",
    "StatusView",
    "derive_state",
]

ConflictState = Literal["none", "pending", "collapsed", "contested", "holding"]


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


class AgreementView(View):
    agreement_id: str
    parties: list[str]
    mediators: list[str]
    kind: str
    terms: str | None = None
    signed_at: datetime
    effective_at: datetime
    collapsed_at: datetime | None = None
    collapse_reason: str | None = None

    @classmethod
    def of(cls, agreement: AgreementState) -> AgreementView:
        return cls(
            agreement_id=agreement.agreement_id,
            parties=list(agreement.parties),
            mediators=list(agreement.mediators),
            kind=agreement.kind,
            terms=agreement.terms,
            signed_at=agreement.signed_at,
            effective_at=agreement.effective_at,
            collapsed_at=agreement.collapsed_at,
            collapse_reason=agreement.collapse_reason,
        )


class PartyCounts(View):
    made: int = 0
    received: int = 0
    incidents_made: int = 0
    incidents_received: int = 0


class MissionView(View):
    mission_id: str
    organization: str
    head: str | None = None
    purpose: str | None = None
    expected_arrival: datetime | None = None
    dispatched_at: datetime


class StatusView(View):
    conflict: str
    state: ConflictState
    agreement: AgreementView | None
    allegations: dict[str, PartyCounts] = Field(
        description="Per party, allegations made and received under the current agreement "
        "(the latest signed at or before as_of), every party listed even at zero."
    )
    missions: list[MissionView]
    last_allegation_at: datetime | None = Field(
        description="When the latest allegation under the current agreement occurred."
    )
    version: int = Field(description="The conflict's stream version this status reflects.")
    position: int = Field(description="The global log position this status reflects.")
    as_of: AsOf = None
    known_at: KnownAt = None


class AllegationView(View):
    id: UUID
    agreement_id: str
    agreement_implicit: bool = Field(
        description="True when the writer named no agreement and the allegation was assigned "
        "to the agreement in effect when it occurred."
    )
    alleged_by: str
    accused: str
    incidents: int
    occurred_at: datetime
    location: str | None = None
    description: str | None = None
    casualties_claimed: Any = None
    source: dict[str, Any]
    version: int


class AgreementAllegations(View):
    agreement_id: str
    parties: list[str]
    counts: dict[str, PartyCounts]
    allegations: list[AllegationView]


class AllegationsView(View):
    conflict: str
    totals: dict[str, PartyCounts] = Field(description="Per party, over the whole conflict.")
    agreements: list[AgreementAllegations]
    version: int
    position: int
    as_of: AsOf = None
    known_at: KnownAt = None


class ConflictSummary(View):
    conflict: str
    state: ConflictState
    agreement_id: str | None
    last_allegation_at: datetime | None
    version: int
    position: int


def derive_state(
    agreement: AgreementState | None,
    as_of: datetime,
    last_allegation_at: datetime | None,
    window: timedelta,
) -> ConflictState:
    if agreement is None:
        return "none"
    if agreement.collapsed_at is not None and agreement.collapsed_at <= as_of:
        return "collapsed"
    if agreement.effective_at > as_of:
        return "pending"
    # as_of - last < window, not last > as_of - window: the latter overflows near year 1.
    if last_allegation_at is not None and timedelta(0) <= as_of - last_allegation_at < window:
        return "contested"
    return "holding"


def tally(
    counts: dict[str, PartyCounts], alleged_by: str, accused: str, n: int, incidents: int
) -> None:
    """Add ``n`` allegations of ``incidents`` incidents by ``alleged_by`` against ``accused``."""
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
