"""Milestones with no database: the Israeli withdrawal deadline inside the open-ended
Israel-Lebanon cessation of hostilities of November 2024 (``tests/fixtures/
israel-lebanon-2024-cessation.ndjson``, sources in each event), pending, overdue, extended and
overdue again; a meeting of it (SYNTHETIC: it was not met); the refusals; corrections; the rows
the fold makes; the timeline; and the same views whatever order the events were recorded in."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from events.model.decision import decide
from events.model.envelope import Recorded
from events.model.errors import DomainRuleError
from events.model.state import AgreementState, ConflictState
from events.model.types import Event, event_adapter
from projections.changes import Changes
from projections.fold import rows_into
from projections.timeline import build_timeline
from projections.views import AgreementView

FIXTURE = Path(__file__).parent.parent / "fixtures" / "israel-lebanon-2024-cessation.ndjson"
C = "israel-lebanon"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
AGREEMENT, WITHDRAWAL = "2024-11-cessation", "israeli-withdrawal"
#: 04:00 on 26 January 2025 in Lebanon (UTC+2): 60 days after the cessation took effect.
SIGNED_DUE = datetime(2025, 1, 26, 2, tzinfo=UTC)
#: The White House statement of 26 January (noon in Washington, taken for its unreported hour).
EXTENDED_AT = datetime(2025, 1, 26, 17, tzinfo=UTC)
#: The start of 18 February 2025 in Lebanon.
NEW_DUE = datetime(2025, 2, 17, 22, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def _fixture() -> list[Event]:
    return [
        event_adapter.validate_python(json.loads(line)) for line in FIXTURE.read_text().splitlines()
    ]


def _event(type_: str, occurred_at: datetime | str, **data: Any) -> Event:
    when = occurred_at if isinstance(occurred_at, str) else occurred_at.isoformat()
    return event_adapter.validate_python(
        {
            "type": type_,
            "conflict": C,
            "occurred_at": when,
            "source": {"name": "test desk"},
            "data": data,
        }
    )


def _met(occurred_at: datetime, milestone_id: str = WITHDRAWAL, **data: Any) -> Event:
    """SYNTHETIC: the deadline was not met; a test needs a meeting."""
    return _event(
        "milestone.met", occurred_at, agreement_id=AGREEMENT, milestone_id=milestone_id, **data
    )


def _extended(occurred_at: datetime, due_at: datetime, milestone_id: str = WITHDRAWAL) -> Event:
    return _event(
        "milestone.extended",
        occurred_at,
        agreement_id=AGREEMENT,
        milestone_id=milestone_id,
        due_at=due_at.isoformat(),
    )


def _decided(events: list[Event], state: ConflictState | None = None) -> ConflictState:
    return decide(state or ConflictState(C), events, now=NOW).state


def _recorded(events: list[Event]) -> list[Recorded]:
    return decide(ConflictState(C), events, now=NOW).recorded


def _agreement(state: ConflictState) -> AgreementState:
    return state.agreements[AGREEMENT]


def _view(state: ConflictState, at: datetime) -> AgreementView:
    return AgreementView.of(_agreement(state), at, "holding")


def _refused(events: list[Event], event: Event) -> str:
    state = _decided(events)
    with pytest.raises(DomainRuleError) as refused:
        decide(state, [event], now=NOW)
    return refused.value.rule


@pytest.mark.parametrize(
    ("at", "expected", "due"),
    [
        (datetime(2024, 11, 26, 10, tzinfo=UTC), "pending", SIGNED_DUE),  # signed, not in effect
        (datetime(2024, 12, 2, 10, tzinfo=UTC), "pending", SIGNED_DUE),
        (SIGNED_DUE - SECOND, "pending", SIGNED_DUE),
        (SIGNED_DUE, "overdue", SIGNED_DUE),  # the 60 days are up: Israeli forces still there
        (EXTENDED_AT - SECOND, "overdue", SIGNED_DUE),  # the extension not yet announced
        (EXTENDED_AT, "pending", NEW_DUE),
        (NEW_DUE - SECOND, "pending", NEW_DUE),
        (NEW_DUE, "overdue", NEW_DUE),  # five positions kept: never recorded as met
        (datetime(2025, 6, 1, tzinfo=UTC), "overdue", NEW_DUE),
    ],
)
def test_the_withdrawal_deadline_at_every_moment_that_matters(
    at: datetime, expected: str, due: datetime
) -> None:
    state = _decided(_fixture())
    view = _view(state, at)
    (milestone,) = view.milestones
    assert (milestone.milestone_id, milestone.state, milestone.due_at) == (
        WITHDRAWAL,
        expected,
        due,
    )
    assert milestone.signed_due_at == SIGNED_DUE
    assert [e.due_at for e in milestone.extensions] == ([NEW_DUE] if at >= EXTENDED_AT else [])
    if expected == "pending":
        assert view.next_deadline is not None
        assert (view.next_deadline.milestone_id, view.next_deadline.due_at) == (WITHDRAWAL, due)
    else:
        assert view.next_deadline is None
    # The deadline never ends the open-ended cessation.
    assert view.expires_at is None
    effective = datetime(2024, 11, 27, 2, tzinfo=UTC)
    assert _agreement(state).state_at(at) == ("pending" if at < effective else "in_effect")


def test_a_milestone_is_met_from_its_meetings_occurred_at() -> None:
    met_at = datetime(2025, 2, 10, tzinfo=UTC)
    state = _decided([*_fixture(), _met(met_at, statement="Withdrawn (synthetic).")])
    before = _view(state, met_at - SECOND)
    assert before.milestones[0].state == "pending" and before.milestones[0].met_at is None
    assert before.next_deadline is not None
    for at in (met_at, NEW_DUE, NEW_DUE + timedelta(days=30)):
        (milestone,) = _view(state, at).milestones
        assert (milestone.state, milestone.met_at) == ("met", met_at)
        assert milestone.statement == "Withdrawn (synthetic)."
        assert _view(state, at).next_deadline is None


def test_a_late_meeting_is_met_and_not_overdue_from_then() -> None:
    met_at = NEW_DUE + timedelta(days=3)
    state = _decided([*_fixture(), _met(met_at)])
    assert _view(state, met_at - SECOND).milestones[0].state == "overdue"
    assert _view(state, met_at).milestones[0].state == "met"


def test_next_deadline_names_the_pending_milestone_due_first() -> None:
    signed = _event(
        "agreement.signed",
        "2025-01-15T10:00:00Z",
        agreement_id=AGREEMENT,
        parties=["Israel", "Hamas"],
        milestones=[
            {"milestone_id": "second", "description": "b", "due_at": "2025-03-01T00:00:00Z"},
            {"milestone_id": "first", "description": "a", "due_at": "2025-02-01T00:00:00Z"},
            {"milestone_id": "third", "description": "c", "due_at": "2025-04-01T00:00:00Z"},
        ],
    )
    state = _decided([signed, _met(datetime(2025, 1, 20, tzinfo=UTC), "first")])
    view = _view(state, datetime(2025, 1, 25, tzinfo=UTC))
    assert [m.milestone_id for m in view.milestones] == ["first", "second", "third"]
    assert [m.state for m in view.milestones] == ["met", "pending", "pending"]
    assert view.next_deadline is not None and view.next_deadline.milestone_id == "second"
    later = _view(state, datetime(2025, 3, 2, tzinfo=UTC))
    assert [m.state for m in later.milestones] == ["met", "overdue", "pending"]
    assert later.next_deadline is not None and later.next_deadline.milestone_id == "third"


def test_the_open_ended_agreement_is_not_extended_but_its_milestone_is() -> None:
    events = _fixture()
    extension = _event(
        "agreement.extended", EXTENDED_AT, agreement_id=AGREEMENT, expires_at=NEW_DUE.isoformat()
    )
    assert _refused(events[:-1], extension) == "not-fixed-term"
    assert _agreement(_decided(events)).milestones[0].current_due() == NEW_DUE


def _later(days: int) -> datetime:
    return NEW_DUE + timedelta(days=days)


@pytest.mark.parametrize(
    ("setup", "event", "rule"),
    [
        ([], _extended(EXTENDED_AT, NEW_DUE, "prisoner-exchange"), "unknown-milestone"),
        ([], _met(EXTENDED_AT, "prisoner-exchange"), "unknown-milestone"),
        ([], _extended(_later(1), NEW_DUE), "milestone-extension-not-later"),
        ([], _extended(_later(1), NEW_DUE - SECOND), "milestone-extension-not-later"),
        ([_met(_later(2))], _met(_later(3)), "milestone-already-met"),
        ([_met(_later(2))], _extended(_later(2), _later(10)), "milestone-already-met"),
        ([], _met(datetime(2024, 11, 25, tzinfo=UTC)), "milestone-before-signing"),
        (
            [_event("agreement.collapsed", _later(1), agreement_id=AGREEMENT)],
            _extended(_later(1), _later(10)),
            "agreement-already-collapsed",
        ),
        (
            [],
            _event("milestone.met", EXTENDED_AT, agreement_id="no-such", milestone_id=WITHDRAWAL),
            "unknown-agreement",
        ),
        (
            [],
            _event(
                "agreement.signed",
                "2025-03-01T00:00:00Z",
                agreement_id="2025-03-truce",
                parties=["Israel", "Hezbollah"],
                milestones=[
                    {"milestone_id": "m", "description": "d", "due_at": "2025-03-01T00:00:00Z"}
                ],
            ),
            "milestone-due-before-signing",
        ),
    ],
)
def test_nonsense_is_refused(setup: list[Event], event: Event, rule: str) -> None:
    assert _refused([*_fixture(), *setup], event) == rule


def test_duplicate_milestone_ids_are_invalid() -> None:
    twice = {"milestone_id": "m", "description": "d", "due_at": "2025-03-01T00:00:00Z"}
    with pytest.raises(ValidationError, match="milestone ids must be distinct"):
        _event(
            "agreement.signed",
            "2025-01-01T00:00:00Z",
            agreement_id="a",
            parties=["Israel", "Hezbollah"],
            milestones=[twice, {**twice, "description": "again"}],
        )


def test_an_extension_recorded_after_a_later_meeting_is_accepted() -> None:
    """Recorded late, the extension still occurred before the meeting: the same state as in
    the order they happened."""
    *before, extension = _fixture()
    met = _met(_later(5))
    in_order = _decided([*before, extension, met])
    late = _decided([*before, met, extension])
    assert _agreement(late) == _agreement(in_order)


def _signing(events: list[Event]) -> Recorded:
    return next(r for r in _recorded(events) if r.type == "agreement.signed")


def _correction(target: Recorded, data: dict[str, Any], when: datetime = _later(30)) -> Event:
    return _event(
        "event.corrected",
        when,
        event_id=str(target.id),
        event_type=target.type,
        data=data,
        reason="corrected",
    )


def _signed_data(target: Recorded, milestones: list[dict[str, Any]]) -> dict[str, Any]:
    data = target.data.model_dump(mode="json", exclude_none=True)
    return {**data, "milestones": milestones}


def test_a_correction_of_the_signing_changes_a_milestone_and_keeps_its_extension() -> None:
    events = _fixture()
    recorded = _recorded(events)
    signing = next(r for r in recorded if r.type == "agreement.signed")
    due = "2025-01-27T02:00:00Z"
    data = _signed_data(
        signing, [{"milestone_id": WITHDRAWAL, "description": "Withdrawal", "due_at": due}]
    )
    state = decide(
        _decided(events), [_correction(signing, data)], now=NOW, referenced={signing.id: signing}
    ).state
    (milestone,) = _agreement(state).milestones
    assert (milestone.description, milestone.due_at.isoformat()) == (
        "Withdrawal",
        "2025-01-27T02:00:00+00:00",
    )
    assert [e.due_at for e in milestone.extensions] == [NEW_DUE]
    assert _view(state, SIGNED_DUE).milestones[0].state == "pending"  # due a day later now


def test_a_correction_may_not_drop_an_extended_milestone() -> None:
    events = _fixture()
    signing = _signing(events)
    state = _decided(events)
    with pytest.raises(DomainRuleError) as refused:
        decide(
            state,
            [_correction(signing, _signed_data(signing, []))],
            now=NOW,
            referenced={signing.id: signing},
        )
    assert refused.value.rule == "correction-drops-milestone"
    # Before it was extended, it may go.
    unextended = _decided(events[:-1])
    after = decide(
        unextended,
        [_correction(signing, _signed_data(signing, []))],
        now=NOW,
        referenced={signing.id: signing},
    ).state
    assert _agreement(after).milestones == ()


def test_corrections_of_an_extension_and_of_a_meeting() -> None:
    met = _met(_later(5), statement="first account")
    recorded = _recorded([*_fixture(), met])
    extension = next(r for r in recorded if r.type == "milestone.extended")
    meeting = recorded[-1]
    state = _decided([*_fixture(), met])
    referenced = {extension.id: extension, meeting.id: meeting}
    corrected_due = NEW_DUE + timedelta(days=1)
    extension_data = extension.data.model_dump(mode="json", exclude_none=True)
    changes = [
        _correction(extension, {**extension_data, "due_at": corrected_due.isoformat()}),
        _correction(
            meeting,
            {"agreement_id": AGREEMENT, "milestone_id": WITHDRAWAL, "statement": "second account"},
        ),
    ]
    after = decide(state, changes, now=NOW, referenced=referenced).state
    (milestone,) = _agreement(after).milestones
    assert [(e.event_id, e.due_at) for e in milestone.extensions] == [(extension.id, corrected_due)]
    assert milestone.met is not None and milestone.met.statement == "second account"
    assert milestone.met.occurred_at == _later(5)  # a correction keeps its occurred_at
    for bad, rule in [
        ({**extension_data, "due_at": SIGNED_DUE.isoformat()}, "milestone-extension-not-later"),
        ({**extension_data, "milestone_id": "other"}, "correction-changes-identity"),
    ]:
        with pytest.raises(DomainRuleError) as refused:
            decide(state, [_correction(extension, bad)], now=NOW, referenced=referenced)
        assert refused.value.rule == rule


def test_the_rows_of_milestones_and_their_updates() -> None:
    changes = Changes()
    decide(ConflictState(C), _fixture(), now=NOW, observe=rows_into(changes))
    rows: dict[str, list[dict[str, Any]]] = {}
    for table, row in changes.inserts:
        rows.setdefault(table, []).append(row)
    (milestone,) = rows["proj_milestones"]
    assert (milestone["milestone_id"], milestone["due_at"]) == (WITHDRAWAL, SIGNED_DUE)
    (update,) = rows["proj_milestone_updates"]
    assert (update["type"], update["occurred_at"], update["due_at"]) == (
        "milestone.extended",
        EXTENDED_AT,
        NEW_DUE,
    )


def test_the_timeline_tells_the_extension_with_the_milestones_state() -> None:
    recorded = _recorded([*_fixture(), _met(_later(5))])
    state = _decided([*_fixture(), _met(_later(5))])
    entries = build_timeline(recorded, list(state.agreements.values()), timedelta(days=7))
    by_type = {e.type: e for e in entries}
    assert "Milestones: Israeli forces withdraw" in by_type["agreement.signed"].summary
    extension = by_type["milestone.extended"]
    assert extension.summary.startswith(
        "Milestone israeli-withdrawal of 2024-11-cessation extended until "
        "17 February 2025, 22:00 UTC"
    )
    assert extension.milestone_state == "pending"
    assert by_type["milestone.met"].milestone_state == "met"
    assert by_type["agreement.signed"].milestone_state is None
    # Telling it as of the day after the old due: no extension yet.
    told = build_timeline(recorded, list(state.agreements.values()), timedelta(days=7), SIGNED_DUE)
    assert "milestone.extended" not in {e.type for e in told}


MOMENTS = [
    SIGNED_DUE - SECOND,
    SIGNED_DUE,
    EXTENDED_AT,
    NEW_DUE - SECOND,
    NEW_DUE,
    _later(4),
    _later(5),
    _later(40),
]


@pytest.mark.parametrize("seed", range(6))
def test_any_recording_order_gives_the_same_views(seed: int) -> None:
    """The signing first (everything else names it), the rest shuffled: two extensions, a
    meeting (SYNTHETIC) and the fixture's other events. Orders the rules refuse (a second
    extension before the first: not later) are skipped, as a writer would see them refused."""
    signing, *rest = _fixture()[2:3] + _fixture()[:2] + _fixture()[3:]
    rest += [_extended(_later(1), _later(3)), _met(_later(5))]
    reference = _decided([signing, *rest])
    shuffled = list(rest)
    random.Random(seed).shuffle(shuffled)
    try:
        state = _decided([signing, *shuffled])
    except DomainRuleError as refused:
        assert refused.rule == "milestone-extension-not-later"
        # The extensions in the order of their due times, in the places they were shuffled to.
        places = [i for i, e in enumerate(shuffled) if e.type == "milestone.extended"]
        extensions = sorted(
            (shuffled[i] for i in places), key=lambda e: e.data.model_dump()["due_at"]
        )
        for i, extension in zip(places, extensions, strict=True):
            shuffled[i] = extension
        state = _decided([signing, *shuffled])
    for at in MOMENTS:
        assert _view(state, at) == _view(reference, at), at
