"""What the status page shows, read through the projections' own queries in one snapshot.

The page shows every conflict at ``as_of`` (as known at ``known_at``): its status view, the
story up to that moment, and how long the conflict has been in its state. Nothing here reads
a table: it calls ``projections.queries`` and ``projections.timeline`` as the API does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from markupsafe import Markup

from app.pages.chart import allegations_chart
from events.store import EventStore, storage_errors
from projections.freshness import log_position, snapshot
from projections.queries import list_conflicts, read_status
from projections.timeline import TimelineEntry, read_timeline
from projections.views import StatusView

__all__ = ["ConflictPage", "PageData", "read_page", "since_of"]


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


def since_of(status: StatusView, story: list[TimelineEntry], window: timedelta) -> datetime | None:
    """When the state took its current value: the view's own ``since`` where it has one;
    otherwise worked out from the agreement and the allegations filed under it."""
    if "since" in type(status).model_fields:
        explicit: datetime | None = getattr(status, "since", None)
        return explicit
    agreement = status.agreement
    if agreement is None:
        return None
    if status.state == "pending":
        return agreement.signed_at
    if status.state == "collapsed":
        return agreement.collapsed_at
    times = sorted(
        e.occurred_at
        for e in story
        if e.type == "violation.alleged"
        and e.agreement_id == agreement.agreement_id
        and not e.retracted
    )
    if status.state == "holding":
        return max([agreement.effective_at, *(t + window for t in times[-1:])])
    start = times[-1] if times else agreement.effective_at
    for earlier in reversed(times[:-1]):
        if start - earlier >= window:
            break
        start = earlier
    return max(start, agreement.effective_at)


async def read_page(
    store: EventStore,
    *,
    as_of: datetime | None,
    known_at: datetime | None,
    window: timedelta,
) -> PageData:
    now = datetime.now(UTC)
    at = as_of or now
    pages = []
    with storage_errors():
        async with snapshot(store.engine) as conn:
            position = await log_position(conn)
            for summary in await list_conflicts(conn, as_of=at, window=window):
                status = await read_status(
                    conn, summary.conflict, as_of=at, known_at=known_at, window=window
                )
                view, _ = await read_timeline(
                    conn, summary.conflict, known_at=known_at, window=window
                )
                story = [e for e in view.entries if e.occurred_at <= at]
                if not story:
                    continue  # nothing had happened yet (or was known) at that moment
                pages.append(
                    ConflictPage(
                        status=status,
                        timeline=story[::-1],
                        since=since_of(status, story, window),
                        chart=Markup(
                            allegations_chart(f"chart-{summary.conflict}", status.allegations)
                        ),
                    )
                )
    return PageData(pages, at, as_of, known_at, now, position)
