"""The Yemen truce of 2022 and the de facto lull after it, on every database, through the SQL
views: the UN-brokered truce expired unrenewed on 2 October 2022, the al-Dhabba terminal was
attacked on 21 October, and on 16 January 2023 the Special Envoy told the Security Council the
military situation had stayed stable since (``tests/fixtures/yemen-2022-truce.ndjson`` and
``yemen-2022-lull.ndjson``, sources in each event).

Every state at every moment that matters, with its freshness (``last_report_at``,
``quiet_for``, ``stale`` on either side of ``CEASEFIRE_STALE_AFTER``); ``known_at`` before and
after the lull was recorded; any recording order gives the same views; a view of now is tagged
until it turns stale or its quiet days move on, and its badge says how long nothing was
reported."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest

from app.reads import view_bytes
from app.services.appending import Appender
from events.log.store import EventStore
from events.model.types import Event, event_adapter
from projections.queries.status import list_conflicts, read_status
from projections.story import read_story
from tests.factories import signed

WINDOW = timedelta(days=7)
STALE_AFTER = timedelta(days=30)
FIXTURES = Path(__file__).parents[1] / "fixtures"
#: The truce's events, in the order the rules need them (signing, then each renewal).
CHAIN = ("agreement.signed", "agreement.extended")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _yemen(conflict: str) -> list[Event]:
    """Both fixtures, as events of ``conflict`` with ids of their own, after the actors they
    name (registered first, so an allegation may come before the truce in a shuffled order)."""
    actors = [
        {"name": "Government of Yemen", "kind": "state"},
        {"name": "Ansar Allah", "kind": "armed_group"},
        {"name": "United Nations", "kind": "international_organization"},
    ]
    events = [
        {
            "type": "actor.registered",
            "conflict": conflict,
            "occurred_at": "2022-04-01T00:00:00Z",
            "source": {"name": "desk"},
            "data": data,
        }
        for data in actors
    ]
    for name in ("yemen-2022-truce.ndjson", "yemen-2022-lull.ndjson"):
        for line in (FIXTURES / name).read_text().splitlines():
            events.append({**json.loads(line), "id": str(uuid4()), "conflict": conflict})
    return [event_adapter.validate_python(e) for e in events]


def _shuffled(events: list[Event], seed: int) -> list[Event]:
    """A random order the rules accept: the truce's signing and renewals keep their order
    among themselves, everything else goes anywhere after the actors."""
    actors, rest = events[:3], events[3:]
    order = rest[:]
    random.Random(seed).shuffle(order)
    chain = iter([e for e in rest if e.type in CHAIN])
    return actors + [next(chain) if e.type in CHAIN else e for e in order]


async def _record(appender: Appender, events: list[Event]) -> dict[str, datetime]:
    """Each event appended on its own; when each type was last recorded."""
    recorded = {}
    for event in events:
        appended = await appender.append([event])
        recorded[event.type] = appended.events[0].recorded_at
    return recorded


#: (as_of, state, since, last_report_at, stale) at every moment that matters (UTC).
EXPECTED = [
    ("2022-10-02T15:59:59Z", "holding", "2022-04-10T09:00:00Z", "2022-08-02T09:00:00Z", True),
    ("2022-10-02T16:00:00Z", "expired", "2022-10-02T16:00:00Z", "2022-08-02T09:00:00Z", True),
    ("2022-10-21T09:00:00Z", "expired", "2022-10-02T16:00:00Z", "2022-10-21T09:00:00Z", False),
    ("2022-11-20T08:59:59Z", "expired", "2022-10-02T16:00:00Z", "2022-10-21T09:00:00Z", False),
    ("2022-11-20T09:00:00Z", "expired", "2022-10-02T16:00:00Z", "2022-10-21T09:00:00Z", True),
    ("2023-01-16T14:59:59Z", "expired", "2022-10-02T16:00:00Z", "2022-10-21T09:00:00Z", True),
    ("2023-01-16T15:00:00Z", "lull", "2023-01-16T15:00:00Z", "2023-01-16T15:00:00Z", False),
    ("2023-02-15T14:59:59Z", "lull", "2023-01-16T15:00:00Z", "2023-01-16T15:00:00Z", False),
    ("2023-02-15T15:00:00Z", "lull", "2023-01-16T15:00:00Z", "2023-01-16T15:00:00Z", True),
    ("2026-01-01T00:00:00Z", "lull", "2023-01-16T15:00:00Z", "2023-01-16T15:00:00Z", True),
]


def _z(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


async def test_every_state_at_every_moment_with_its_freshness(
    store: EventStore, conflict: str, appender: Appender
) -> None:
    await _record(appender, _yemen(conflict))
    async with store.engine.connect() as conn:
        got = []
        for when, *_ in EXPECTED:
            status = await read_status(
                conn, conflict, as_of=at(when), known_at=None, window=WINDOW,
                stale_after=STALE_AFTER,
            )  # fmt: skip
            got.append(
                (when, status.state, _z(status.since), _z(status.last_report_at), status.stale)
            )
            assert status.quiet_for == at(when) - at(got[-1][3] or when)
        assert got == EXPECTED
        lull = await read_status(
            conn, conflict, as_of=at("2023-03-01T00:00:00Z"), known_at=None, window=WINDOW
        )
        assert lull.lull is not None and lull.lull.observed_by == "United Nations"
        assert lull.lull.parties == ["Government of Yemen", "Ansar Allah"]
        assert lull.agreement is not None and lull.agreement.state == "expired"  # the truce
        dumped = json.loads(lull.model_dump_json())
        assert dumped["quiet_for"] == "P43DT9H" and dumped["stale"] is True
        listed = await list_conflicts(
            conn, as_of=at("2023-01-20T00:00:00Z"), window=WINDOW, stale_after=STALE_AFTER
        )
        (summary,) = [s for s in listed if s.conflict == conflict]
        assert (summary.state, summary.stale) == ("lull", False)
        assert summary.last_report_at == at("2023-01-16T15:00:00Z")
        assert summary.quiet_for == timedelta(days=3, hours=9)
        story = await read_story(conn, conflict, known_at=None)
    entries = (await story.told(window=WINDOW)).entries
    (observed,) = [e for e in entries if e.type == "lull.observed"]
    assert observed.state == "lull"
    assert observed.summary.startswith("United Nations observed a lull between Government")


async def test_known_at_before_the_lull_was_recorded_shows_the_expiry(
    store: EventStore, conflict: str, appender: Appender
) -> None:
    events = _yemen(conflict)
    recorded = await _record(appender, events)
    truce_known, lull_known = recorded["violation.alleged"], recorded["lull.observed"]
    assert truce_known < lull_known
    async with store.engine.connect() as conn:
        for known_at, state, last in [
            (truce_known, "expired", "2022-10-21T09:00:00Z"),
            (lull_known, "lull", "2023-01-16T15:00:00Z"),
        ]:
            status = await read_status(
                conn, conflict, as_of=at("2023-02-01T00:00:00Z"), known_at=known_at,
                window=WINDOW,
            )  # fmt: skip
            assert (status.state, _z(status.last_report_at)) == (state, last)
            assert status.stale is (state == "expired")


@pytest.mark.parametrize("seed", [1, 2])
async def test_any_recording_order_gives_the_same_views(
    store: EventStore, conflict: str, appender: Appender, seed: int
) -> None:
    first, second = f"{conflict}-a", f"{conflict}-b"
    await _record(appender, _yemen(first))
    await _record(appender, _shuffled(_yemen(second), seed))
    moments = sorted({at(when) for when, *_ in EXPECTED} | {at("2022-04-03T09:00:01Z")})
    async with store.engine.connect() as conn:
        for as_of in moments:
            views = []
            for name in (first, second):
                status = await read_status(conn, name, as_of=as_of, known_at=None, window=WINDOW)
                views.append(status.model_dump(exclude={"conflict", "version", "position"}))
            assert views[0] == views[1], as_of


async def test_a_view_of_now_is_tagged_until_it_turns_stale(
    store: EventStore, conflict: str, appender: Appender
) -> None:
    now = datetime.now(UTC)
    last = now - timedelta(hours=30)
    await appender.append([signed(conflict, occurred_at=last)])
    stale_after = timedelta(hours=36)
    view = await view_bytes.status(
        store.engine, conflict, as_of=None, known_at=None, window=WINDOW, stale_after=stale_after
    )
    body = json.loads(view.body)
    assert (body["stale"], body["quiet_for"], body["as_of"]) == (False, "P1D", None)
    assert view.validator.until == last + stale_after  # before its quiet days reach two
    later = await view_bytes.status(
        store.engine, conflict, as_of=last + stale_after, known_at=None, window=WINDOW,
        stale_after=stale_after,
    )  # fmt: skip
    assert json.loads(later.body)["stale"] is True and later.validator.until is None
    whole_days = await view_bytes.status(
        store.engine, conflict, as_of=None, known_at=None, window=WINDOW
    )  # 30 days: the next whole day comes first
    assert whole_days.validator.until == last + timedelta(days=2)


async def test_a_stale_badge_says_how_long_nothing_was_reported(
    store: EventStore, conflict: str, appender: Appender
) -> None:
    await _record(appender, _yemen(conflict))
    badge = await view_bytes.badge(store.engine, conflict, window=WINDOW)
    now = datetime.now(UTC)
    months = (now - at("2023-01-16T15:00:00Z")) // timedelta(days=30)
    assert f"ceasefire: lull · no reports {months} months" in badge.body.decode()
    listing = await view_bytes.conflicts(store.engine, window=WINDOW, after=conflict[:-1], limit=5)
    (summary,) = [s for s in json.loads(listing.body) if s["conflict"] == conflict]
    assert summary["stale"] is True and summary["quiet_for"].endswith("D")
    assert listing.validator.until is not None and listing.validator.until > now
