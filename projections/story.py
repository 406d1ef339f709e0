"""Reading a conflict's story from the log, and telling it off the event loop.

The story reads the conflict's events from the log, so its cost grows with that one
conflict's length (it lists all of it), never with the rest of the log. Decoding and folding
run on a thread of their own, never on the event loop, after the connection they were read on
is given back (``read_story``, then ``Story.told``, which builds the entries with
``projections.timeline.build_timeline``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncConnection

from events.log.store import decode_rows
from events.log.tables import events
from events.model.state import AgreementState, LullState
from projections.freshness import stream_position
from projections.inline import load_agreements, load_lulls
from projections.queries.shared import conflict_head
from projections.timeline import build_timeline
from projections.views.timeline import TimelineEntry, TimelineView

__all__ = [
    "Story",
    "on_story_thread",
    "read_story",
]


#: Rows of the log taken in per await while a story is read.
_ROWS_AT_ONCE = 250


@dataclass(frozen=True, slots=True)
class Story:
    """What a conflict's story is told from, as read in one snapshot (``read_story``): its
    rows of the log, its agreements, and the positions the view reflects. Telling it needs no
    connection, so a caller can give its connection back first."""

    conflict: str
    rows: Sequence[Row[Any]]
    agreements: Sequence[AgreementState]
    known_at: datetime | None
    version: int
    position: int
    #: The position of the conflict's newest event (the view's validator).
    head: int
    lulls: Sequence[LullState] = ()

    async def told(
        self,
        *,
        as_of: datetime | None = None,
        window: timedelta,
        after: int = 0,
        limit: int | None = None,
        before: int | None = None,
    ) -> TimelineView:
        """The story up to ``as_of``, a page of it when asked (``build_timeline``'s ``after``
        and ``limit``). Decoding and folding the rows, CPU work that grows with the conflict,
        run on the process's one story thread (``_TELLING``), never on the event loop: a long
        conflict's story holds up none of the process's other requests (``/healthz`` among
        them), and stories asked at once take their turns instead of all slowing the loop."""

        def told() -> list[TimelineEntry]:
            log = decode_rows(self.rows)
            return build_timeline(
                log,
                self.agreements,
                window,
                as_of,
                after=after,
                limit=limit,
                before=before,
                lulls=self.lulls,
            )

        entries = await on_story_thread(told)
        return TimelineView(
            conflict=self.conflict,
            entries=entries,
            version=self.version,
            position=self.position,
            as_of=as_of,
            known_at=self.known_at,
        )


#: Stories are pure Python, which runs one thread at a time (the GIL): a second thread would
#: tell no more stories per second, only take more turns from the event loop.
_TELLING = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ceasefire-story")

_T = TypeVar("_T")


async def on_story_thread(work: Callable[[], _T]) -> _T:
    """``work()`` on the story thread: for the CPU work of telling a story, and of rendering
    one (a page of a thousand entries takes a while to turn into JSON too)."""
    return await asyncio.get_running_loop().run_in_executor(_TELLING, work)


async def read_story(conn: AsyncConnection, conflict: str, *, known_at: datetime | None) -> Story:
    """What the story is told from as the log told it at ``known_at`` (now when None). The
    rows come in a slice at a time, so taking a long conflict's in holds up nothing else for
    long."""
    head = await stream_position(conn, conflict)
    version, position = await conflict_head(conn, conflict, known_at)
    statement = select(events).where(events.c.conflict == conflict, events.c.position <= head)
    if known_at is not None:
        statement = statement.where(events.c.recorded_at <= known_at)
    rows: list[Row[Any]] = []
    async for part in (await conn.stream(statement.order_by(events.c.version))).partitions(
        _ROWS_AT_ONCE
    ):
        rows.extend(part)
    agreements = list((await load_agreements(conn, conflict, known_at)).values())
    lulls = list((await load_lulls(conn, conflict, known_at)).values())
    return Story(conflict, rows, agreements, known_at, version, position, head, lulls)
