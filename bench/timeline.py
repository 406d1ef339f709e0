"""What a conflict's timeline costs as the conflict grows: the whole story of a conflict of 500,
4,000 and 16,000 events, read in-process as ``/v1/conflicts/{c}/timeline`` reads it
(``projections.timeline.read_story`` then ``Story.told``: the conflict's events and agreements
read, decoded and folded), and the fold alone (``build_timeline`` on the decoded events), with
the ratio of each size's time to the smallest's. Linear: 8 and 32; quadratic: 64 and 1,024.

The conflict: a national truce, a local one, two missions, then allegations five hours apart
(every third by a monitor, every fifth retracted a day later, one in twenty corrected), appended
through the store in batches of 500. No assertions.

    .venv/bin/python bench/timeline.py
    .venv/bin/python bench/timeline.py --databases sqlite,postgresql --sizes 500,4000,16000
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import fresh_database
from events.types import Event, event_adapter

CONFLICT = "long-war"
T0 = datetime(2020, 1, 1, tzinfo=UTC)
WINDOW = timedelta(days=7)


def _event(kind: str, at: datetime, **data: Any) -> Event:
    return event_adapter.validate_python(
        {
            "type": kind,
            "conflict": CONFLICT,
            "occurred_at": at.isoformat(),
            "source": {"name": "bench"},
            "data": data,
        }
    )


def long_conflict(size: int) -> list[Event]:
    """``size`` events of one conflict (see the module's docstring)."""
    events = [
        _event("agreement.signed", T0, agreement_id="truce", parties=["A", "B"]),
        _event(
            "agreement.signed",
            T0,
            agreement_id="local",
            parties=["A", "C"],
            scope={"level": "local", "area": "north"},
        ),
        _event(
            "mission.dispatched", T0, mission_id="m1", organization="OSCE", agreement_id="truce"
        ),
        _event("mission.dispatched", T0, mission_id="m2", organization="UN"),
    ]
    i = 0
    while len(events) < size:
        at = T0 + timedelta(days=1, hours=5 * i)
        by = "OSCE" if i % 3 == 0 else "A"
        alleged = _event("violation.alleged", at, alleged_by=by, accused="B", incidents=1)
        events.append(alleged)
        if i % 5 == 0 and len(events) < size:
            events.append(
                _event(
                    "allegation.retracted",
                    at + timedelta(days=1),
                    allegation_id=str(alleged.id),
                    retracted_by=by,
                )
            )
        if i % 20 == 1 and len(events) < size:
            events.append(
                _event(
                    "event.corrected",
                    at + timedelta(hours=1),
                    event_id=str(alleged.id),
                    event_type="violation.alleged",
                    data={"alleged_by": by, "accused": "B", "incidents": 2},
                    reason="recount",
                )
            )
        i += 1
    return events[:size]


async def _fill(url: str, size: int) -> None:
    from app.appending import Appender
    from events.database import create_engine
    from events.store import EventStore

    store = EventStore(create_engine(url))
    try:
        appender = Appender(store)
        events = long_conflict(size)
        for start in range(0, len(events), 500):
            await appender.append(events[start : start + 500])
    finally:
        await store.close()


async def _time(url: str, reads: int) -> tuple[float, float, int]:
    """The median time of a whole read and of the fold alone, and the entries told."""
    from sqlalchemy import select

    from events.database import create_engine
    from events.store import decode_row
    from events.tables import events
    from projections.freshness import snapshot
    from projections.inline import load_agreements
    from projections.timeline import build_timeline, read_story

    engine = create_engine(url)
    whole, fold = [], []
    try:
        for _ in range(reads):
            async with snapshot(engine) as conn:
                started = time.perf_counter()
                story = await read_story(conn, CONFLICT, known_at=None)
                view = await story.told(window=WINDOW)
                whole.append(time.perf_counter() - started)
                rows = await conn.execute(
                    select(events).where(events.c.conflict == CONFLICT).order_by(events.c.version)
                )
                log = [decode_row(r) for r in rows]
                agreements = list((await load_agreements(conn, CONFLICT, None)).values())
            started = time.perf_counter()
            build_timeline(log, agreements, WINDOW)
            fold.append(time.perf_counter() - started)
    finally:
        await engine.dispose()
    return statistics.median(whole), statistics.median(fold), len(view.entries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", default="sqlite")
    parser.add_argument("--sizes", default="500,4000,16000")
    parser.add_argument("--reads", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    for kind in args.databases.split(","):
        print(f"\n{kind}: timeline of one conflict, median of {args.reads} reads")
        print(f"{'events':>8} {'entries':>8} {'read s':>9} {'ratio':>7} {'fold s':>9} {'ratio':>7}")
        first: tuple[float, float] | None = None
        for size in sizes:
            with ExitStack() as stack:
                url = stack.enter_context(fresh_database(kind))
                asyncio.run(_fill(url, size))
                whole, fold, entries = asyncio.run(_time(url, args.reads))
            first = first or (whole, fold)
            print(
                f"{size:>8} {entries:>8} {whole:>9.3f} {whole / first[0]:>7.1f} "
                f"{fold:>9.3f} {fold / first[1]:>7.1f}"
            )


if __name__ == "__main__":
    main()
