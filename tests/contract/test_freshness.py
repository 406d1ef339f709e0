"""Validators of views, on every database: the position they reflect and, for views of now,
the instant the clock alone may change them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from app.reads import view_bytes
from app.services.appending import Appender
from events.log.store import EventStore
from tests.factories import alleged, dispatched, signed

WINDOW = timedelta(seconds=30)


async def test_a_contested_view_of_now_is_good_until_the_window_runs_out(
    store: EventStore, conflict: str, appender: Appender
) -> None:
    now = datetime.now(UTC)
    await appender.append([signed(conflict, occurred_at=now - timedelta(days=1))])
    allegation = alleged(conflict, occurred_at=now - timedelta(seconds=10))
    appended = await appender.append([allegation])
    view = await view_bytes.status(store.engine, conflict, as_of=None, known_at=None, window=WINDOW)
    body = json.loads(view.body)
    assert body["state"] == "contested" and body["as_of"] is None
    assert view.validator.position == appended.events[0].position
    assert view.validator.until == allegation.occurred_at + WINDOW


async def test_the_earliest_event_dated_later_bounds_a_view_of_now(
    store: EventStore, conflict: str, appender: Appender
) -> None:
    now = datetime.now(UTC)
    soon, later = now + timedelta(hours=1), now + timedelta(hours=2)
    await appender.append(
        [
            signed(conflict, occurred_at=now - timedelta(days=1)),
            signed(conflict, agreement_id="cf-2", occurred_at=later),
            dispatched(conflict, occurred_at=soon),
        ]
    )
    status = await view_bytes.status(
        store.engine, conflict, as_of=None, known_at=None, window=WINDOW
    )
    assert status.validator.until == soon  # the mission comes due first
    allegations = await view_bytes.allegations(store.engine, conflict, as_of=None, known_at=None)
    assert allegations.validator.until == soon  # conservative: never later than a change
    listing = await view_bytes.conflicts(store.engine, window=WINDOW)
    assert listing.validator.until is not None and listing.validator.until <= soon


async def test_a_view_of_a_given_time_has_no_instant(
    store: EventStore, conflict: str, appender: Appender
) -> None:
    await appender.append([signed(conflict), alleged(conflict)])
    at = datetime(2022, 9, 24, tzinfo=UTC)
    status = await view_bytes.status(store.engine, conflict, as_of=at, known_at=None, window=WINDOW)
    assert status.validator.until is None
    assert json.loads(status.body)["as_of"] == "2022-09-24T00:00:00Z"
    timeline = await view_bytes.timeline(store.engine, conflict, known_at=None, window=WINDOW)
    assert timeline.validator.until is None
    assert timeline.validator.position == (await store.stream_head(conflict) or (0, 0))[1]


async def test_a_fixed_term_and_a_contested_window_elsewhere_bound_a_view_of_now(
    store: EventStore, conflict: str, appender: Appender
) -> None:
    now = datetime.now(UTC)
    end = now + timedelta(hours=3)
    # The status agreement is the latest signed in effect (national-2); the allegation under
    # the earlier one (named) contests it: its window's end changes the conflict's state.
    await appender.append(
        [
            signed(conflict, occurred_at=now - timedelta(days=2)),
            signed(conflict, "cf-2", occurred_at=now - timedelta(days=1), expires_at=end),
            alleged(conflict, occurred_at=now - timedelta(seconds=5), agreement_id="cf-1"),
        ]
    )
    status = await view_bytes.status(
        store.engine, conflict, as_of=None, known_at=None, window=WINDOW
    )
    body = json.loads(status.body)
    assert body["state"] == "contested" and body["agreement"]["agreement_id"] == "cf-2"
    # The conflict's latest allegation, though it falls under cf-1: nothing under cf-2 itself.
    assert body["last_allegation_at"] is not None
    assert body["agreement_last_allegation_at"] is None
    assert status.validator.until == now - timedelta(seconds=5) + WINDOW
    later = await view_bytes.status(
        store.engine, conflict, as_of=None, known_at=None, window=WINDOW / 60
    )
    assert later.validator.until == end  # the window is over: the fixed term ends next


async def test_an_allegation_near_the_last_instant_breaks_no_view(
    store: EventStore, conflict: str, appender: Appender
) -> None:
    last = datetime(9999, 12, 31, 23, 59, 50, tzinfo=UTC)  # its window would end past it
    await appender.append([signed(conflict), alleged(conflict, occurred_at=last)])
    now = await view_bytes.status(store.engine, conflict, as_of=None, known_at=None, window=WINDOW)
    # Its quiet days move on first (issue 18: the signing of 2022 is its last report); then it
    # comes due; its window's end is past any instant.
    body = json.loads(now.body)
    assert body["last_report_at"] == "2022-09-14T16:00:00Z" and body["quiet_for"].endswith("D")
    signing = datetime(2022, 9, 14, 16, tzinfo=UTC)
    day = timedelta(days=1)
    until = now.validator.until
    assert until is not None and (until - signing) % day == timedelta(0)
    assert until - day <= datetime.now(UTC) and until < last
    at_the_end = await view_bytes.status(
        store.engine, conflict, as_of=last + timedelta(seconds=5), known_at=None, window=WINDOW
    )
    assert json.loads(at_the_end.body)["state"] == "contested"
