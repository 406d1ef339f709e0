"""The data of allegations and what answers them: a violation alleged (with its claimed
casualties), denied, retracted, ended, and the aggregate reports of violations over a period.

A family of its own because these are the claims the views count per party, apart from the
agreements they contest.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import ConfigDict, Field, model_validator

from events.model.actors import name_key
from events.model.event_data import EventData
from events.model.values import MAX_SAFE_INTEGER, AsWritten, Frozen, Instant, Name, Slug, Text

__all__ = [
    "AllegationDeniedData",
    "AllegationRetractedData",
    "CasualtiesClaimed",
    "CasualtyRange",
    "IncidentEndedData",
    "ViolationAllegedData",
    "ViolationsReportedData",
    "killed_and_injured",
]


class CasualtyRange(Frozen):
    """A disputed toll the way conflict datasets record one: a low, a best and a high
    estimate. (Schema version 1 of ``violation.alleged`` had a single number; see
    ``events.model.upcasting``.)"""

    low: int = Field(ge=0, le=MAX_SAFE_INTEGER, strict=True)
    best: int = Field(ge=0, le=MAX_SAFE_INTEGER, strict=True)
    high: int = Field(ge=0, le=MAX_SAFE_INTEGER, strict=True)

    @model_validator(mode="after")
    def _ordered(self) -> CasualtyRange:
        if not self.low <= self.best <= self.high:
            raise ValueError("casualties must have low <= best <= high")
        return self


class CasualtiesClaimed(Frozen):
    """Killed and injured, each a range: the fuller shape of a claimed toll. Either part may be
    missing (the claim did not say). The bare range of ``CasualtyRange`` still stands and means
    killed, so stored allegations keep their bytes and their hashes."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        # What ``_says_something`` checks, for the document: killed or injured, not null.
        json_schema_extra={
            "minProperties": 1,
            "anyOf": [
                {"required": [part], "properties": {part: {"not": {"type": "null"}}}}
                for part in ("killed", "injured")
            ],
        },
    )

    killed: CasualtyRange | None = None
    injured: CasualtyRange | None = None

    @model_validator(mode="after")
    def _says_something(self) -> CasualtiesClaimed:
        if self.killed is None and self.injured is None:
            raise ValueError("casualties_claimed needs killed, injured or both")
        return self


def killed_and_injured(
    claimed: CasualtyRange | CasualtiesClaimed | None,
) -> tuple[CasualtyRange | None, CasualtyRange | None]:
    """(killed, injured) of a claim in either shape: a bare range is the killed."""
    if claimed is None:
        return None, None
    if isinstance(claimed, CasualtyRange):
        return claimed, None
    return claimed.killed, claimed.injured


class ViolationAllegedData(EventData):
    """One party accuses another of breaking an agreement: a claim, counted per party."""

    alleged_by: Name
    accused: Name
    agreement_id: Slug | None = None
    location: Text | None = None
    description: Text | None = None
    incidents: int = Field(default=1, ge=1, le=1_000_000, strict=True)
    casualties_claimed: CasualtyRange | CasualtiesClaimed | None = Field(
        default=None,
        description="The toll claimed: `{low, best, high}` (killed), or "
        "`{killed: {low, best, high}, injured: {low, best, high}}` (either part optional).",
    )
    as_written: AsWritten | None = None
    ended_at: Instant | None = Field(
        default=None,
        description="For an ongoing violation (a hostage held, a position occupied): when it "
        "ended, at or after occurred_at. It contests its agreement from occurred_at until the "
        "contested window after this end. An end learned later is an `incident.ended`.",
    )
    # Stored only when true, so allegations recorded before it existed keep their bytes.
    ongoing: bool = Field(
        default=False,
        strict=True,
        exclude_if=lambda ongoing: not ongoing,
        description="True for a violation still going on when recorded, its end not known yet "
        "(a hostage still held): it contests its agreement from occurred_at through every "
        "as_of until an `incident.ended` gives its end. Not with `ended_at`, which says it "
        "is over.",
    )

    @model_validator(mode="after")
    def _coherent(self) -> ViolationAllegedData:
        """No party accusing itself; not both ongoing and ended. One validator for both: every
        decoded row runs a model's after-validators twice (pydantic runs them again on the
        instance the envelope's validation takes), and each is a call into Python."""
        if self.alleged_by.casefold() == self.accused.casefold():
            raise ValueError("accused must not be the same party as alleged_by")
        if self.ongoing and self.ended_at is not None:
            raise ValueError(
                "ongoing: true says the violation's end is not known yet and ended_at gives "
                "it: send ended_at alone for one that is over, ongoing alone for one that goes on"
            )
        return self


class AllegationDeniedData(EventData):
    """The accused party denies an allegation: it still counts, marked denied."""

    allegation_id: UUID = Field(description="The id of the violation.alleged event denied.")
    denied_by: Name = Field(description="The party denying it: the one accused.")
    statement: Text | None = None
    as_written: AsWritten | None = None


class AllegationRetractedData(EventData):
    """The alleging party withdraws an allegation. The allegation stays in the log; the views
    stop counting it from the moment the retraction is recorded."""

    allegation_id: UUID = Field(description="The id of the violation.alleged event withdrawn.")
    retracted_by: Name = Field(description="The party withdrawing it: the one that alleged it.")
    reason: Text | None = None
    as_written: AsWritten | None = None


class IncidentEndedData(EventData):
    """The end of an ongoing violation, learned after it was alleged: the allegation contests
    its agreement until the contested window after this end."""

    allegation_id: UUID = Field(description="The id of the violation.alleged event that ended.")
    ended_at: Instant = Field(
        description="When it ended: at or after the allegation's occurred_at."
    )
    statement: Text | None = Field(default=None, description="How the end was reported.")


ReportCount = Annotated[int, Field(ge=0, le=MAX_SAFE_INTEGER, strict=True)]


class ViolationsReportedData(EventData):
    """An aggregate report of violations by a monitor, a mediator or a third party (an envoy's
    briefing, a peacekeeping force's monthly figures): a count over a period, with no
    incident of its own. It is a finding about its period, known once the period is over."""

    reported_by: Name = Field(description="Who reports it: an actor of the conflict.")
    period_from: Instant = Field(
        alias="from", description="The start of the period it covers (inclusive)."
    )
    period_to: Instant = Field(
        alias="to",
        description="The end of the period it covers (exclusive; at or before occurred_at).",
    )
    count: ReportCount = Field(description="The violations it counts over the period.")
    by_party: dict[Name, ReportCount] | None = Field(
        default=None,
        max_length=50,
        description="The violations it attributes to each accused (each an actor of the "
        "conflict); they need not add up to `count`.",
    )
    agreement_id: Slug | None = Field(
        default=None,
        description="The agreement it reports on; none: those in effect in its period (with "
        "`by_party`, those whose parties include an accused).",
    )
    statement: Text | None = Field(default=None, description="What the report says, in words.")
    as_written: AsWritten | None = None

    model_config = ConfigDict(frozen=True, extra="forbid", serialize_by_alias=True)

    @model_validator(mode="after")
    def _period(self) -> ViolationsReportedData:
        if self.period_to <= self.period_from:
            raise ValueError("to must be later than from")
        if self.by_party is not None:
            keys = [name_key(n) for n in self.by_party]
            if len(set(keys)) != len(keys):
                raise ValueError("by_party must name each accused once")
        return self
