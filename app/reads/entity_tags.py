"""What a conditional read's tags stand for (``Validator``), how they are spelt and read back,
and the request headers that carry them: ``If-None-Match`` and ``Prefer: wait``.

A tag is ``"<kind><position>.<until, µs since the epoch>.<salt>"``: the log position the
representation reflects, for a view of now the instant until which the clock alone cannot
change it, and a salt that changes with the settings and API version that shape the body.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = [
    "MAX_WAIT",
    "Representation",
    "Validator",
    "entity_tags",
    "format_tag",
    "parse_tag",
    "parse_wait",
]

#: The longest ``Prefer: wait`` honoured, in seconds; longer asks are cut to it.
MAX_WAIT = 60


@dataclass(frozen=True, slots=True)
class Validator:
    #: The log position the representation reflects.
    position: int
    #: For a view of now: the instant from which the clock alone may change it.
    until: datetime | None = None

    def current(self, head: int, now: datetime) -> bool:
        return self.position == head and (self.until is None or now < self.until)


@dataclass(frozen=True, slots=True)
class Representation:
    body: bytes
    validator: Validator
    media_type: str = "application/json"
    #: Headers the body comes with (a page's ``Link`` to the next).
    headers: tuple[tuple[str, str], ...] = ()


# No fixed digit count for the instant: an event dated after 2286 makes it 17 digits, and
# nothing here may stop matching then. Anchored, one way to match: linear in the tag's length.
_TAG = re.compile(
    r"^(?P<kind>[a-z]+)(?P<position>\d{1,19})(?:\.(?P<until>\d{1,24}))?\.(?P<salt>[0-9a-f]{8})$"
)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def format_tag(kind: str, validator: Validator, salt: str) -> str:
    until = "" if validator.until is None else f".{(validator.until - _EPOCH) // _MICROSECOND}"
    return f'"{kind}{validator.position}{until}.{salt}"'


def parse_tag(opaque: str, kind: str, salt: str) -> Validator | None:
    """Our validator behind an opaque tag of this kind and salt; None for any other tag."""
    match = _TAG.match(opaque)
    if match is None or match["kind"] != kind or match["salt"] != salt:
        return None
    until = match["until"]
    if until is None:
        return Validator(int(match["position"]))
    try:
        return Validator(int(match["position"]), _EPOCH + int(until) * _MICROSECOND)
    except OverflowError:  # past the year 9999: not a tag we made
        return None


def entity_tags(header: str) -> list[str] | None:
    """The opaque tags of an If-None-Match value (weak ones compared as strong ones, as RFC 9110
    asks of If-None-Match); None for ``*``.

    A scan, not a regular expression: each character is looked at a bounded number of times,
    so a header of any shape costs time linear in its length (a backtracking pattern took
    seconds of the event loop over 16,000 spaces). An element that is not an entity tag is
    skipped up to the next comma."""
    if header.strip() == "*":
        return None
    tags: list[str] = []
    end = len(header)
    i = 0
    while i < end:
        while i < end and header[i] in _LIST_SPACE:
            i += 1
        if header.startswith("W/", i):
            i += 2
        if i < end and header[i] == '"':
            close = header.find('"', i + 1)
            if close < 0:
                break
            rest = close + 1
            while rest < end and header[rest] in " \t":
                rest += 1
            if rest == end or header[rest] == ",":
                tags.append(header[i + 1 : close])
            i = rest
        comma = header.find(",", i)
        if comma < 0:
            break
        i = comma + 1
    return tags


_LIST_SPACE = frozenset(" \t,")


def parse_wait(values: list[str]) -> int | None:
    """The ``wait`` preference of the Prefer header(s), in seconds; None when not asked."""
    for value in values:
        for preference in value.split(","):
            token, _, rest = preference.strip().partition("=")
            if token.strip().lower() != "wait":
                continue
            number = rest.split(";", 1)[0].strip().strip('"')
            if number.isdigit():
                return int(number)
    return None
