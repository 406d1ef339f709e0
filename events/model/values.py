"""The field types every event is built of: instants, slugs, names, texts, sources, scopes.

Each is a constrained type or a small frozen model, so the OpenAPI schema states what a writer
may send and every database refuses the same values. The event payloads
(``events.model.event_data`` and the family modules beside it: ``agreement_data``,
``allegation_data``…) and the event types (``events.model.types``) are made of these.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    model_validator,
)

__all__ = [
    "MAX_SAFE_INTEGER",
    "NO_NUL",
    "SCOPE_RANK",
    "STORED",
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
    "Url",
    "UtcOffset",
    "legible",
    "local_time",
    "offset_given",
    "refused_character",
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
#: The UTC offset local time had where an event happened, as RFC 3339 writes it (``+03:00``).
UtcOffset = Annotated[
    str,
    StringConstraints(pattern=r"^[+-]([01][0-9]|2[0-3]):[0-5][0-9]$"),
    Field(
        description="The UTC offset of local time where it happened (`+03:00`): kept from the "
        "offset `occurred_at` was written with, unless given; absent when it was UTC (`Z`, "
        "`+00:00`). Instants, ordering and hashes stay UTC."
    ),
]

_OFFSET_AT_END = re.compile(r"([+-])([01][0-9]|2[0-3]):?([0-5][0-9])$")


def offset_given(value: Any) -> str | None:
    """The non-zero UTC offset an instant was written with (``+03:00``), from RFC 3339 text or
    an aware datetime; None for UTC or anything else (which validation then judges)."""
    if isinstance(value, datetime):
        delta = value.utcoffset()
        if not delta:
            return None
        minutes = int(delta.total_seconds()) // 60
        sign, minutes = ("-", -minutes) if minutes < 0 else ("+", minutes)
        return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"
    if isinstance(value, str) and _DATE_START.match(value):
        found = _OFFSET_AT_END.search(value)
        if found is None or (found.group(2) == "00" and found.group(3) == "00"):
            return None
        return f"{found.group(1)}{found.group(2)}:{found.group(3)}"
    return None


def local_time(instant: datetime, offset: str) -> datetime:
    """``instant`` (UTC) as local time at ``offset`` (a ``UtcOffset``)."""
    sign = -1 if offset[0] == "-" else 1
    hours, minutes = int(offset[1:3]), int(offset[4:6])
    return instant.astimezone(timezone(sign * timedelta(hours=hours, minutes=minutes)))


ConflictSlug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]
#: Text without NUL: PostgreSQL text cannot hold it, so it is refused on every database alike
#: (a pattern, so the OpenAPI schema says so too).
NO_NUL = r"^[^\x00]*$"

#: The validation context of events read back from the log (the decoder, corrections, an
#: import of an export): what the log already holds is taken as it is, so a log written before
#: a check existed stays readable. Without it (a writer's event), every check applies.
STORED: Mapping[str, bool] = MappingProxyType({"stored": True})

#: The characters no text may hold: the C0 controls, DEL and the C1 controls (escape sequences,
#: and XML 1.0, which Atom is, cannot hold most of them at all), and the Unicode
#: non-characters (U+FDD0..U+FDEF and the last two code points of every plane: U+FFFE, U+FFFF,
#: U+1FFFE...). Prose (``Text``) may hold tab and newline. Written as the inside of a regular
#: expression's character class, for the checks here and for the OpenAPI schema's patterns
#: alike (the non-characters past the first plane as the characters themselves: JSON Schema
#: dialects spell their escapes differently).
_NON_CHARACTERS = r"\ufdd0-\ufdef\ufffe\uffff" + "".join(
    f"{chr(plane + 0xFFFE)}{chr(plane + 0xFFFF)}" for plane in range(0x10000, 0x110000, 0x10000)
)
_NOT_IN_LINES = rf"\x00-\x1f\x7f-\x9f{_NON_CHARACTERS}"
_NOT_IN_PROSE = rf"\x00-\x08\x0b-\x1f\x7f-\x9f{_NON_CHARACTERS}"
_REFUSED_IN_LINES = re.compile(f"[{_NOT_IN_LINES}]")
_REFUSED_IN_PROSE = re.compile(f"[{_NOT_IN_PROSE}]")


def refused_character(text: str, *, prose: bool = False) -> str | None:
    """The first character of ``text`` an event may not hold, or ``None``."""
    if text.isascii() and text.isprintable():  # U+0020..U+007E, none refused: most text
        return None
    found = (_REFUSED_IN_PROSE if prose else _REFUSED_IN_LINES).search(text)
    return None if found is None else found.group()


def legible(text: str) -> str:
    """``text`` with every character no event may now hold (tab and newline stay) replaced by
    U+FFFD: what a feed or a page shows of an older log that holds one (XML 1.0 cannot hold
    most of them at all, even escaped)."""
    return _REFUSED_IN_PROSE.sub("\ufffd", text)


def _legible(*, prose: bool) -> Callable[[str, ValidationInfo], str]:
    """The check of what a writer sends: no control character (prose: but tab and newline), no
    non-character. Skipped for what the log already holds (``STORED``)."""
    which = "control characters other than tab and newline" if prose else "control characters"

    def check(value: str, info: ValidationInfo) -> str:
        context = info.context
        if context is not None and context.get("stored"):
            return value
        found = refused_character(value, prose=prose)
        if found is not None:
            raise ValueError(
                f"must not hold U+{ord(found):04X}: {which} (C0, DEL, C1) and Unicode "
                "non-characters are refused"
            )
        return value

    return check


def _documented(pattern: str) -> Any:
    """The schema's pattern: what the checks accept, in the OpenAPI document too."""
    return Field(json_schema_extra={"pattern": pattern})


_NAME = r"^[^ \t\n\r\f\v\x00](?:[^\x00]*[^ \t\n\r\f\v\x00])?$"
_LINE_START = rf"[^ {_NOT_IN_LINES}]"
#: A name neither starts nor ends with white space (it is refused, not trimmed), so what the
#: schema accepts is what is stored. It is one line: no control character at all.
Name = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200, pattern=_NAME),
    AfterValidator(_legible(prose=False)),
    _documented(rf"^{_LINE_START}(?:[^{_NOT_IN_LINES}]*{_LINE_START})?$"),
]
#: Prose (terms, reasons, descriptions, statements): tab and newline are allowed.
Text = Annotated[
    str,
    StringConstraints(max_length=10_000, pattern=NO_NUL),
    AfterValidator(_legible(prose=True)),
    _documented(rf"^[^{_NOT_IN_PROSE}]*$"),
]
#: A source's link: http(s), one line.
Url = Annotated[
    str,
    StringConstraints(pattern=r"^https?://[^\s\x00]+$", max_length=2000),
    AfterValidator(_legible(prose=False)),
    _documented(rf"^https?://[^\s{_NOT_IN_LINES}]+$"),
]
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
    url: Url | None = None


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
