"""The representations conditional reads serve: each view's JSON bytes with its validator.

Each one is built inside one database snapshot (``projections.freshness.snapshot``), so the
body and the position it is tagged with always agree; views of *now* also carry the instant
until which the clock alone cannot change them. A view asked without ``as_of`` says
``"as_of": null`` (now) rather than the instant it was read, so equal states have equal bytes
and a strong ETag can stand for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from starlette.datastructures import URL

from app.formats.badge import badge_svg
from app.formats.feed import FeedEntry, atom_feed, expiry_id
from app.formats.text import STATE_WORDS, duration, next_wording
from app.reads.entity_tags import Representation, Validator
from events.log.positions import log_position
from events.log.store import storage_errors
from projections.freshness import next_change, quiet_now, snapshot, stream_position
from projections.queries.actors import next_appearance, read_actors
from projections.queries.allegations import read_allegations
from projections.queries.shared import ALL_TIME, Period, conflict_head
from projections.queries.status import DEFAULT_STALE_AFTER, list_conflicts, read_status
from projections.story import on_story_thread, read_story
from projections.views import StatusView, TimelineEntry
from projections.words import in_words, local_in_words

__all__ = [
    "actors",
    "allegations",
    "badge",
    "conflicts",
    "earliest",
    "feed",
    "status",
    "timeline",
]


def _bytes(model: BaseModel | list[BaseModel]) -> bytes:
    if isinstance(model, list):
        return b"[" + b",".join(m.model_dump_json().encode() for m in model) + b"]"
    return model.model_dump_json().encode()


def fitting(parts: Sequence[bytes], max_bytes: int) -> int:
    """How many of ``parts``, from the first, fit in ``max_bytes`` together (one at least):
    where a page ends when its items are large (``CEASEFIRE_MAX_PAGE_BYTES``)."""
    size = 0
    for count, part in enumerate(parts):
        size += len(part) + 1
        if count and size > max_bytes:
            return count
    return len(parts)


async def _status_now(
    conn: AsyncConnection,
    conflict: str,
    *,
    as_of: datetime | None,
    known_at: datetime | None,
    window: timedelta,
    now: datetime,
    stale_after: timedelta = DEFAULT_STALE_AFTER,
) -> tuple[StatusView, datetime | None, int]:
    """The status at ``as_of`` (now when None); for a view of now, the instant from which the
    clock alone may change it (its ``quiet_for`` in whole days: ``quiet_now``); and the
    position of the conflict's newest event, looked up once for both the view and its
    validator."""
    head = await conflict_head(conn, conflict)
    view = await read_status(
        conn,
        conflict,
        as_of=as_of or now,
        known_at=known_at,
        window=window,
        head=head,
        stale_after=stale_after,
    )
    until = None
    if as_of is None:
        last = view.last_allegation_at
        until = await next_change(
            conn,
            conflict=conflict,
            after=now,
            known_at=known_at,
            also=[None if last is None else last + window],
            window=window,
            reported={conflict: view.last_report_at},
            stale_after=stale_after,
        )
        view = view.model_copy(update={"quiet_for": quiet_now(view.last_report_at, now)})
    return view, until, head[1]


async def _status_read(
    engine: AsyncEngine,
    conflict: str,
    *,
    as_of: datetime | None,
    known_at: datetime | None,
    window: timedelta,
    stale_after: timedelta,
) -> tuple[StatusView, datetime | None, int, datetime]:
    """``_status_now`` in a snapshot of its own, with the clock it read (``now``): what the
    status and the badge are made of."""
    with storage_errors():
        async with snapshot(engine) as conn:
            now = datetime.now(UTC)
            view, until, position = await _status_now(
                conn,
                conflict,
                as_of=as_of,
                known_at=known_at,
                window=window,
                now=now,
                stale_after=stale_after,
            )
    return view, until, position, now


async def status(
    engine: AsyncEngine,
    conflict: str,
    *,
    as_of: datetime | None,
    known_at: datetime | None,
    window: timedelta,
    stale_after: timedelta = DEFAULT_STALE_AFTER,
) -> Representation:
    view, until, position, _ = await _status_read(
        engine, conflict, as_of=as_of, known_at=known_at, window=window, stale_after=stale_after
    )
    if as_of is None:
        view = view.model_copy(update={"as_of": None})
    return Representation(_bytes(view), Validator(position, until))


def earliest(*moments: datetime | None) -> datetime | None:
    """The earliest of the instants given (None among them: no instant), None for none."""
    present = [m for m in moments if m is not None]
    return min(present) if present else None


async def badge(
    engine: AsyncEngine,
    conflict: str,
    *,
    window: timedelta,
    stale_after: timedelta = DEFAULT_STALE_AFTER,
) -> Representation:
    """The conflict's state now and how long it has held, as a badge; when it is stale, how
    long nothing was reported instead (``holding · no reports 20 months``). Tagged until the
    state may change or the wording of a length does ("12 days" becomes "13 days")."""
    view, until, position, now = await _status_read(
        engine, conflict, as_of=None, known_at=None, window=window, stale_after=stale_after
    )
    since, last = view.since, view.last_report_at
    message = STATE_WORDS.get(view.state, view.state)
    if view.stale and last is not None:
        message += f" · no reports {duration(now - last, months=True)}"
        until = earliest(until, next_wording(last, now, months=True))
    elif since is not None:
        message += f" {duration(now - since)}"
        until = earliest(until, next_wording(since, now))
    body = badge_svg("ceasefire", message, view.state).encode()
    return Representation(body, Validator(position, until), "image/svg+xml")


#: Timeline entries the feed carries: the agreements' story and the allegations.
_FEED_SKIPS = ("mission.", "actor.")
_FEED_SIZE = 200


def _local(entry: TimelineEntry) -> str:
    """`` (<local time> local)`` for an event written with a UTC offset, else nothing."""
    local = entry.occurred_at_local
    return "" if local is None else f" ({local_in_words(local)} local)"


async def feed(
    engine: AsyncEngine, conflict: str, *, window: timedelta, self_url: str, page_url: str
) -> Representation:
    """The conflict's latest entries as Atom, with expiries the log does not hold as events
    (an agreement reaching its end). Tagged until the next such end."""
    with storage_errors():
        async with snapshot(engine) as conn:
            now = datetime.now(UTC)
            source = await read_story(conn, conflict, known_at=None)
            view, until, position = await _status_now(
                conn, conflict, as_of=None, known_at=None, window=window, now=now
            )
    story = await source.told(as_of=now, window=window)
    entries = [
        FeedEntry(
            id=f"urn:uuid:{e.id}",
            title=e.summary,
            updated=max([e.recorded_at, *(n.recorded_at for n in e.notes)]),
            published=e.recorded_at,
            category=e.type,
            content=f"{e.summary} Occurred {in_words(e.occurred_at)}{_local(e)}; "
            f"source: {e.source.get('name', 'unknown')}."
            + "".join(f" {note.summary}" for note in e.notes if note.summary)
            + f" The conflict was {STATE_WORDS.get(e.state, e.state)} then.",
            occurred_at=e.occurred_at,
        )
        for e in story.entries
        if e.occurred_at <= now and not e.type.startswith(_FEED_SKIPS)
    ]
    recorded = {"agreement.expired"} & {e.type for e in story.entries}
    for agreement in [] if recorded else getattr(view, "agreements", None) or []:
        ends = getattr(agreement, "expires_at", None)
        stopped = [t for t in (agreement.collapsed_at, agreement.withdrawn_at) if t is not None]
        if ends is None or ends > now or any(t <= ends for t in stopped):
            continue
        entries.append(
            FeedEntry(
                id=expiry_id(conflict, agreement.agreement_id, ends),
                title=f"Agreement {agreement.agreement_id} expired.",
                updated=ends,
                published=ends,
                category="agreement.expired",
                content=f"Agreement {agreement.agreement_id} reached its end, {in_words(ends)}.",
                occurred_at=ends,
            )
        )
    entries.sort(key=lambda e: e.occurred_at, reverse=True)
    body = atom_feed(
        conflict,
        entries[:_FEED_SIZE],
        self_url=self_url,
        page_url=page_url,
        title=getattr(view, "title", None),
    )
    return Representation(body, Validator(position, until), "application/atom+xml")


async def allegations(
    engine: AsyncEngine,
    conflict: str,
    *,
    as_of: datetime | None,
    known_at: datetime | None,
    period: Period = ALL_TIME,
) -> Representation:
    with storage_errors():
        async with snapshot(engine) as conn:
            head = await conflict_head(conn, conflict)
            position = head[1]
            now = datetime.now(UTC)
            view = await read_allegations(
                conn,
                conflict,
                as_of=as_of or now,
                known_at=known_at,
                period=period,
                head=head,
            )
            until = None
            if as_of is None:
                until = await next_change(conn, conflict=conflict, after=now, known_at=known_at)
                view = view.model_copy(update={"as_of": None})
    return Representation(_bytes(view), Validator(position, until))


async def actors(
    engine: AsyncEngine, conflict: str, *, as_of: datetime | None, known_at: datetime | None
) -> Representation:
    """The conflict's actors. A view of now is tagged until the next signing or dispatch
    dated later (a role begins) or the next actor's first appearance."""
    with storage_errors():
        async with snapshot(engine) as conn:
            position = await stream_position(conn, conflict)
            now = datetime.now(UTC)
            view = await read_actors(conn, conflict, as_of=as_of or now, known_at=known_at)
            until = None
            if as_of is None:
                appearing = await next_appearance(conn, conflict, after=now, known_at=known_at)
                until = await next_change(
                    conn, conflict=conflict, after=now, known_at=known_at, also=[appearing]
                )
                view = view.model_copy(update={"as_of": None})
    return Representation(_bytes(view), Validator(position, until))


async def conflicts(
    engine: AsyncEngine,
    *,
    as_of: datetime | None = None,
    known_at: datetime | None = None,
    window: timedelta,
    after: str | None = None,
    limit: int = 100,
    max_bytes: int = 1024 * 1024,
    url: URL | None = None,
    stale_after: timedelta = DEFAULT_STALE_AFTER,
) -> Representation:
    """A page of the conflicts in slug order, after ``after``: a ``Link`` header (RFC 8288)
    names the next page (``url`` with ``after`` and ``limit`` set) while there is one. In a
    view of now each ``quiet_for`` is in whole days (``quiet_now``)."""
    with storage_errors():
        async with snapshot(engine) as conn:
            position = await log_position(conn)
            now = datetime.now(UTC)
            summaries = await list_conflicts(
                conn,
                as_of=as_of or now,
                known_at=known_at,
                window=window,
                after=after,
                limit=limit + 1,
                stale_after=stale_after,
            )
            if as_of is None:
                summaries = [
                    s.model_copy(update={"quiet_for": quiet_now(s.last_report_at, now)})
                    for s in summaries
                ]
            parts = [s.model_dump_json().encode() for s in summaries[:limit]]
            count = fitting(parts, max_bytes)
            more = count < len(summaries)
            summaries = summaries[:count]
            until = None
            if as_of is None:
                until = await next_change(
                    conn,
                    conflict=None,
                    after=now,
                    known_at=known_at,
                    also=[
                        s.last_allegation_at + window
                        for s in summaries
                        if s.last_allegation_at is not None
                    ],
                    window=window,
                    reported={s.conflict: s.last_report_at for s in summaries},
                    stale_after=stale_after,
                )
    links: tuple[tuple[str, str], ...] = ()
    if more and url is not None:
        following = url.include_query_params(after=summaries[-1].conflict, limit=limit)
        links = (("Link", f'<{following}>; rel="next"'),)
    return Representation(
        b"[" + b",".join(parts[:count]) + b"]", Validator(position, until), headers=links
    )


async def timeline(
    engine: AsyncEngine,
    conflict: str,
    *,
    as_of: datetime | None = None,
    known_at: datetime | None,
    window: timedelta,
    after: int = 0,
    limit: int = 1000,
    max_bytes: int = 1024 * 1024,
    url: URL | None = None,
) -> Representation:
    """A page of the story: the entries after the one at position ``after`` (0: from the
    start), at most ``limit`` and ``max_bytes``; ``next_after`` says where the next begins,
    and a ``Link`` header (RFC 8288) names it (``url`` with ``after`` and ``limit`` set)."""
    with storage_errors():
        async with snapshot(engine) as conn:
            story = await read_story(conn, conflict, known_at=known_at)
    # Told and rendered with the connection given back: a long story holds no connection.
    view = await story.told(as_of=as_of, window=window, after=after, limit=limit + 1)

    def paged() -> tuple[bytes, int | None]:
        entries = view.entries
        count = fitting([e.model_dump_json().encode() for e in entries[:limit]], max_bytes)
        page = entries[:count]
        following = page[-1].position if count < len(entries) and page else None
        return _bytes(view.model_copy(update={"entries": page, "next_after": following})), following

    body, following = await on_story_thread(paged)
    links: tuple[tuple[str, str], ...] = ()
    if following is not None and url is not None:
        next_url = url.include_query_params(after=following, limit=limit)
        links = (("Link", f'<{next_url}>; rel="next"'),)
    return Representation(body, Validator(story.head), headers=links)
