"""Milestones on every database: the Israeli withdrawal deadline inside the Israel-Lebanon
cessation of hostilities (``tests/fixtures/israel-lebanon-2024-cessation.ndjson``, sources in
each event) read through the status query at every moment that matters and at ``known_at``
before and after its extension was recorded; the same views in any recording order; the
state loaded from the tables is the state the fold makes, and a replay builds the same rows;
``next_change`` knows the due times, so a view of now is read again when one falls due."""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from app.services.appending import Appender
from events.log.store import EventStore
from events.model.envelope import Recorded
from events.model.evolve import evolve
from events.model.state import ConflictState
from events.model.types import Event, event_adapter
from projections.freshness import next_change, snapshot
from projections.inline import load_state
from projections.queries.status import read_status
from projections.runner import replay
from projections.views import StatusView
from tests.logtools import dump_projections

FIXTURE = Path(__file__).parent.parent / "fixtures" / "israel-lebanon-2024-cessation.ndjson"
AGREEMENT, WITHDRAWAL = "2024-11-cessation", "israeli-withdrawal"
SIGNED_DUE = datetime(2025, 1, 26, 2, tzinfo=UTC)
EXTENDED_AT = datetime(2025, 1, 26, 17, tzinfo=UTC)
NEW_DUE = datetime(2025, 2, 17, 22, tzinfo=UTC)
#: SYNTHETIC: the withdrawal was never recorded as met; a test needs a meeting.
MET_AT = NEW_DUE + timedelta(days=10)
WINDOW = timedelta(days=7)
SECOND = timedelta(seconds=1)


def _raw(conflict: str, extra: bool = False) -> list[dict[str, Any]]:
    """The fixture moved to ``conflict`` with fresh ids; with ``extra``, the synthetic
    meeting too."""
    lines = [json.loads(line) for line in FIXTURE.read_text().splitlines()]
    if extra:
        lines.append(
            {
                "type": "milestone.met",
                "occurred_at": MET_AT.isoformat(),
                "source": {"name": "test desk"},
                "data": {"agreement_id": AGREEMENT, "milestone_id": WITHDRAWAL},
            }
        )
    return [{**raw, "id": str(uuid.uuid4()), "conflict": conflict} for raw in lines]


def _events(conflict: str, extra: bool = False) -> list[Event]:
    return [event_adapter.validate_python(raw) for raw in _raw(conflict, extra)]


async def _load(appender: Appender, events: list[Event]) -> list[Recorded]:
    recorded = []
    for event in events:
        recorded += (await appender.append([event])).events
    return recorded


async def _status(
    store: EventStore, conflict: str, as_of: datetime, known_at: datetime | None = None
) -> StatusView:
    async with snapshot(store.engine) as conn:
        return await read_status(conn, conflict, as_of=as_of, known_at=known_at, window=WINDOW)


def _withdrawal(status: StatusView) -> Any:
    assert status.agreement is not None and status.agreement.agreement_id == AGREEMENT
    (milestone,) = status.agreement.milestones
    assert milestone.milestone_id == WITHDRAWAL
    return milestone


MOMENTS = [
    (datetime(2024, 12, 1, tzinfo=UTC), "holding", "pending", SIGNED_DUE),
    (datetime(2024, 12, 2, 10, tzinfo=UTC), "contested", "pending", SIGNED_DUE),
    (SIGNED_DUE - SECOND, "holding", "pending", SIGNED_DUE),
    (SIGNED_DUE, "holding", "overdue", SIGNED_DUE),
    (EXTENDED_AT - SECOND, "holding", "overdue", SIGNED_DUE),
    (EXTENDED_AT, "holding", "pending", NEW_DUE),
    (NEW_DUE - SECOND, "holding", "pending", NEW_DUE),
    (NEW_DUE, "holding", "overdue", NEW_DUE),
    (MET_AT, "holding", "met", NEW_DUE),
]


async def test_the_status_at_every_moment_and_as_the_log_knew_it(
    store: EventStore, appender: Appender, conflict: str
) -> None:
    recorded = await _load(appender, _events(conflict, extra=True))
    for as_of, state, milestone_state, due in MOMENTS:
        status = await _status(store, conflict, as_of)
        milestone = _withdrawal(status)
        assert (status.state, milestone.state, milestone.due_at) == (state, milestone_state, due)
        assert status.agreement is not None and status.agreement.state == state
        deadline = status.agreement.next_deadline
        assert (deadline and deadline.due_at) == (due if milestone_state == "pending" else None)
        assert status.agreements[0].milestones == status.agreement.milestones
    # Before the extension was recorded, the log said the withdrawal was overdue from 26 January.
    extension = next(r for r in recorded if r.type == "milestone.extended")
    before = extension.recorded_at - timedelta(microseconds=1)
    then = _withdrawal(await _status(store, conflict, EXTENDED_AT + SECOND, known_at=before))
    assert (then.state, then.due_at, then.extensions) == ("overdue", SIGNED_DUE, [])
    now = _withdrawal(
        await _status(store, conflict, EXTENDED_AT + SECOND, known_at=extension.recorded_at)
    )
    assert (now.state, now.due_at, [e.due_at for e in now.extensions]) == (
        "pending",
        NEW_DUE,
        [NEW_DUE],
    )
    # Nothing after T at T: not before it was signed, nor its meeting before it occurred.
    assert (await _status(store, conflict, datetime(2024, 11, 26, tzinfo=UTC))).agreements == []
    assert _withdrawal(await _status(store, conflict, MET_AT - SECOND)).met_at is None


def _comparable(status: StatusView) -> dict[str, Any]:
    return status.model_dump(mode="json", exclude={"conflict", "version", "position"})


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_any_recording_order_gives_the_same_views(
    store: EventStore, appender: Appender, seed: int
) -> None:
    """The signing first (every other event names it or its parties), then the others in a
    shuffled order: each order, in a conflict of its own, reads the same at every moment."""
    reference, shuffled = f"order-{uuid.uuid4().hex[:8]}", f"order-{uuid.uuid4().hex[:8]}"
    await _load(appender, _events(reference, extra=True))
    events = _events(shuffled, extra=True)
    signing, others = events[2], [*events[:2], *events[3:]]
    assert signing.type == "agreement.signed"
    random.Random(seed).shuffle(others)
    await _load(appender, [signing, *others])
    for as_of, *_ in MOMENTS:
        assert _comparable(await _status(store, shuffled, as_of)) == _comparable(
            await _status(store, reference, as_of)
        ), as_of


def _correction(target: Recorded, data: dict[str, Any], occurred_at: str) -> Event:
    return event_adapter.validate_python(
        {
            "type": "event.corrected",
            "conflict": target.conflict,
            "occurred_at": occurred_at,
            "source": {"name": "test desk"},
            "data": {
                "event_id": str(target.id),
                "event_type": target.type,
                "data": data,
                "reason": "corrected",
            },
        }
    )


async def test_the_state_loaded_is_the_state_folded_and_replay_builds_the_same_rows(
    fresh_store: EventStore, fresh_appender: Appender
) -> None:
    conflict = "israel-lebanon"
    recorded = await _load(fresh_appender, _events(conflict, extra=True))
    signing = next(r for r in recorded if r.type == "agreement.signed")
    extension = next(r for r in recorded if r.type == "milestone.extended")
    signed = signing.data.model_dump(mode="json", exclude_none=True)
    milestone = {**signed["milestones"][0], "description": "Israeli withdrawal (corrected)"}
    second = {"milestone_id": "handover", "description": "d", "due_at": "2025-03-01T00:00:00Z"}
    extended = extension.data.model_dump(mode="json", exclude_none=True)
    await _load(
        fresh_appender,
        [
            _correction(
                signing, {**signed, "milestones": [milestone, second]}, "2025-03-10T00:00:00Z"
            ),
            _correction(
                extension, {**extended, "due_at": "2025-02-19T00:00:00Z"}, "2025-03-11T00:00:00Z"
            ),
        ],
    )
    stored = await fresh_store.read_stream(conflict)
    by_id = {e.id: e for e in stored}
    folded = ConflictState(conflict)
    for event in stored:
        folded = evolve(folded, event, by_id.get)
    async with fresh_store.engine.connect() as conn:
        loaded = await load_state(conn, conflict)
    assert loaded.agreements == folded.agreements
    (withdrawal, handover) = loaded.agreements[AGREEMENT].milestones
    assert withdrawal.description == "Israeli withdrawal (corrected)"
    assert [e.due_at for e in withdrawal.extensions] == [datetime(2025, 2, 19, tzinfo=UTC)]
    assert withdrawal.met is not None and handover.milestone_id == "handover"
    before = await dump_projections(fresh_store.engine)
    assert len(before["proj_milestones"]) == 3  # the first version closed, then two
    assert len(before["proj_milestone_updates"]) == 3  # the extension twice, the meeting
    for batch_size in (1, 3, 1000):
        await replay(fresh_store, batch_size=batch_size)
        assert await dump_projections(fresh_store.engine) == before, batch_size


async def test_next_change_knows_when_a_milestone_falls_due(
    store: EventStore, appender: Appender, conflict: str
) -> None:
    await _load(appender, _events(conflict))
    expected = [
        (datetime(2025, 1, 1, tzinfo=UTC), SIGNED_DUE),
        (SIGNED_DUE, EXTENDED_AT),
        (EXTENDED_AT, NEW_DUE),
        (NEW_DUE, None),
    ]
    async with snapshot(store.engine) as conn:
        for after, due in expected:
            assert await next_change(conn, conflict=conflict, after=after, known_at=None) == due
            # Every conflict's list is read again by then too.
            found = await next_change(conn, conflict=None, after=after, known_at=None)
            if due is not None:
                assert found is not None and found <= due
