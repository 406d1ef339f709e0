"""What the pages show, read through the projections' own queries in one snapshot, rendered
into the representations conditional reads serve (``app.reads.conditional``).

- ``index``: a page of the conflict list (searched, in the order asked), each with its state,
  since when, when it last changed and its headline counts. States are read only for the
  conflicts of the page, so its cost grows with the page, not with the log or the list.
- ``conflict``: one conflict in full: its agreements, the allegations per party (chart and
  table) and who accuses whom (a matrix from three actors on), its missions and a page of its
  timeline, newest first.
- ``embed``: one conflict's compact card, for another site's frame.

Each is tagged with the position it reflects (the log's for the index, the conflict's for the
others) and, for a view of *now*, the instant until which the clock alone cannot change a word
of it: a state changing by itself (``projections.freshness.next_change``), "for 12 days"
becoming "for 13 days", a countdown in words moving on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.formats.text import next_countdown_wording, next_wording
from app.pages.chart import allegations_chart
from app.pages.render import render
from app.reads.entity_tags import Representation, Validator
from app.reads.view_bytes import earliest
from events.log.positions import log_position
from events.log.store import storage_errors
from projections.freshness import next_change, snapshot
from projections.queries.overview import ListOrder, accusations, list_page
from projections.queries.shared import conflict_head
from projections.queries.status import DEFAULT_STALE_AFTER, read_status
from projections.story import read_story
from projections.views import StatusView, TimelineEntry

__all__ = ["PAGE_SIZE", "TIMELINE_PAGE", "Moment", "conflict", "embed", "index"]

#: Conflicts per page of the list, and timeline entries per page of a conflict.
PAGE_SIZE = 25
TIMELINE_PAGE = 50
_HTML = "text/html; charset=utf-8"


@dataclass(frozen=True)
class Moment:
    """The moment a page shows: ``at`` (``as_of``, or now) as known at ``known_at``."""

    at: datetime
    as_of: datetime | None
    known_at: datetime | None
    now: datetime

    @property
    def live(self) -> bool:
        """A page of now, as the log says now: the one that follows the stream."""
        return self.as_of is None and self.known_at is None


@dataclass(frozen=True)
class Headline:
    """One conflict as the list and the card show it."""

    status: StatusView
    #: When its newest event (known then) was recorded: how fresh its entry is.
    changed_at: datetime | None
    #: Agreements and declarations signed by then; allegations standing under the current
    #: one (denied ones included: a denial does not withdraw a claim); active missions.
    agreements: int
    allegations: int
    denied: int
    missions: int


def _headline(status: StatusView, changed_at: datetime | None) -> Headline:
    counts = status.allegations.values()
    return Headline(
        status=status,
        changed_at=changed_at,
        agreements=len(status.agreements),
        allegations=sum(c.made + c.received_from_third_parties for c in counts),
        denied=sum(c.denied for c in counts),
        missions=len(status.missions),
    )


def _shown(status: StatusView, moment: Moment) -> bool:
    """Whether anything of the conflict had happened by then (else the list leaves it out); a
    conflict only described so far is listed now (its description's date is not a view's)."""
    happened = status.agreements or status.missions or status.last_allegation_at
    return bool(happened or (moment.as_of is None and status.description is not None))


async def _clock(
    conn: AsyncConnection,
    conflict: str | list[str],
    statuses: list[StatusView],
    moment: Moment,
    window: timedelta,
) -> datetime | None:
    """For a page of now: when the clock alone next changes a word of it. The state of a
    conflict shown (``next_change``: of that one, or of those of a page of the list, in one
    query), how long it has been in it, a countdown in words. None for
    a page of the past."""
    if moment.as_of is not None:
        return None
    now = moment.now
    until = await next_change(
        conn,
        conflict=conflict,
        after=now,
        known_at=moment.known_at,
        also=[s.last_allegation_at + window for s in statuses if s.last_allegation_at],
        window=window,
        reported={s.conflict: s.last_report_at for s in statuses},
        stale_after=DEFAULT_STALE_AFTER,
    )
    for status in statuses:
        if status.since is not None:
            until = earliest(until, next_wording(status.since, now))
        for agreement in status.agreements:
            for ends in (agreement.effective_at, agreement.expires_at):
                if ends is not None and ends > now:
                    until = earliest(until, next_countdown_wording(ends, now))
    return until


async def index(
    engine: AsyncEngine,
    moment: Moment,
    *,
    window: timedelta,
    search: str | None,
    order: ListOrder,
    page: int,
) -> Representation:
    """A page of the conflict list, tagged with the log's position (the order of the list moves
    with any append)."""
    with storage_errors():
        async with snapshot(engine) as conn:
            position = await log_position(conn)
            listed, total = await list_page(
                conn,
                known_at=moment.known_at,
                search=search,
                order=order,
                offset=(page - 1) * PAGE_SIZE,
                limit=PAGE_SIZE,
            )
            rows: list[Headline] = []
            statuses: list[StatusView] = []
            for item in listed:
                status = await read_status(
                    conn, item.conflict, as_of=moment.at, known_at=moment.known_at, window=window
                )
                statuses.append(status)
                if _shown(status, moment):
                    rows.append(_headline(status, item.changed_at))
            read = [s.conflict for s in statuses]
            until = await _clock(conn, read, statuses, moment, window) if read else None
    pages = max(1, -(-total // PAGE_SIZE))
    # The stream's own filter follows the conflicts on screen, from the position shown.
    stream = None
    if rows:
        shown = urlencode([("after", position), *(("conflict", h.status.conflict) for h in rows)])
        stream = f"/v1/stream?{shown}"
    body = await render(
        "index.html",
        moment=moment,
        rows=rows,
        left_out=len(listed) - len(rows),
        total=total,
        page=page,
        pages=pages,
        search=search or "",
        order=order,
        stream=stream,
    )
    return Representation(body, Validator(position, until), _HTML)


def _actors(status: StatusView, pairs: dict[tuple[str, str], int]) -> list[str]:
    """Everyone in the matrix: the current agreement's parties and every accuser and accused."""
    names = set(status.allegations)
    for by, accused in pairs:
        names.update((by, accused))
    return sorted(names, key=str.casefold)


async def conflict(
    engine: AsyncEngine,
    slug: str,
    moment: Moment,
    *,
    window: timedelta,
    before: int | None,
) -> Representation:
    """The conflict's page: everything about it, and a page of its timeline (the newest
    ``TIMELINE_PAGE`` entries before the one at ``before``; None: the newest of all)."""
    with storage_errors():
        async with snapshot(engine) as conn:
            head = await conflict_head(conn, slug)
            status = await read_status(
                conn, slug, as_of=moment.at, known_at=moment.known_at, window=window, head=head
            )
            until = await _clock(conn, slug, [status], moment, window)
            pairs = await accusations(conn, slug, as_of=moment.at, known_at=moment.known_at)
            story = await read_story(conn, slug, known_at=moment.known_at)
    told = await story.told(
        as_of=moment.at, window=window, before=before or 0, limit=TIMELINE_PAGE + 1
    )
    entries: list[TimelineEntry] = told.entries
    older = len(entries) > TIMELINE_PAGE
    entries = entries[-TIMELINE_PAGE:]
    actors = _actors(status, pairs)
    body = await render(
        "conflict.html",
        moment=moment,
        s=status,
        chart=Markup(allegations_chart(f"chart-{slug}", status.allegations)),
        pairs=pairs,
        actors=actors,
        matrix=len(actors) >= 3 and bool(pairs),
        timeline=entries[::-1],
        older=entries[0].position if older and entries else None,
        before=before,
        stream=f"/v1/stream?{urlencode({'after': head[1], 'conflict': slug})}",
    )
    return Representation(body, Validator(head[1], until), _HTML)


async def embed(engine: AsyncEngine, slug: str, *, window: timedelta) -> Representation:
    """The conflict's card as of now: its state, since when, its countdown, a link to its page."""
    now = datetime.now(UTC)
    moment = Moment(now, None, None, now)
    with storage_errors():
        async with snapshot(engine) as conn:
            head = await conflict_head(conn, slug)
            status = await read_status(
                conn, slug, as_of=now, known_at=None, window=window, head=head
            )
            until = await _clock(conn, slug, [status], moment, window)
    body = await render("embed.html", moment=moment, s=status, headline=_headline(status, None))
    return Representation(body, Validator(head[1], until), _HTML)
