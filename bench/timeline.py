"""What a conflict's timeline costs as the conflict grows: the whole story of a conflict of 500,
4,000 and 16,000 events, read in-process as ``/v1/conflicts/{c}/timeline`` reads it
(``projections.story.read_story`` then ``Story.told``: the conflict's events and agreements
read, decoded and folded), and the fold alone (``build_timeline`` on the decoded events), with
the ratio of each size's time to the smallest's. Linear: 8 and 32; quadratic: 64 and 1,024.

The conflicts (one of each size, in one database): a national truce, a local one, two
missions, then allegations five hours apart (every third by a monitor, every fifth retracted a
day later, one in twenty corrected), appended through the store in batches of 500. The rounds
alternate between the sizes; the best and the median of the rounds are printed, the ratios
from the best (the machine is shared: the best is the least disturbed). No assertions.

    .venv/bin/python bench/timeline.py
    .venv/bin/python bench/timeline.py --databases sqlite,postgresql --sizes 500,4000,16000
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import fresh_database
from events.model.types import Event, event_adapter

T0 = datetime(2020, 1, 1, tzinfo=UTC)
WINDOW = timedelta(days=7)


def _event(conflict: str, kind: str, at: datetime, **data: Any) -> Event:
    return event_adapter.validate_python(
        {
            "type": kind,
            "conflict": conflict,
            "occurred_at": at.isoformat(),
            "source": {"name": "bench"},
            "data": data,
        }
    )


def long_conflict(conflict: str, size: int) -> list[Event]:
    """``size`` events of one conflict (see the module's docstring)."""
    events = [
        _event(conflict, "agreement.signed", T0, agreement_id="truce", parties=["A", "B"]),
        _event(
            conflict,
            "agreement.signed",
            T0,
            agreement_id="local",
            parties=["A", "C"],
            scope={"level": "local", "area": "north"},
        ),
        _event(
            conflict,
            "mission.dispatched",
            T0,
            mission_id="m1",
            organization="OSCE",
            agreement_id="truce",
        ),
        _event(conflict, "mission.dispatched", T0, mission_id="m2", organization="UN"),
    ]
    i = 0
    while len(events) < size:
        at = T0 + timedelta(days=1, hours=5 * i)
        by = "OSCE" if i % 3 == 0 else "A"
        alleged = _event(conflict, "violation.alleged", at, alleged_by=by, accused="B")
        events.append(alleged)
        if i % 5 == 0 and len(events) < size:
            events.append(
                _event(
                    conflict,
                    "allegation.retracted",
                    at + timedelta(days=1),
                    allegation_id=str(alleged.id),
                    retracted_by=by,
                )
            )
        if i % 20 == 1 and len(events) < size:
            events.append(
                _event(
                    conflict,
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


async def _fill(url: str, sizes: list[int]) -> None:
    from app.services.appending import Appender
    from events.log.database import create_engine
    from events.log.store import EventStore

    store = EventStore(create_engine(url))
    try:
        appender = Appender(store)
        for size in sizes:
            events = long_conflict(f"war-{size}", size)
            for start in range(0, len(events), 500):
                await appender.append(events[start : start + 500])
    finally:
        await store.close()


async def _rounds(
    url: str, sizes: list[int], rounds: int
) -> tuple[dict[int, list[tuple[float, float]]], dict[int, int]]:
    """Per size, each round's whole read and fold alone (seconds); and the entries told."""
    from sqlalchemy import select

    from events.log.database import create_engine
    from events.log.store import decode_row
    from events.log.tables import events
    from projections.freshness import snapshot
    from projections.inline import load_agreements
    from projections.story import read_story
    from projections.timeline import build_timeline

    engine = create_engine(url)
    times: dict[int, list[tuple[float, float]]] = {size: [] for size in sizes}
    entries: dict[int, int] = {}
    try:
        for _ in range(rounds):
            for size in sizes:
                conflict = f"war-{size}"
                gc.collect()
                started = time.perf_counter()
                async with snapshot(engine) as conn:
                    story = await read_story(conn, conflict, known_at=None)
                view = await story.told(window=WINDOW)
                whole = time.perf_counter() - started
                entries[size] = len(view.entries)
                async with snapshot(engine) as conn:
                    rows = await conn.execute(
                        select(events)
                        .where(events.c.conflict == conflict)
                        .order_by(events.c.version)
                    )
                    log = [decode_row(r) for r in rows]
                    agreements = list((await load_agreements(conn, conflict, None)).values())
                gc.collect()
                started = time.perf_counter()
                build_timeline(log, agreements, WINDOW)
                times[size].append((whole, time.perf_counter() - started))
    finally:
        await engine.dispose()
    return times, entries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", default="sqlite")
    parser.add_argument("--sizes", default="500,4000,16000")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    for kind in args.databases.split(","):
        with ExitStack() as stack:
            url = stack.enter_context(fresh_database(kind))
            asyncio.run(_fill(url, sizes))
            times, entries = asyncio.run(_rounds(url, sizes, args.rounds))
        print(f"\n{kind}: one conflict's whole timeline, {args.rounds} rounds (best / median, s)")
        print(f"{'events':>7} {'entries':>7} {'read':>15} {'ratio':>6} {'fold':>15} {'ratio':>6}")
        first = min(w for w, _ in times[sizes[0]]), min(f for _, f in times[sizes[0]])
        for size in sizes:
            reads = [w for w, _ in times[size]]
            folds = [f for _, f in times[size]]
            read = f"{min(reads):.3f}/{statistics.median(reads):.3f}"
            fold = f"{min(folds):.3f}/{statistics.median(folds):.3f}"
            print(
                f"{size:>7} {entries[size]:>7} {read:>15} {min(reads) / first[0]:>6.1f} "
                f"{fold:>15} {min(folds) / first[1]:>6.1f}"
            )


if __name__ == "__main__":
    main()
