"""Parties that leave an agreement, on every database, on two real histories
(``tests/fixtures/colombia-2022-12-eln.ndjson``: the bilateral ceasefires President Petro
announced on 31 December 2022, the ELN's "we never agreed" of 3 January 2023, talks resumed and
suspended; ``tests/fixtures/black-sea-grain-2023-07.ndjson``: the Black Sea Grain Initiative and
Russia's withdrawal of 17 July 2023). The status, allegations and timeline are read through the
SQL queries at every moment that matters, as known before and after each repudiation was
recorded; nothing that occurred after T shows at T; and any order of recording gives the same
views."""

from __future__ import annotations

import json
import random
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from app.services.appending import Appender
from events.log.store import EventStore
from events.model.envelope import Recorded
from events.model.types import Event, event_adapter
from projections.freshness import next_change
from projections.queries.allegations import read_allegations
from projections.queries.status import read_status
from projections.runner import replay
from projections.story import read_story
from tests.e2e.test_ceasefires_in_time import assert_nothing_after
from tests.logtools import dump_projections

FIXTURES = Path(__file__).parents[1] / "fixtures"
WINDOW = timedelta(days=7)
GOV = "Government of Colombia"
ELN_CEASEFIRE = "2023-01-ceasefire-eln"
GRAIN = "black-sea-grain-initiative"
#: The ELN's statement and Russia's withdrawal, in UTC.
REPUDIATED, WITHDRAWN = "2023-01-03T17:00:00Z", "2023-07-17T09:00:00Z"


def _events(name: str, conflict: str) -> list[Event]:
    """The fixture's events under ``conflict`` with fresh ids (the session's database is
    shared), in the file's order."""
    return [
        event_adapter.validate_python(
            {**json.loads(line), "id": str(uuid.uuid4()), "conflict": conflict}
        )
        for line in (FIXTURES / name).read_text().splitlines()
    ]


async def _record(appender: Appender, events: list[Event]) -> list[Recorded]:
    recorded = []
    for event in events:
        recorded += (await appender.append([event])).events
    return recorded


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def _views(
    store: EventStore, conflict: str, as_of: str, known_at: datetime | None = None
) -> dict[str, Any]:
    """Status, allegations and timeline at ``as_of`` as JSON, without what differs between
    two recordings of the same history (ids, versions, positions, recording times)."""
    when = _instant(as_of)
    async with store.engine.connect() as conn:
        status = await read_status(conn, conflict, as_of=when, known_at=known_at, window=WINDOW)
        allegations = await read_allegations(conn, conflict, as_of=when, known_at=known_at)
        story = await read_story(conn, conflict, known_at=known_at)
    timeline = await story.told(as_of=when, window=WINDOW)
    views = {
        name: view.model_dump(mode="json", exclude={"conflict", "version", "position"})
        for name, view in [("status", status), ("allegations", allegations), ("timeline", timeline)]
    }
    for entry in views["timeline"]["entries"]:
        for key in ("id", "recorded_at", "version", "position"):
            entry.pop(key)
    # Entries that occurred at one instant are told in the order recorded: put them in one.
    views["timeline"]["entries"].sort(key=lambda e: (e["occurred_at"], e["type"], e["summary"]))
    for view in views.values():
        assert_nothing_after(view, as_of)
    return views


def _agreement(views: dict[str, Any], agreement_id: str) -> dict[str, Any]:
    (found,) = [a for a in views["status"]["agreements"] if a["agreement_id"] == agreement_id]
    return found


# -- Colombia: an announced ceasefire the ELN never agreed to ------------------------------


@pytest.fixture
async def colombia(appender: Appender, conflict: str) -> list[Recorded]:
    return await _record(appender, _events("colombia-2022-12-eln.ndjson", conflict))


@pytest.mark.parametrize(
    ("as_of", "state", "since", "eln_state"),
    [
        ("2022-11-21T18:00:00Z", "none", None, None),
        ("2023-01-01T02:00:00Z", "pending", "2023-01-01T01:00:00Z", "pending"),
        ("2023-01-02T12:00:00Z", "holding", "2023-01-01T05:00:00Z", "holding"),
        (REPUDIATED, "holding", "2023-01-01T05:00:00Z", "holding"),
        ("2023-06-30T12:00:00Z", "holding", "2023-01-01T05:00:00Z", "holding"),
        ("2023-07-01T05:00:00Z", "expired", "2023-07-01T05:00:00Z", "expired"),
        ("2025-01-18T00:00:00Z", "expired", "2023-07-01T05:00:00Z", "expired"),
    ],
)
async def test_colombia_before_and_after_the_eln_statement_was_recorded(
    store: EventStore,
    conflict: str,
    colombia: list[Recorded],
    as_of: str,
    state: str,
    since: str | None,
    eln_state: str | None,
) -> None:
    statement = next(e for e in colombia if e.type == "agreement.repudiated")
    before = statement.recorded_at - timedelta(microseconds=1)
    for known_at, disputed in [(None, True), (statement.recorded_at, True), (before, False)]:
        views = await _views(store, conflict, as_of, known_at)
        status = views["status"]
        assert (status["state"], status["since"]) == (state, since), (as_of, known_at)
        if eln_state is None:
            assert status["agreements"] == []
            continue
        assert len(status["agreements"]) == 5
        eln = _agreement(views, ELN_CEASEFIRE)
        assert eln["state"] == eln_state and eln["parties"] == [GOV, "ELN"]
        if disputed:  # at every as_of, once recorded: what the agreement always was
            assert (eln["unilateral"], eln["declared_by"], eln["committed"]) == (True, GOV, [GOV])
            assert [d["party"] for d in eln["disputed_by"]] == ["ELN"]
            assert eln["disputed_by"][0]["statement"].startswith("The ELN's delegation")
        else:
            assert (eln["unilateral"], eln["declared_by"]) == (False, None)
            assert (eln["committed"], eln["disputed_by"]) == ([GOV, "ELN"], [])
        assert eln["withdrawals"] == [] and eln["withdrawn_at"] is None
        others = [a for a in status["agreements"] if a["agreement_id"] != ELN_CEASEFIRE]
        assert all(not a["unilateral"] and a["disputed_by"] == [] for a in others)
        assert all(a["state"] == eln_state for a in others)
        types = [e["type"] for e in views["timeline"]["entries"]]
        told = (known_at is None or disputed) and _instant(as_of) >= _instant(REPUDIATED)
        assert ("agreement.repudiated" in types) == told


async def test_colombia_story_tells_the_talks_and_the_statement_and_they_change_no_state(
    store: EventStore, conflict: str, colombia: list[Recorded]
) -> None:
    views = await _views(store, conflict, "2025-02-01T00:00:00Z")
    story = [
        (e["type"], e["occurred_at"], e["state"])
        for e in views["timeline"]["entries"]
        if e["type"] != "agreement.signed"
    ]
    assert story == [
        ("actor.registered", "2022-11-21T17:00:00Z", "none"),
        ("actor.registered", "2022-11-21T17:00:00Z", "none"),
        ("talks.resumed", "2022-11-21T17:00:00Z", "none"),
        ("agreement.repudiated", REPUDIATED, "holding"),
        ("talks.suspended", "2025-01-17T17:00:00Z", "expired"),
    ]
    summaries = {e["type"]: e["summary"] for e in views["timeline"]["entries"]}
    assert summaries["agreement.repudiated"].startswith(
        "ELN said it never agreed to 2023-01-ceasefire-eln: The ELN's delegation"
    )
    assert summaries["talks.resumed"].startswith(f"Talks between {GOV} and ELN in Caracas resumed")


# -- The Black Sea Grain Initiative: Russia withdraws -------------------------------------


@pytest.mark.parametrize(
    ("as_of", "committed", "unilateral"),
    [
        ("2022-07-22T09:00:00Z", ["Russia", "Ukraine"], False),
        ("2023-07-17T08:59:59Z", ["Russia", "Ukraine"], False),
        (WITHDRAWN, ["Ukraine"], True),
        ("2024-01-01T00:00:00Z", ["Ukraine"], True),
    ],
)
async def test_russia_withdraws_from_the_grain_initiative_at_its_occurred_at(
    store: EventStore,
    appender: Appender,
    conflict: str,
    as_of: str,
    committed: list[str],
    unilateral: bool,
) -> None:
    recorded = await _record(appender, _events("black-sea-grain-2023-07.ndjson", conflict))
    withdrawal = recorded[-1]
    before = withdrawal.recorded_at - timedelta(microseconds=1)
    for known_at in (None, before):
        views = await _views(store, conflict, as_of, known_at)
        # A regional agreement: the conflict's own state comes from national ones only.
        assert views["status"]["state"] == "none"
        grain = _agreement(views, GRAIN)
        assert grain["state"] == "holding" and grain["withdrawn_at"] is None
        assert grain["mediators"] == ["Turkey", "United Nations"]
        if known_at is None:
            assert (grain["committed"], grain["unilateral"]) == (committed, unilateral)
            assert grain["declared_by"] == ("Ukraine" if unilateral else None)
            assert [w["party"] for w in grain["withdrawals"]] == ["Russia"][: int(unilateral)]
        else:  # not known yet: as signed, at every as_of
            assert (grain["committed"], grain["unilateral"]) == (["Russia", "Ukraine"], False)
            assert grain["withdrawals"] == []
        assert grain["disputed_by"] == []
    assert views["status"]["agreements"][0]["agreement_id"] == GRAIN


async def test_a_withdrawal_is_an_instant_the_view_of_now_changes_at(
    store: EventStore, appender: Appender, conflict: str
) -> None:
    """A view of now cached before a withdrawal's occurred_at (one recorded in advance) must
    not outlive it: the freshness check names that instant."""
    events = _events("black-sea-grain-2023-07.ndjson", conflict)
    await _record(appender, events)
    async with store.engine.connect() as conn:
        due = await next_change(
            conn, conflict=conflict, after=_instant("2023-07-01T00:00:00Z"), known_at=None
        )
    assert due == _instant(WITHDRAWN)


# -- Any order of recording ----------------------------------------------------------------


def _shuffled(events: list[Event], seed: int) -> list[Event]:
    """A shuffle in which each repudiation still follows its agreement."""
    order = list(events)
    random.Random(seed).shuffle(order)
    left = [e for e in order if e.type == "agreement.repudiated"]
    rest = [e for e in order if e.type != "agreement.repudiated"]
    for event in left:
        made = next(
            i
            for i, e in enumerate(rest)
            if e.type == "agreement.signed" and e.data.agreement_id == event.data.agreement_id  # type: ignore[union-attr]
        )
        rest.insert(random.Random(seed).randint(made + 1, len(rest)), event)
    return rest


@pytest.mark.parametrize(
    ("fixture", "moments"),
    [
        (
            "colombia-2022-12-eln.ndjson",
            ["2022-11-21T18:00:00Z", "2023-01-01T02:00:00Z", "2023-01-02T12:00:00Z", REPUDIATED,
             "2023-07-02T00:00:00Z", "2025-01-18T00:00:00Z"],
        ),
        (
            "black-sea-grain-2023-07.ndjson",
            ["2022-07-23T00:00:00Z", "2023-07-17T08:00:00Z", WITHDRAWN, "2024-01-01T00:00:00Z"],
        ),
    ],
)  # fmt: skip
async def test_any_order_of_recording_gives_the_same_views(
    store: EventStore, appender: Appender, conflict: str, fixture: str, moments: list[str]
) -> None:
    first, second = f"{conflict}-a", f"{conflict}-b"
    await _record(appender, _events(fixture, first))
    await _record(appender, _shuffled(_events(fixture, second), seed=18))
    for as_of in moments:
        assert await _views(store, first, as_of) == await _views(store, second, as_of), as_of


# -- The replay ----------------------------------------------------------------------------


async def test_a_replay_rebuilds_the_same_rows_with_repudiations_and_their_corrections(
    fresh_store: EventStore, fresh_appender: Appender
) -> None:
    """The live path and the replay write the same rows: departures, a repudiation's
    corrected statement, talks and a talks correction naming a new actor."""
    recorded = await _record(fresh_appender, _events("colombia-2022-12-eln.ndjson", "colombia"))
    await _record(fresh_appender, _events("black-sea-grain-2023-07.ndjson", "black-sea"))
    statement = next(e for e in recorded if e.type == "agreement.repudiated")
    talks = next(e for e in recorded if e.type == "talks.suspended")
    corrections = [
        (statement, {**statement.data.model_dump(mode="json", exclude_none=True),
                     "statement": "No bilateral ceasefire had been agreed."}),
        (talks, {"parties": [GOV, "ELN", "Venezuela"], "venue": "Caracas"}),
    ]  # fmt: skip
    for target, data in corrections:
        correction = event_adapter.validate_python(
            {
                "type": "event.corrected",
                "conflict": "colombia",
                "occurred_at": "2025-02-01T00:00:00Z",
                "source": {"name": "test desk"},
                "data": {
                    "event_id": str(target.id),
                    "event_type": target.type,
                    "data": data,
                    "reason": "Test.",
                },
            }
        )
        await fresh_appender.append([correction])
    views = await _views(fresh_store, "colombia", "2023-01-02T00:00:00Z")
    eln = _agreement(views, ELN_CEASEFIRE)
    assert eln["disputed_by"][0]["statement"] == "No bilateral ceasefire had been agreed."
    before = await dump_projections(fresh_store.engine)
    await replay(fresh_store, batch_size=3)
    assert await dump_projections(fresh_store.engine) == before
