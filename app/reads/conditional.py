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
One client address computes at most ``CEASEFIRE_MAX_READS_PER_CLIENT`` bodies at once (a read
served from the cache, or sharing another's computation, costs nothing and is not counted) and
waits in at most ``CEASEFIRE_MAX_LONG_POLLS_PER_CLIENT`` long-polls; past them, 429 with
``Retry-After`` for that client alone (``app.http.capacity``).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Annotated, NotRequired, TypedDict, Unpack

from fastapi import Depends, Request, Response

from app.http.capacity import Gauge, PerClient, client_of
from app.reads.cache import RepresentationCache
from app.reads.entity_tags import (
    MAX_WAIT,
    Representation,
    Validator,
    entity_tags,
    format_tag,
    parse_tag,
    parse_wait,
)
from app.services.api_keys import ApiKey
from app.settings import Settings
from events.log.notifications import AppendNotifier
from events.log.routing import ReadDatabase, ReadRouter
from events.log.store import storage_errors
from events.model.errors import StorageUnavailableError, UnknownConflictError
from projections.freshness import newest_recorded_at

__all__ = [
    "CachePolicy",
    "ConditionalDep",
    "ConditionalRead",
    "ConditionalReads",
    "Read",
    "get_conditional",
]


@dataclass(frozen=True, slots=True)
class CachePolicy:
    """The ``Cache-Control`` of a conditional read, for browsers and shared caches (CDNs).

    - A request with a key (``Authorization``): ``private, no-cache``; a shared cache must not
      hand one client's answer to another, and ``Vary: Authorization`` says so besides.
    - Anonymous, pinned in ``as_of`` and ``known_at`` to a settled past: ``immutable``.
    - Anonymous, of *now*: ``public, max-age=…, stale-while-revalidate=…`` when ``max_age`` is
      set, else ``no-cache`` (stored, revalidated with the ETag before each use).
    """

    max_age: int = 0
    stale_while_revalidate: int = 0

    def header(self, request: Request, *, immutable: bool) -> str:
        if "authorization" in request.headers:
            return "private, no-cache"
        if immutable:
            return "public, max-age=31536000, immutable"
        if not self.max_age:
            return "no-cache"
        if self.stale_while_revalidate:
            return (
                f"public, max-age={self.max_age}, "
                f"stale-while-revalidate={self.stale_while_revalidate}"
            )
        return f"public, max-age={self.max_age}"


#: The head lookup and the computation of a representation, on the database chosen for the read.
Head = Callable[[ReadDatabase], Awaitable[int]]
Compute = Callable[[ReadDatabase], Awaitable[Representation]]


def _head_of(conflict: str | None) -> Head:
    """The cheap lookup of the position a fresh representation would reflect: the conflict's
    newest event (``UnknownConflictError`` for none), or the whole log's."""
    if conflict is None:
        return lambda database: database.heads.log()
    return lambda database: database.heads.stream(conflict)


class ConditionalReads:
    """The conditional-read machinery of one app: the notifier waiters hang on, the databases
    reads go to (with their head lookups), the cache of representations, the cache policy and
    the salt of its tags."""

    def __init__(
        self,
        notifier: AppendNotifier,
        router: ReadRouter,
        *,
        cache_bytes: int,
        salt_from: str,
        max_waiting: int,
        max_waiting_per_client: int,
        max_computing_per_client: int,
        policy: CachePolicy = CachePolicy(),
        immutable_after: timedelta = timedelta(hours=1),
    ) -> None:
        self.notifier = notifier
        self.router = router
        self.salt = hashlib.sha256(salt_from.encode()).hexdigest()[:8]
        self.policy = policy
        self._cache = RepresentationCache(cache_bytes)
        self._immutable_after = immutable_after
        #: A view pinned to a ``known_at`` before this cannot change (it only ever grows).
        self._settled_before: datetime | None = None
        self._settled_looked_at = float("-inf")
        #: Requests held by ``Prefer: wait`` right now (``/metrics``), under their cap.
        self.waiting = Gauge("long-polls", max_waiting)
        self.waiting_per_client = PerClient("long-polls", max_waiting_per_client)
        #: Bodies being computed for each client (cache misses): the expensive reads.
        self.computing = PerClient("reads being computed", max_computing_per_client, retry_after=1)

    async def respond(
        self,
        request: Request,
        *,
        kind: str,
        key: Hashable,
        conflict: str | None,
        compute: Compute,
        if_none_match: str | None,
        min_position: int | None = None,
        as_of: datetime | None = None,
        known_at: datetime | None = None,
    ) -> Response:
        """Answer a conditional GET: the one shape of every conditional-read route.
        ``conflict``: the conflict the representation is of (its head tags it, its appends end
        a wait; an unknown one is a 404), or None for the whole log's. ``compute`` builds a
        representation. ``min_position``: answer only from a database whose log has reached it
        (the answer's ``Log-Position`` says how far it had). A view pinned in ``as_of`` and
        ``known_at`` is immutable once ``known_at`` is settled."""
        head = _head_of(conflict)
        channel = conflict
        pinned = known_at if as_of is not None else None
        database, reached = await self.router.choose(min_position)
        try:
            response = await self._respond(
                request, database, kind, key, channel, head, compute, if_none_match
            )
        except StorageUnavailableError:
            if database.is_primary:
                raise
            self.router.failed(database)  # a standby went away under the read: the primary
            database, reached = await self.router.choose(min_position)
            response = await self._respond(
                request, database, kind, key, channel, head, compute, if_none_match
            )
        immutable = pinned is not None and await self._settled(database, pinned)
        response.headers["Cache-Control"] = self.policy.header(request, immutable=immutable)
        response.headers["Vary"] = "Authorization"
        if reached is not None:
            response.headers["Log-Position"] = str(reached)
        return response

    async def _respond(
        self,
        request: Request,
        database: ReadDatabase,
        kind: str,
        key: Hashable,
        channel: str | None,
        head: Head,
        compute: Compute,
        if_none_match: str | None,
    ) -> Response:
        held = self._held(if_none_match, kind)
        try:
            position = await head(database)
        except UnknownConflictError:
            if database.is_primary or not held:
                raise
            position = 0  # a standby that has not replayed the conflict the client has seen
        if held > position and not database.is_primary:
            # The client saw a later state (from the primary, or a standby further on): never
            # answer it an older one. Wait for this standby, or read the primary.
            database, _ = await self.router.choose(held, strict=False)
            position = await head(database)
        now = datetime.now(UTC)
        matched = self._matching(if_none_match, kind, position, now)
        if matched is None:
            representation = await self._cache.get(
                key, position, now, partial(self._computed, request, compute, database)
            )
            return self._ok(kind, representation)
        wait = parse_wait(request.headers.getlist("prefer"))
        if not wait:
            return self._not_modified(matched, kind, None)
        applied = min(wait, MAX_WAIT)
        with self.waiting.held(), self.waiting_per_client.held(client_of(request)):
            moved = await self._wait(request, channel, matched, head, applied)
        if moved is None:
            return self._not_modified(matched, kind, applied)
        # Woken by the primary's notification: read where the log has reached that position.
        database, _ = await self.router.choose(moved, strict=False)
        representation = await self._cache.get(
            key, moved, datetime.now(UTC), partial(self._computed, request, compute, database)
        )
        response = self._ok(kind, representation)
        response.headers["Preference-Applied"] = f"wait={applied}"
        return response

    async def _computed(
        self, request: Request, compute: Compute, database: ReadDatabase
    ) -> Representation:
        """``compute`` on a cache miss, counted under the client's cap. Over the cap, the 429
        is raised before the computation's first await: nobody can have joined it yet, so
        no other client ever shares the refusal."""
        with self.computing.held(client_of(request)):
            return await compute(database)

    async def _settled(self, database: ReadDatabase, known_at: datetime) -> bool:
        """Whether nothing can be recorded any more at or before ``known_at``: it is earlier
        than the newest event's ``recorded_at`` by ``immutable_after``. Imports never add
        events recorded before the log's newest (``app.cli.importer``). The newest is looked up at
        most once a second; when it cannot be, the answer is no (never wrongly immutable)."""
        if self._settled_before is not None and known_at < self._settled_before:
            return True
        if time.monotonic() - self._settled_looked_at < 1.0:
            return False
        self._settled_looked_at = time.monotonic()
        try:
            with storage_errors():
                async with database.engine.connect() as conn:
                    newest = await newest_recorded_at(conn)
        except StorageUnavailableError:
            return False
        if newest is None:
            return False
        settled = newest - self._immutable_after
        if self._settled_before is None or settled > self._settled_before:
            self._settled_before = settled
        return known_at < self._settled_before

    def _held(self, header: str | None, kind: str) -> int:
        """The latest position among the client's tags of this kind (0: none)."""
        if header is None:
            return 0
        tags = entity_tags(header) or []
        positions = [parse_tag(opaque, kind, self.salt) for opaque in tags]
        return max((v.position for v in positions if v is not None), default=0)

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
        head: Head,
        seconds: int,
    ) -> int | None:
        """Wait until the head moves past the validator (its new position), the validator's
        instant passes (its position: the same events, a new state) or ``seconds`` do (None).
        The head is looked at on the primary: notifications come from it, and a standby may
        not have replayed the append whose notification came before the subscription."""
        deadline = time.monotonic() + seconds
        gone = asyncio.ensure_future(_disconnected(request))
        try:
            while not self.notifier.closed:  # closed: the process is stopping
                with self.notifier.subscribe(channel, validator.position) as subscription:
                    # after subscribing: no append slips between
                    position = await head(self.router.primary)
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
            },
        )

    def _not_modified(self, validator: Validator, kind: str, applied: int | None) -> Response:
        """304 with what RFC 9110 (15.4.5) asks of it: the ETag and Cache-Control a 200 would
        carry (``respond`` adds Cache-Control, the server Date), and no body."""
        headers = {"ETag": format_tag(kind, validator, self.salt)}
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


class Read(TypedDict):
    """What a route says of its conditional read (``ConditionalReads.respond``)."""

    kind: str
    key: Hashable
    conflict: str | None
    compute: Compute
    min_position: NotRequired[int | None]
    as_of: NotRequired[datetime | None]
    known_at: NotRequired[datetime | None]


@dataclass(frozen=True, slots=True)
class ConditionalRead:
    """A conditional GET as its route received it: the request, its ``If-None-Match`` (the
    ``Prefer`` header is read by ``ConditionalReads``), the service that answers it, the
    settings that shape the body and the reader's key it was asked with (None: no key, where
    reads need none). A route says only what it reads (``respond``), not the same parameters
    and the same call as every other conditional read."""

    request: Request
    reads: ConditionalReads
    if_none_match: str | None
    settings: Settings
    key: ApiKey | None

    async def respond(self, **read: Unpack[Read]) -> Response:
        """``ConditionalReads.respond`` for this request."""
        return await self.reads.respond(self.request, if_none_match=self.if_none_match, **read)
