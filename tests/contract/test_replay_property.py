"""Property: however a history is split into batches, the replay writes the same tables, and
they are the tables the live path wrote, row for row (on every database)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.services.appending import Appender
from events.log.database import create_engine
from events.log.store import EventStore
from events.model.errors import DomainRuleError
from events.model.types import Event
from projections.driver import raw_connection
from projections.runner import PROJECTIONS, Replayer
from projections.scratch import Scratch
from tests.factories import alleged, collapsed, corrected, dispatched, retracted, signed
from tests.logtools import dump_projections, dump_table

PARTIES = ("Armenia", "Azerbaijan", "Georgia")
START = datetime(2022, 9, 1, tzinfo=UTC)

day = st.integers(0, 40)
casualties = st.none() | st.tuples(st.integers(0, 5), st.integers(0, 5), st.integers(0, 5)).map(
    lambda t: dict(zip(("low", "best", "high"), sorted(t), strict=True))
)
allege = st.tuples(
    st.just("allege"),
    st.integers(0, 2),
    st.integers(1, 2),
    day,
    st.integers(1, 5),
    casualties,
    st.none() | st.integers(0, 2),
)
step = st.one_of(
    allege,
    allege,
    allege,
    st.tuples(st.just("sign"), st.integers(0, 2), day, st.integers(0, 3)),
    st.tuples(st.just("collapse"), st.integers(0, 2), day),
    st.tuples(st.just("mission"), st.integers(0, 3), day),
    st.tuples(st.just("retract"), st.integers(0, 30), day),
    st.tuples(st.just("correct"), st.integers(0, 30), st.integers(1, 9), casualties),
)
histories = st.lists(st.tuples(st.integers(0, 1), step), min_size=1, max_size=25)
cut_points = st.lists(st.floats(0, 1), max_size=6)


def _at(days: int) -> datetime:
    return START + timedelta(days=days, hours=days % 5)


def _event(conflict: str, step: tuple[Any, ...], made: list[Event]) -> Event | None:
    kind = step[0]
    allegations = [e for e in made if e.type == "violation.alleged"]
    match step:
        case ("sign", n, d, delay):
            parties = PARTIES[:2] if n < 2 else PARTIES
            return signed(
                conflict,
                f"cf-{n}",
                occurred_at=_at(d),
                parties=parties,
                effective_at=(_at(d) + timedelta(days=delay)).isoformat(),
            )
        case ("collapse", n, d):
            return collapsed(conflict, f"cf-{n}", occurred_at=_at(d))
        case ("allege", by, offset, d, incidents, claimed, agreement):
            extra: dict[str, Any] = {} if claimed is None else {"casualties_claimed": claimed}
            if agreement is not None:
                extra["agreement_id"] = f"cf-{agreement}"
            return alleged(
                conflict,
                alleged_by=PARTIES[by],
                accused=PARTIES[(by + offset) % len(PARTIES)],
                occurred_at=_at(d),
                incidents=incidents,
                **extra,
            )
        case ("mission", n, d):
            return dispatched(conflict, f"m-{n}", occurred_at=_at(d))
        case ("retract", i, d) if allegations:
            target = allegations[i % len(allegations)]
            return retracted(
                conflict,
                target.id,
                target.data.alleged_by,
                occurred_at=_at(d),  # type: ignore[union-attr]
            )
        case ("correct", i, incidents, claimed) if allegations:
            target = allegations[i % len(allegations)]
            data = target.data.model_dump(mode="json", exclude_none=True)
            data["incidents"] = incidents
            data.pop("casualties_claimed", None)
            if claimed is not None:
                data["casualties_claimed"] = claimed
            return corrected(conflict, target.id, "violation.alleged", data)
    assert kind in ("retract", "correct")
    return None


async def _append(store: EventStore, history: list[tuple[int, tuple[Any, ...]]]) -> None:
    appender = Appender(store)
    prefix = uuid.uuid4().hex[:8]
    made: dict[str, list[Event]] = {}
    opening = [(n, ("sign", 0, 0, 0)) for n in (0, 1)]  # most steps need an agreement
    for n, step in opening + history:
        conflict = f"p-{prefix}-{n}"
        event = _event(conflict, step, made.setdefault(conflict, []))
        if event is None:
            continue
        try:
            await appender.append([event])
        except DomainRuleError:
            continue
        made[conflict].append(event)


async def _rebuilt(
    store: EventStore, cuts: list[int], *, pipelined: bool
) -> dict[str, list[tuple[Any, ...]]]:
    """Fold the whole log into scratch tables: in one batch without cuts, else in three
    batches between each two cut points;
    ``pipelined``: reading ahead on a second connection and writing behind, as a replay does."""
    scratch = Scratch("verify_", tuple(PROJECTIONS.values()))
    async with raw_connection(store.engine) as conn, raw_connection(store.engine) as reader:
        await scratch.create(conn)
        try:
            replayer = Replayer(conn, scratch.rename, reader=reader if pipelined else None)
            head = await conn.head()
            for cut in [*cuts, head]:
                size = max(1, (cut - replayer.position) // 3) if cuts else head + 1
                await replayer.run(cut, batch_size=size)
            assert replayer.position == head
            return {
                live: await dump_table(store.engine, live, scratch.name(live))
                for live in PROJECTIONS.values()
            }
        finally:
            await scratch.drop(conn)


async def _check(url: str, history: list[tuple[int, tuple[Any, ...]]], shares: list[float]) -> None:
    store = EventStore(create_engine(url))
    try:
        await _append(store, history)
        head = await store.head()
        cuts = sorted({int(share * head) for share in shares})
        live = await dump_projections(store.engine)
        assert await _rebuilt(store, [], pipelined=False) == live
        assert await _rebuilt(store, cuts, pipelined=True) == live
    finally:
        await store.close()


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=histories, shares=cut_points)
def test_any_split_into_batches_rebuilds_the_live_tables(
    fresh_database_url: str, history: list[tuple[int, tuple[Any, ...]]], shares: list[float]
) -> None:
    asyncio.run(_check(fresh_database_url, history, shares))
