"""Status and allegations read from the projection tables, for the seed article, on every
database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.services.appending import Appender
from events.log.store import EventStore
from events.model.errors import UnknownConflictError
from projections.queries.allegations import read_allegations
from projections.queries.status import read_status
from projections.views import StatusView
from tests.factories import alleged, seed_events, signed

WINDOW = timedelta(days=7)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def status(store: EventStore, conflict: str, as_of: str) -> StatusView:
    async with store.engine.connect() as conn:
        return await read_status(conn, conflict, as_of=at(as_of), known_at=None, window=WINDOW)


@pytest.fixture
async def seeded(store: EventStore, conflict: str, appender: Appender) -> str:
    for event in seed_events(conflict):
        await appender.append([event])
    return conflict


async def test_seed_on_24_september_is_contested(store: EventStore, seeded: str) -> None:
    view = await status(store, seeded, "2022-09-24T00:00:00Z")
    assert view.state == "contested"
    assert view.agreement is not None
    assert view.agreement.agreement_id == "2022-09-14-ceasefire"
    assert view.agreement.signed_at == at("2022-09-14T16:00:00Z")
    armenia, azerbaijan = view.allegations["Armenia"], view.allegations["Azerbaijan"]
    assert (armenia.made, armenia.received) == (1, 1)
    assert (azerbaijan.made, azerbaijan.received) == (1, 1)
    assert azerbaijan.incidents_made == 3 and armenia.incidents_received == 3
    assert [m.organization for m in view.missions] == [
        "Collective Security Treaty Organization (CSTO)"
    ]
    assert (view.version, view.position) == (6, view.position)
    assert view.last_allegation_at == at("2022-09-23T03:40:00Z")


@pytest.mark.parametrize(
    ("as_of", "state"),
    [
        ("2022-09-14T23:00:00Z", "holding"),
        ("2022-10-15T00:00:00Z", "holding"),
        ("2022-09-13T12:00:00Z", "collapsed"),
        ("2022-09-01T00:00:00Z", "none"),
    ],
)
async def test_seed_states_over_time(
    store: EventStore, seeded: str, as_of: str, state: str
) -> None:
    assert (await status(store, seeded, as_of)).state == state


async def test_counts_list_every_party_even_at_zero(
    store: EventStore, conflict: str, appender: Appender
) -> None:
    await appender.append([signed(conflict, parties=("A", "B", "C"))])
    await appender.append([alleged(conflict, alleged_by="A", accused="B", incidents=2)])
    view = await status(store, conflict, "2022-09-24T00:00:00Z")
    assert set(view.allegations) == {"A", "B", "C"}
    assert view.allegations["C"].made == 0
    assert view.allegations["B"].incidents_received == 2


async def test_allegations_per_agreement_and_in_total(store: EventStore, seeded: str) -> None:
    async with store.engine.connect() as conn:
        view = await read_allegations(conn, seeded, as_of=datetime.now(UTC), known_at=None)
    assert [a.agreement_id for a in view.agreements] == [
        "2022-09-13-ceasefire",
        "2022-09-14-ceasefire",
    ]
    second = view.agreements[1]
    assert len(second.allegations) == 2
    assert second.counts["Azerbaijan"].incidents_made == 3
    assert view.totals["Armenia"].made == 1 and view.totals["Armenia"].received == 1
    assert view.agreements[0].allegations == []


async def test_known_at_before_the_first_event_knows_nothing(
    store: EventStore, seeded: str
) -> None:
    async with store.engine.connect() as conn:
        view = await read_status(
            conn,
            seeded,
            as_of=at("2022-09-24T00:00:00Z"),
            known_at=at("2000-01-01T00:00:00Z"),
            window=WINDOW,
        )
    assert (view.state, view.version, view.allegations) == ("none", 0, {})


async def test_unknown_conflict(store: EventStore) -> None:
    with pytest.raises(UnknownConflictError):
        await status(store, "no-such-conflict", "2022-09-24T00:00:00Z")


@pytest.mark.parametrize("run_length", [499, 500, 2_600])
async def test_since_of_a_contested_run_longer_than_a_page(
    store: EventStore, conflict: str, appender: Appender, run_length: int
) -> None:
    """``since`` of a contested run read back in pages (500, then 2,000, ...): a run of
    allegations 12 hours apart, after a gap longer than the window that follows older ones,
    is contested since its first allegation, whatever page it falls in; one allegation more
    inside the gap joins the run."""
    start = at("2020-01-01T00:00:00Z")
    await appender.append([signed(conflict, occurred_at=start)])
    older = [alleged(conflict, occurred_at=start + timedelta(days=1 + i)) for i in range(30)]
    run_start = start + timedelta(days=31) + WINDOW + timedelta(days=3)
    run = [
        alleged(conflict, occurred_at=run_start + timedelta(hours=12 * i))
        for i in range(run_length)
    ]
    events = [*older, *run]
    for first in range(0, len(events), 200):
        await appender.append(events[first : first + 200])
    last = run_start + timedelta(hours=12 * (run_length - 1))
    as_of = (last + timedelta(hours=1)).isoformat()
    view = await status(store, conflict, as_of)
    assert (view.state, view.since) == ("contested", run_start)
    # An allegation in the gap, within the window of both sides, joins the two runs.
    bridge = start + timedelta(days=30) + WINDOW - timedelta(days=1)
    await appender.append([alleged(conflict, occurred_at=bridge)])
    view = await status(store, conflict, as_of)
    assert (view.state, view.since) == ("contested", start + timedelta(days=1))
