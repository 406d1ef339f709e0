"""Retractions and corrections on every database: the store's rules, both clocks of the views,
the state loaded from the tables, and a replay that rebuilds the same rows."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.services.appending import Appender
from events.log.store import EventStore
from events.model.errors import DomainRuleError
from events.model.state import ConflictState
from projections.queries.allegations import read_allegations
from projections.queries.status import read_status
from projections.references import fold_batch
from projections.runner import replay
from projections.tables import PROJECTION_KEYS
from tests.factories import alleged, corrected, dispatched, retracted, seed_events, signed

WINDOW = timedelta(days=7)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def seed_as_recorded(store: EventStore, conflict: str) -> list[Any]:
    """The seed, each event recorded when it occurred (as an import of that history would)."""
    appender = Appender(store)
    events = seed_events(conflict)
    result = await appender.append(events, recorded_at=[e.occurred_at for e in events])
    return result.events


async def made(
    store: EventStore, conflict: str, party: str, as_of: str, known_at: str | None
) -> int:
    async with store.engine.connect() as conn:
        view = await read_status(
            conn,
            conflict,
            as_of=at(as_of),
            known_at=None if known_at is None else at(known_at),
            window=WINDOW,
        )
    return view.allegations[party].made


async def test_a_retraction_counts_from_when_it_occurred_as_known_from_when_recorded(
    store: EventStore, conflict: str, appender: Appender
) -> None:
    seed = await seed_as_recorded(store, conflict)
    azerbaijan = next(
        e for e in seed if e.type == "violation.alleged" and e.data.alleged_by == "Azerbaijan"
    )
    await appender.append(
        [retracted(conflict, azerbaijan.id, retracted_by="Azerbaijan")],
        recorded_at=[at("2022-09-25T12:00:00Z")],
    )
    # The retraction occurred on the 25th: a view of the 24th still counts the allegation.
    assert await made(store, conflict, "Azerbaijan", "2022-09-24T00:00:00Z", None) == 1
    assert await made(store, conflict, "Azerbaijan", "2022-09-26T00:00:00Z", None) == 0
    assert (
        await made(store, conflict, "Azerbaijan", "2022-09-26T00:00:00Z", "2022-09-25T00:00:00Z")
        == 1
    )
    assert await made(store, conflict, "Armenia", "2022-09-26T00:00:00Z", None) == 1
    stored = await store.read_stream(conflict)
    assert azerbaijan.id in {e.id for e in stored}  # the original stays in the log
    async with store.engine.connect() as conn:
        now = await read_allegations(
            conn, conflict, as_of=at("2022-10-01T00:00:00Z"), known_at=None
        )
        then = await read_allegations(
            conn, conflict, as_of=at("2022-10-01T00:00:00Z"), known_at=at("2022-09-25T00:00:00Z")
        )
    assert now.totals["Azerbaijan"].made == 0 and now.totals["Armenia"].received == 0
    assert then.totals["Azerbaijan"].made == 1 and then.totals["Armenia"].incidents_received == 3


async def test_a_correction_shows_from_when_it_is_recorded(
    store: EventStore, conflict: str, appender: Appender
) -> None:
    seed = await seed_as_recorded(store, conflict)
    armenia = next(
        e for e in seed if e.type == "violation.alleged" and e.data.alleged_by == "Armenia"
    )
    new = {**armenia.data.model_dump(mode="json", exclude_none=True), "incidents": 2}
    await appender.append(
        [corrected(conflict, armenia.id, "violation.alleged", new)],
        recorded_at=[at("2022-09-25T12:00:00Z")],
    )
    async with store.engine.connect() as conn:
        now = await read_allegations(
            conn, conflict, as_of=at("2022-09-24T00:00:00Z"), known_at=None
        )
        then = await read_allegations(
            conn, conflict, as_of=at("2022-09-24T00:00:00Z"), known_at=at("2022-09-24T00:00:00Z")
        )
    assert now.totals["Armenia"].incidents_made == 2
    assert then.totals["Armenia"].incidents_made == 1
    (item,) = [a for s in now.agreements for a in s.allegations if a.id == armenia.id]
    assert item.occurred_at == armenia.occurred_at  # it keeps its place in time


async def test_rules_are_checked_against_the_stored_log(
    store: EventStore, conflict: str, appender: Appender
) -> None:
    await appender.append([signed(conflict)])
    allegation = (await appender.append([alleged(conflict)])).events[0]
    with pytest.raises(DomainRuleError) as caught:
        await appender.append([retracted(conflict, allegation.id, retracted_by="Azerbaijan")])
    assert caught.value.rule == "not-the-alleging-party"
    other = f"{conflict}-x"
    await appender.append([signed(other)])
    with pytest.raises(DomainRuleError) as caught:
        await appender.append([retracted(other, allegation.id)])
    assert caught.value.rule == "unknown-event"
    retraction = retracted(conflict, allegation.id)
    first = await appender.append([retraction])
    again = await appender.append([retraction])  # an idempotent retry, not "already retracted"
    assert first.created and not again.created
    with pytest.raises(DomainRuleError) as caught:
        await appender.append([retracted(conflict, allegation.id)])
    assert caught.value.rule == "already-retracted"


async def test_an_append_can_name_an_event_of_the_same_append(
    store: EventStore, conflict: str, appender: Appender
) -> None:
    allegation = alleged(conflict)
    base = {"alleged_by": "Armenia", "accused": "Azerbaijan"}
    await appender.append(
        [
            signed(conflict),
            allegation,
            corrected(conflict, allegation.id, "violation.alleged", {**base, "incidents": 2}),
            corrected(conflict, allegation.id, "violation.alleged", {**base, "incidents": 3}),
        ]
    )
    async with store.engine.connect() as conn:
        view = await read_allegations(
            conn, conflict, as_of=at("2023-01-01T00:00:00Z"), known_at=None
        )
    assert view.totals["Armenia"].incidents_made == 3


async def fold_of_the_log(store: EventStore, conflict: str) -> ConflictState:
    states: dict[str, ConflictState] = {}
    await fold_batch(states, await store.read_stream(conflict), store.stored_events)
    return states[conflict]


async def history(store: EventStore, conflict: str) -> None:
    appender = Appender(store)
    seed = await seed_as_recorded(store, conflict)
    by_type = {e.type: e for e in seed}
    allegations = [e for e in seed if e.type == "violation.alleged"]
    agreement = [e for e in seed if e.type == "agreement.signed"][-1]
    collapse = by_type["agreement.collapsed"]
    mission = by_type["mission.dispatched"]
    data = agreement.data.model_dump(mode="json", exclude_none=True)
    await appender.append(
        [
            retracted(conflict, allegations[0].id, retracted_by="Azerbaijan"),
            corrected(
                conflict,
                allegations[1].id,
                "violation.alleged",
                {**allegations[1].data.model_dump(mode="json", exclude_none=True), "incidents": 2},
            ),
            corrected(conflict, agreement.id, "agreement.signed", {**data, "terms": "amended"}),
            corrected(
                conflict,
                collapse.id,
                "agreement.collapsed",
                {"agreement_id": collapse.data.agreement_id, "reason": "clarified"},
            ),
            corrected(
                conflict,
                mission.id,
                "mission.dispatched",
                {**mission.data.model_dump(mode="json", exclude_none=True), "head": "someone"},
            ),
        ],
        recorded_at=[at(f"2022-09-2{d}T00:00:00Z") for d in range(5, 10)],
    )
    await appender.append([dispatched(conflict, mission_id="later")])


async def test_the_state_loaded_from_the_tables_is_the_state_the_fold_makes(
    store: EventStore, conflict: str
) -> None:
    await history(store, conflict)
    loaded = await Appender(store).current_state(conflict)
    assert loaded == await fold_of_the_log(store, conflict)
    assert loaded.retracted and loaded.revisions


async def projection_rows(store: EventStore) -> dict[str, list[tuple[Any, ...]]]:
    from events.log.tables import metadata

    out = {}
    async with store.engine.connect() as conn:
        for name in PROJECTION_KEYS:
            rows = (await conn.execute(select(metadata.tables[name]))).all()
            out[name] = sorted((tuple(r) for r in rows), key=repr)
    return out


async def test_replay_rebuilds_the_same_rows(fresh_store: EventStore, conflict: str) -> None:
    await history(fresh_store, conflict)
    before = await projection_rows(fresh_store)
    assert before["proj_corrections"]
    await replay(fresh_store)
    assert await projection_rows(fresh_store) == before
    loaded = await Appender(fresh_store).current_state(conflict)
    assert loaded == await fold_of_the_log(fresh_store, conflict)
