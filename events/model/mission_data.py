"""The data of monitoring and observer missions: dispatched and ended.

Apart from agreements and allegations because a mission watches a conflict rather than binding or
accusing anyone; its organizations become actors with the monitor role.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from events.model.event_data import EventData
from events.model.values import AsWritten, Instant, Name, Slug, Text

__all__ = [
    "MissionDispatchedData",
    "MissionEndedData",
]


class MissionDispatchedData(EventData):
    """A monitoring or observer mission sent to the conflict."""

    mission_id: Slug
    agreement_id: Slug | None = Field(default=None, description="The agreement it monitors.")
    organization: Name = Field(description="The organization that leads it.")
    organizations: tuple[Name, ...] | None = Field(
        default=None,
        max_length=50,
        json_schema_extra={"uniqueItems": True},
        description="The other organizations that run it with `organization`, each named "
        "once; each is an actor of the conflict with the monitor role.",
    )
    head: Name | None = None
    purpose: Text | None = None
    expected_arrival: Instant | None = None
    as_written: AsWritten | None = None

    @model_validator(mode="after")
    def _distinct_organizations(self) -> MissionDispatchedData:
        names = [self.organization, *(self.organizations or ())]
        if len({n.casefold() for n in names}) != len(names):
            raise ValueError("organization and organizations must be distinct")
        return self

    def monitors(self) -> tuple[str, ...]:
        """Every organization running it, the leading one first."""
        return (self.organization, *(self.organizations or ()))


class MissionEndedData(EventData):
    """A mission that has left or stopped its work."""

    mission_id: Slug
    reason: Text | None = None
