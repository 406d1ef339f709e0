"""Conditional reads: strong ETags, 304 Not Modified, and long-poll with ``Prefer: wait``.

Every read of state is tagged with the log position it reflects (the conflict's newest event,
or the whole log's for reads that span it) and, for views of *now*, the instant until which
the clock alone cannot change it (``projections.freshness``). The tag spells both:
``"s<position>.<until, µs since the epoch>.<salt>"`` (the salt changes with the settings and the
API version that shape the body). So whether a client's ``If-None-Match`` is still current is
decided from one indexed lookup of the head position and the clock: a 304 never touches the
projection tables.

With ``Prefer: wait=N`` (RFC 7240, N at most 60) and a current tag, the request waits until
the head moves, the tag's instant passes, or N seconds do: then 200 with the new body, or 304.
Waiting holds no database connection: waiters are futures in the process's
``AppendNotifier``, released by the one listener per process.

Bodies are built once per position: equal reads in flight share one computation, and a
cache bounded in bytes (``CEASEFIRE_REPRESENTATION_CACHE_BYTES``) keeps recent ones, keyed by
what was asked and checked against the head on every request (a cached body is never older
than the head the request saw). At most ``CEASEFIRE_MAX_LONG_POLLS`` requests wait at once in
a process; past that a waiting request is refused with a 503 problem and ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response

from app.capacity import Gauge
from events.heads import Heads
from events.notifications import AppendNotifier

__all__ = [
    "CONDITIONAL_HEADERS",
    "MAX_WAIT",
    "ConditionalDep",
    "ConditionalReads",
    "IfNoneMatch",
    "Prefer",
    "Representation",
    "Validator",
    "conditional_responses",
    "parse_wait",
]

#: The longest ``Prefer: wait`` honoured, in seconds; longer asks are cut to it.
MAX_WAIT = 60

IfNoneMatch = Annotated[
    str | None,
    Header(
        alias="If-None-Match",
        description="An ETag from an earlier answer: 304 with no body while it is current.",
    ),
]
Prefer = Annotated[
    str | None,
    Header(
        alias="Prefer",
        description="`wait=N` (RFC 7240, N ≤ 60 seconds) with a current If-None-Match: hold "
        "the request until the state changes (200) or N seconds pass (304).",
    ),
]

_ETAG = {"description": 'Strong validator of this representation, e.g. `"s42.ab12cd34"`.'}
_CACHE_CONTROL = {"description": "`no-cache`: store it, but revalidate before each use."}
_APPLIED = {"description": "`wait=N`: the request waited (up to N seconds) as asked."}
CONDITIONAL_HEADERS: dict[str, Any] = {
    "ETag": _ETAG,
    "Cache-Control": _CACHE_CONTROL,
    "Preference-Applied": _APPLIED,
}


def conditional_responses(
    description: str = "The current representation.",
) -> dict[int | str, Any]:
    """The OpenAPI ``responses`` entries a conditional read adds: its 200's headers and 304."""
    return {
        200: {"description": description, "headers": CONDITIONAL_HEADERS},
        304: {
            "description": "Not Modified: the If-None-Match tag is current (after waiting, "
            "with `Prefer: wait`, for a change that did not come). No body.",
            "headers": CONDITIONAL_HEADERS,
        },
    }


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


class _Cache:
    """Recent representations by what was asked, at most ``max_bytes`` of bodies in all (the
    least recently used go first; a body larger than the whole budget is not kept); equal
    computations in flight shared."""

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._bytes = 0
        self._entries: OrderedDict[Hashable, Representation] = OrderedDict()
        self._flights: dict[Hashable, asyncio.Future[Representation]] = {}

    @property
    def bytes(self) -> int:
        """The size of the bodies kept."""
        return self._bytes

    async def get(
        self,
        key: Hashable,
        head: int,
        now: datetime,
        compute: Callable[[], Awaitable[Representation]],
    ) -> Representation:
        """A representation reflecting ``head`` or later, current at ``now``."""
        entry = self._entries.get(key)
        if entry is not None and _fresh(entry, head, now):
            self._entries.move_to_end(key)
            return entry
        flight = self._flights.get(key)
        if flight is not None:
            shared = await asyncio.shield(flight)
            if _fresh(shared, head, now):
                return shared
        return await self._compute(key, compute)

    async def _compute(
        self, key: Hashable, compute: Callable[[], Awaitable[Representation]]
    ) -> Representation:
        flight: asyncio.Future[Representation] = asyncio.get_running_loop().create_future()
        self._flights[key] = flight
        try:
            representation = await compute()
        except BaseException as error:
            flight.set_exception(error)
            flight.exception()  # retrieved: joiners re-raise it; nobody else must log it
            raise
        finally:
            if self._flights.get(key) is flight:
                del self._flights[key]
        flight.set_result(representation)
        self._keep(key, representation)
        return representation

    def _keep(self, key: Hashable, representation: Representation) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= len(old.body)
        size = len(representation.body)
        if size > self._max_bytes:
            return
        self._entries[key] = representation
        self._bytes += size
        while self._bytes > self._max_bytes:
            _, dropped = self._entries.popitem(last=False)
            self._bytes -= len(dropped.body)


def _fresh(representation: Representation, head: int, now: datetime) -> bool:
    validator = representation.validator
    return validator.position >= head and (validator.until is None or now < validator.until)


class ConditionalReads:
    """The conditional-read machinery of one app: the notifier waiters hang on, the head
    lookups tags are compared with, the cache of representations, and the salt of its tags."""

    def __init__(
        self,
        notifier: AppendNotifier,
        heads: Heads,
        *,
        cache_bytes: int,
        salt_from: str,
        max_waiting: int,
    ) -> None:
        self.notifier = notifier
        self.heads = heads
        self.salt = hashlib.sha256(salt_from.encode()).hexdigest()[:8]
        self._cache = _Cache(cache_bytes)
        self.waiting = Gauge("long-polls", max_waiting)

    async def respond(
        self,
        request: Request,
        *,
        kind: str,
        key: Hashable,
        channel: str | None,
        head: Callable[[], Awaitable[int]],
        compute: Callable[[], Awaitable[Representation]],
        if_none_match: str | None,
    ) -> Response:
        """Answer a conditional GET. ``head`` is the cheap lookup of the position a fresh
        representation would reflect (it raises for an unknown resource); ``compute`` builds
        one; ``channel`` is the conflict whose appends move ``head`` (None: any)."""
        position = await head()
        now = datetime.now(UTC)
        matched = self._matching(if_none_match, kind, position, now)
        if matched is None:
            representation = await self._cache.get(key, position, now, compute)
            return self._ok(kind, representation)
        wait = parse_wait(request.headers.getlist("prefer"))
        if not wait:
            return self._not_modified(matched, kind, None)
        applied = min(wait, MAX_WAIT)
        with self.waiting.held():
            moved = await self._wait(request, channel, matched, head, applied)
        if moved is None:
            return self._not_modified(matched, kind, applied)
        representation = await self._cache.get(key, moved, datetime.now(UTC), compute)
        response = self._ok(kind, representation)
        response.headers["Preference-Applied"] = f"wait={applied}"
        return response

    def _matching(
        self, header: str | None, kind: str, position: int, now: datetime
    ) -> Validator | None:
        """The client's validator that is current, if any (``*``: the head's own)."""
        if header is None:
            return None
        tags = entity_tags(header)
        if tags is None:
            return Validator(position)
        for opaque in tags:
            validator = parse_tag(opaque, kind, self.salt)
            if validator is not None and validator.current(position, now):
                return validator
        return None

    async def _wait(
        self,
        request: Request,
        channel: str | None,
        validator: Validator,
        head: Callable[[], Awaitable[int]],
        seconds: int,
    ) -> int | None:
        """Wait until the head moves past the validator (its new position), the validator's
        instant passes (its position: the same events, a new state) or ``seconds`` do (None)."""
        deadline = time.monotonic() + seconds
        gone = asyncio.ensure_future(_disconnected(request))
        try:
            while not self.notifier.closed:  # closed: the process is stopping
                with self.notifier.subscribe(channel, validator.position) as subscription:
                    position = await head()  # after subscribing: no append slips between
                    if position != validator.position:
                        return position
                    left = deadline - time.monotonic()
                    if validator.until is not None:
                        due = (validator.until - datetime.now(UTC)).total_seconds()
                        if due <= 0:
                            return position
                        left = min(left, due)
                    if left <= 0 or gone.done():
                        return None
                    moved = await subscription.wait(left, unless=gone)
                    if moved is not None:
                        return moved
            return None
        finally:
            gone.cancel()

    def _ok(self, kind: str, representation: Representation) -> Response:
        return Response(
            representation.body,
            media_type=representation.media_type,
            headers={
                **dict(representation.headers),
                "ETag": format_tag(kind, representation.validator, self.salt),
                "Cache-Control": "no-cache",
            },
        )

    def _not_modified(self, validator: Validator, kind: str, applied: int | None) -> Response:
        """304 with what RFC 9110 (15.4.5) asks of it: the ETag and Cache-Control a 200 would
        carry (the server adds Date), and no body."""
        headers = {"ETag": format_tag(kind, validator, self.salt), "Cache-Control": "no-cache"}
        if applied is not None:
            headers["Preference-Applied"] = f"wait={applied}"
        return Response(status_code=304, headers=headers)


async def get_conditional(request: Request) -> ConditionalReads:
    # async: FastAPI would run a plain ``def`` dependency in a worker thread
    conditional: ConditionalReads = request.app.state.conditional
    return conditional


ConditionalDep = Annotated[ConditionalReads, Depends(get_conditional)]


async def _disconnected(request: Request) -> None:
    """Returns when the client goes away. A GET has no body to read, so the next message the
    server sends the app is ``http.disconnect``."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return
