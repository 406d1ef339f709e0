"""The data that describes a conflict itself: its name and place, and its actors with the
other spellings sources use for them.
"""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from events.model.actors import ActorKind, name_key
from events.model.countries import CountryCode
from events.model.event_data import EventData
from events.model.values import AsWritten, Name, Text

__all__ = [
    "ActorRegisteredData",
    "ConflictDescribedData",
]


class ConflictDescribedData(EventData):
    """What a conflict is called and where it is: the name readers know it by, beside its
    slug. A later description replaces the whole of an earlier one from its recording on."""

    title: Name = Field(description="The conflict's name as readers know it.")
    summary: Text | None = None
    countries: tuple[CountryCode, ...] = Field(
        min_length=1,
        max_length=50,
        json_schema_extra={"uniqueItems": True},
        description="The countries it is fought in, as ISO 3166-1 alpha-2 codes, each once.",
    )
    region: Name = Field(description="The region it belongs to (e.g. Middle East).")

    @field_validator("countries")
    @classmethod
    def _distinct_countries(cls, countries: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(countries)) != len(countries):
            raise ValueError("countries must be distinct")
        return countries


class ActorRegisteredData(EventData):
    """An actor of the conflict, with its kind and the other spellings sources use for it.
    A later registration of the same actor (by its name or an alias) adds aliases."""

    name: Name = Field(description="Its name; the canonical one if it is an actor already.")
    kind: ActorKind = Field(
        description="What it is: state, armed_group, international_organization, ngo, media "
        "or other. A later registration of the actor must give the same."
    )
    aliases: tuple[Name, ...] = Field(
        default=(),
        max_length=50,
        json_schema_extra={"uniqueItems": True},
        description="Other spellings of its name (matched ignoring case and accents); an "
        "alias belongs to one actor only.",
    )
    as_written: AsWritten | None = None

    @model_validator(mode="after")
    def _distinct_aliases(self) -> ActorRegisteredData:
        if len({name_key(a) for a in self.aliases}) != len(self.aliases):
            raise ValueError("aliases must be distinct (ignoring case and accents)")
        return self
