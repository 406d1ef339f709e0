"""What the status page shows, read through the projections' own queries in one snapshot.

The page shows every conflict at ``as_of`` (as known at ``known_at``): its status view, the
story up to that moment, and how long the conflict has been in its state. Nothing here reads
a table: it calls ``projections.queries`` and ``projections.timeline`` as the API does. The
stories are told once the snapshot's connection is given back (``Story.told``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from markupsafe import Markup

from app.pages.chart import allegations_chart
from events.log.positions import log_position
from events.log.store import EventStore, storage_errors
from projections.freshness import snapshot
from projections.queries.status import DEFAULT_STALE_AFTER, list_conflicts, read_status
from projections.timeline import Story, TimelineEntry, read_story
from projections.views import StatusView

__all__ = ["ConflictPage", "PageData", "read_page"]


@dataclass(frozen=True)
class ConflictPage:
    status: StatusView
    #: The story up to ``as_of``, newest first.
    timeline: list[TimelineEntry]
    #: When the conflict's state took its current value (None: no agreement yet).
    since: datetime | None
    chart: Markup


@dataclass(frozen=True)
class PageData:
    conflicts: list[ConflictPage]
    #: The moment shown (``now`` when none was asked for).
    at: datetime
    as_of: datetime | None
    known_at: datetime | None
    now: datetime
    #: The log position the page reflects: the live stream resumes after it.
    position: int


async def read_page(
    store: EventStore,
    *,
    as_of: datetime | None,
    known_at: datetime | None,
    window: timedelta,
    stale_after: timedelta = DEFAULT_STALE_AFTER,
) -> PageData:
    now = datetime.now(UTC)
    at = as_of or now
    read: list[tuple[StatusView, Story]] = []
    with storage_errors():
        async with snapshot(store.engine) as conn:
            position = await log_position(conn)
            summaries = await list_conflicts(conn, as_of=at, known_at=known_at, window=window)
            for summary in summaries:
                status = await read_status(
                    conn,
                    summary.conflict,
                    as_of=at,
                    known_at=known_at,
                    window=window,
                    stale_after=stale_after,
                )
                read.append((status, await read_story(conn, summary.conflict, known_at=known_at)))
    pages = []
    for status, source in read:  # told with the connection given back
        story = (await source.told(as_of=at, window=window)).entries
        if not story:
            continue  # nothing had happened yet (or was known) at that moment
        pages.append(
            ConflictPage(
                status=status,
                timeline=story[::-1],
                since=status.since,
                chart=Markup(allegations_chart(f"chart-{source.conflict}", status.allegations)),
            )
        )
    return PageData(pages, at, as_of, known_at, now, position)
