"""The field types every event is built of: instants, slugs, names, texts, sources, scopes.

Each is a constrained type or a small frozen model, so the OpenAPI schema states what a writer
may send and every database refuses the same values. The event payloads
(``events.model.event_data``)
and the event types (``events.model.types``) are made of these.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

__all__ = [
    "MAX_SAFE_INTEGER",
    "NO_NUL",
    "SCOPE_RANK",
    "AgreementKind",
    "AsWritten",
    "ConflictSlug",
    "Frozen",
    "Instant",
    "Name",
    "Scope",
    "ScopeLevel",
    "Slug",
    "Source",
    "Text",
]


#: The largest integer every JSON client holds exactly (2**53 - 1, JavaScript's
#: MAX_SAFE_INTEGER): the bound of every count, version and position a client sends, so the
#: OpenAPI document states it exactly too (a larger bound is rounded as a double).
MAX_SAFE_INTEGER = 2**53 - 1

#: asyncpg sends these two as -infinity and infinity: refused on every database alike.
_INFINITIES = (datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC))


def _utc(value: datetime) -> datetime:
    """Store and compare every instant in UTC; the offset the writer used carries no meaning."""
    try:
        utc = value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 has no UTC spelling
        raise ValueError("is out of range once converted to UTC") from None
    if utc in _INFINITIES:
        raise ValueError("is out of range: the first and last instants a datetime can hold")
    return utc


_DATE_START = re.compile(r"\d{4}-\d{2}-\d{2}")


def _rfc3339_only(value: Any) -> Any:
    """RFC 3339 text or a datetime only: pydantic would also take a number as Unix seconds or
    milliseconds, guessing which from its size."""
    if isinstance(value, int | float) or (isinstance(value, str) and not _DATE_START.match(value)):
        raise ValueError("must be an RFC 3339 date-time with an offset: 2022-09-23T03:40:00Z")
    return value


Instant = Annotated[AwareDatetime, BeforeValidator(_rfc3339_only), AfterValidator(_utc)]
ConflictSlug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]
#: Text without NUL: PostgreSQL text cannot hold it, so it is refused on every database alike
#: (a pattern, so the OpenAPI schema says so too).
NO_NUL = r"^[^\x00]*$"
_NAME = r"^[^ \t\n\r\f\v\x00](?:[^\x00]*[^ \t\n\r\f\v\x00])?$"
#: A name neither starts nor ends with white space (it is refused, not trimmed), so what the
#: schema accepts is what is stored.
Name = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200, pattern=_NAME),
]
Text = Annotated[str, StringConstraints(max_length=10_000, pattern=NO_NUL)]
#: What the source wrote where the event stores an actor's canonical name instead: the field
#: (``accused``; ``parties.1`` for the second of a list) -> the spelling as written.
AsWritten = Annotated[
    dict[
        Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,32}(\.[0-9]{1,2})?$")],
        Name,
    ],
    Field(
        max_length=101,
        json_schema_extra={"additionalProperties": False},
        description="Set by the service: where it stored an actor's canonical name instead "
        "of the spelling the source wrote, the field (`accused`; `parties.1` for the second "
        "of a list) and that spelling.",
    ),
]
AgreementKind = Literal["ceasefire", "humanitarian_truce", "cessation_of_hostilities", "armistice"]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Source(Frozen):
    """Who said so. An allegation is a claim, not a fact: its source travels with it."""

    name: Name
    url: (
        Annotated[str, StringConstraints(pattern=r"^https?://[^\s\x00]+$", max_length=2000)] | None
    ) = None


ScopeLevel = Literal["national", "regional", "local"]

#: Broadest first: an allegation naming no agreement goes to the broadest one in effect.
SCOPE_RANK: dict[str, int] = {"national": 0, "regional": 1, "local": 2}


class Scope(Frozen):
    """Where an agreement applies. Only national ones set the conflict's state; regional and
    local ones have a state of their own."""

    level: ScopeLevel = "national"
    area: Name | None = Field(
        default=None, description="The region or place; required for regional and local."
    )

    @model_validator(mode="after")
    def _area_when_not_national(self) -> Scope:
        if self.level != "national" and self.area is None:
            raise ValueError(f"a {self.level} scope needs an area")
        return self
