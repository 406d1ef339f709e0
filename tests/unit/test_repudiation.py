"""Parties that leave an agreement (``agreement.repudiated``) and talks, in the pure domain: who
is bound at T, the states and views that follow, the rules, corrections, the rows the fold
writes, and the property that any order of recording gives the same views. No database."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.model.decision import decide
from events.model.envelope import Recorded
from events.model.errors import DomainRuleError
from events.model.state import AgreementState, ConflictState
from events.model.types import Event, event_adapter
from projections.changes import Changes
from projections.filing import Filing, role_of
from projections.fold import rows_into
from projections.inline import agreement_from_row
from projections.standing import conflict_standing
from projections.state_sweep import conflict_states
from projections.timeline import build_timeline
from projections.views import AgreementView

C = "c"
WINDOW = timedelta(days=7)
T0 = datetime(2024, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def event(type_: str, occurred_at: str | datetime, **data: Any) -> Event:
    when = occurred_at if isinstance(occurred_at, str) else occurred_at.isoformat()
    return event_adapter.validate_python(
        {"type": type_, "conflict": C, "occurred_at": when, "source": {"name": "s"}, "data": data}
    )


def left(occurred_at: str | datetime, party: str, never_agreed: bool, aid: str = "a") -> Event:
    return event(
        "agreement.repudiated",
        occurred_at,
        agreement_id=aid,
        party=party,
        never_agreed=never_agreed,
        statement=f"{party} says so",
    )


class Log:
    """Appends through ``decide`` (rules, canonical names, fold) and keeps the fold's rows."""

    def __init__(self, *events: Event) -> None:
        self.state = ConflictState(C)
        self.changes = Changes()
        self.recorded: list[Recorded] = []
        self.by_id: dict[UUID, Recorded] = {}
        for e in events:
            self.append(e)

    def append(self, e: Event) -> Recorded:
        when = T0 + timedelta(hours=len(self.recorded))
        decided = decide(
            self.state, [e], now=when, referenced=self.by_id, observe=rows_into(self.changes)
        )
        self.state = decided.state
        (record,) = decided.recorded
        self.recorded.append(record)
        self.by_id[record.id] = record
        return record

    def refused(self, e: Event) -> str:
        with pytest.raises(DomainRuleError) as caught:
            self.append(e)
        return caught.value.rule

    def agreement(self, aid: str = "a") -> AgreementState:
        return self.state.agreements[aid]


def three_party() -> Log:
    return Log(
        event(
            "agreement.signed",
            "2024-01-01T00:00:00Z",
            agreement_id="a",
            parties=["A", "B", "C"],
            effective_at="2024-01-02T00:00:00Z",
            expires_at="2024-02-01T00:00:00Z",
        )
    )


def test_withdrawals_leave_the_rest_bound_then_one_unilateral_then_withdrawn() -> None:
    log = three_party()
    log.append(left("2024-01-05T00:00:00Z", "C", never_agreed=False))
    log.append(left("2024-01-10T00:00:00Z", "B", never_agreed=False))
    a = log.agreement()
    assert a.bound_at(at("2024-01-04T00:00:00Z")) == ("A", "B", "C")
    assert a.bound_at(at("2024-01-05T00:00:00Z")) == ("A", "B")
    assert a.declarer_at(at("2024-01-06T00:00:00Z")) is None
    assert a.declarer_at(at("2024-01-10T00:00:00Z")) == "A"
    assert a.withdrawn_at is None and a.state_at(at("2024-01-20T00:00:00Z")) == "in_effect"
    log.append(left("2024-01-15T00:00:00Z", "A", never_agreed=False))
    a = log.agreement()
    assert a.withdrawn_at == at("2024-01-15T00:00:00Z")
    assert a.periods() == [(at("2024-01-02T00:00:00Z"), at("2024-01-15T00:00:00Z"))]
    assert a.state_at(at("2024-01-14T23:00:00Z")) == "in_effect"
    assert a.state_at(at("2024-01-15T00:00:00Z")) == "withdrawn"
    assert a.state_at(at("2024-03-01T00:00:00Z")) == "withdrawn"  # not expired: it ended first
    assert a.ended_at(at("2024-03-01T00:00:00Z")) == at("2024-01-15T00:00:00Z")
    # After its end it reads as it last was: A's commitment.
    assert a.declarer_at(at("2024-03-01T00:00:00Z")) == "A"
    view = AgreementView.of(a, at("2024-01-12T00:00:00Z"), "holding")
    assert (view.unilateral, view.declared_by, view.committed) == (True, "A", ["A"])
    assert [(w.party, w.occurred_at) for w in view.withdrawals] == [
        ("C", at("2024-01-05T00:00:00Z")),
        ("B", at("2024-01-10T00:00:00Z")),
    ]
    assert view.withdrawn_at is None and view.disputed_by == []
    early = AgreementView.of(a, at("2024-01-03T00:00:00Z"), "holding")
    assert (early.unilateral, early.committed, early.withdrawals) == (False, ["A", "B", "C"], [])
    late = AgreementView.of(a, at("2024-01-20T00:00:00Z"), "withdrawn")
    assert late.withdrawn_at == at("2024-01-15T00:00:00Z") and late.parties == ["A", "B", "C"]


def test_never_agreed_holds_at_every_time_and_leaves_the_others_commitment() -> None:
    log = Log(
        event("agreement.signed", "2024-01-01T00:00:00Z", agreement_id="a", parties=["Gov", "G"])
    )
    log.append(left("2024-01-03T00:00:00Z", "g", never_agreed=True))  # any spelling of G
    a = log.agreement()
    assert a.departures[0].party == "G"
    for when in ("2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z", "2024-06-01T00:00:00Z"):
        view = AgreementView.of(a, at(when), "holding")
        assert (view.unilateral, view.declared_by, view.committed) == (True, "Gov", ["Gov"])
        assert [(d.party, d.statement) for d in view.disputed_by] == [("G", "g says so")]
        assert view.withdrawals == [] and view.parties == ["Gov", "G"]
    assert a.state_at(at("2024-06-01T00:00:00Z")) == "in_effect"  # Gov's commitment goes on


def test_a_declarer_withdrawing_ends_its_declaration() -> None:
    log = Log(
        event(
            "ceasefire.declared", "2024-01-01T00:00:00Z", agreement_id="a", declared_by="A",
            toward=["B"],
        )
    )  # fmt: skip
    assert log.refused(left("2024-01-02T00:00:00Z", "B", never_agreed=False)) == "not-bound"
    assert log.refused(left("2024-01-02T00:00:00Z", "A", never_agreed=True)) == "nobody-bound"
    log.append(left("2024-01-02T00:00:00Z", "A", never_agreed=False))
    assert log.agreement().state_at(at("2024-01-03T00:00:00Z")) == "withdrawn"


def test_the_roles_and_the_filing_stay_as_signed() -> None:
    """The party that left stays a party (the one the commitment is toward)."""
    log = Log(
        event("agreement.signed", "2024-01-01T00:00:00Z", agreement_id="a", parties=["Gov", "G"])
    )
    log.append(left("2024-01-03T00:00:00Z", "G", never_agreed=True))
    a = log.agreement()
    filing = Filing([a])
    assert filing.agreement_of(None, at("2024-01-05T00:00:00Z"), "G") == "a"
    assert filing.agreement_of(None, at("2024-01-05T00:00:00Z"), "Gov") == "a"
    assert role_of(a, "G", ()) == "party" and role_of(a, "Gov", ()) == "party"


@pytest.mark.parametrize(
    ("events", "rule"),
    [
        ([left("2024-01-05T00:00:00Z", "A", False, aid="nope")], "unknown-agreement"),
        ([left("2024-01-05T00:00:00Z", "Gov", False)], "not-a-party"),
        ([left("2024-01-05T00:00:00Z", "A", False)] * 2, "already-repudiated"),
        (
            [left("2024-01-05T00:00:00Z", "A", True), left("2024-01-06T00:00:00Z", "A", False)],
            "already-repudiated",
        ),
        ([left("2023-12-31T00:00:00Z", "A", False)], "repudiation-before-signing"),
        ([left("2024-02-01T00:00:00Z", "A", False)], "agreement-ended"),
        (
            [
                event("agreement.collapsed", "2024-01-05T00:00:00Z", agreement_id="a"),
                left("2024-01-04T00:00:00Z", "A", False),
            ],
            "agreement-already-collapsed",
        ),
        (
            [
                left("2024-01-05T00:00:00Z", "A", True),
                left("2024-01-05T00:00:00Z", "B", True),
                left("2024-01-05T00:00:00Z", "C", True),
            ],
            "nobody-bound",
        ),
        (
            [
                *(left("2024-01-05T00:00:00Z", p, False) for p in "ABC"),
                event("agreement.collapsed", "2024-01-06T00:00:00Z", agreement_id="a"),
            ],
            "agreement-withdrawn",
        ),
        (
            [
                *(left("2024-01-05T00:00:00Z", p, False) for p in "ABC"),
                event(
                    "agreement.extended",
                    "2024-01-04T00:00:00Z",
                    agreement_id="a",
                    expires_at="2024-03-01T00:00:00Z",
                ),
            ],
            "agreement-withdrawn",
        ),
    ],
)
def test_nonsense_is_refused(events: list[Event], rule: str) -> None:
    log = three_party()
    *before, last = events
    for e in before:
        log.append(e)
    assert log.refused(last) == rule


def test_a_party_is_named_by_any_spelling_of_its_actor_and_no_other_name() -> None:
    log = three_party()
    log.append(event("actor.registered", "2024-01-01T00:00:00Z", name="A", kind="state",
                     aliases=["Alpha"]))  # fmt: skip
    # A name no actor has is no party either: the rule says so before the name is resolved.
    assert log.refused(left("2024-01-05T00:00:00Z", "Nobody", False)) == "not-a-party"
    recorded = log.append(left("2024-01-05T00:00:00Z", "alpha", False))
    assert recorded.data.party == "A"  # type: ignore[union-attr]
    assert recorded.data.as_written == {"party": "alpha"}  # type: ignore[union-attr]
    assert log.agreement().departures[0].party == "A"


def test_never_agreed_is_accepted_when_another_was_bound_for_a_while() -> None:
    log = Log(
        event("agreement.signed", "2024-01-01T00:00:00Z", agreement_id="a", parties=["A", "B"])
    )
    log.append(left("2024-01-05T00:00:00Z", "B", never_agreed=False))
    log.append(left("2024-01-06T00:00:00Z", "A", never_agreed=True))
    a = log.agreement()
    assert a.declarer_at(at("2024-01-02T00:00:00Z")) == "B"
    assert a.state_at(at("2024-01-05T00:00:00Z")) == "withdrawn"


def test_the_row_carries_the_departures_and_reads_back_the_same() -> None:
    log = three_party()
    log.append(left("2024-01-05T00:00:00Z", "C", never_agreed=False))
    log.append(left("2024-01-06T00:00:00Z", "B", never_agreed=True))
    rows = [r for t, r in log.changes.inserts if t == "proj_agreements"]
    assert [r["known_until"] is None for r in rows] == [False, False, True]
    assert [r["departed_at"] for r in rows] == [
        None,
        at("2024-01-05T00:00:00Z"),
        at("2024-01-06T00:00:00Z"),
    ]
    assert [d["party"] for d in json.loads(rows[-1]["departures"])] == ["C", "B"]
    assert agreement_from_row(rows[-1]) == log.agreement()
    # No departure: nothing stored, as in every row an older log makes.
    assert rows[0]["departures"] is None


def test_a_correction_changes_the_statement_only() -> None:
    log = three_party()
    original = log.append(left("2024-01-05T00:00:00Z", "C", never_agreed=False))

    def correction(**data: Any) -> Event:
        return event(
            "event.corrected",
            "2024-01-07T00:00:00Z",
            event_id=str(original.id),
            event_type="agreement.repudiated",
            reason="misquoted",
            data={"agreement_id": "a", "party": "C", "never_agreed": False, "statement": "x"}
            | data,
        )

    assert log.refused(correction(party="B")) == "correction-changes-identity"
    assert log.refused(correction(never_agreed=True)) == "correction-changes-identity"
    log.append(correction(statement="What C really said."))
    (departure,) = log.agreement().departures
    assert departure.statement == "What C really said."
    assert departure.occurred_at == at("2024-01-05T00:00:00Z")
    current = [
        r for t, r in log.changes.inserts if t == "proj_agreements" and r["known_until"] is None
    ]
    assert json.loads(current[0]["departures"])[0]["statement"] == "What C really said."


def test_talks_change_no_state_and_their_parties_become_actors() -> None:
    log = three_party()
    before = log.agreement()
    log.append(
        event("talks.suspended", "2024-01-08T00:00:00Z", parties=["A", "Newcomer"], venue="Oslo")
    )
    log.append(event("talks.resumed", "2024-01-09T00:00:00Z", parties=["a", "B"]))
    assert log.agreement() == before
    assert log.state.actors.resolve("Newcomer") == "Newcomer"
    assert [r["name"] for t, r in log.changes.inserts if t == "proj_actors"][-1] == "Newcomer"
    assert log.recorded[-1].data.parties == ("A", "B")  # type: ignore[union-attr]
    story = build_timeline(log.recorded, [log.agreement()], WINDOW)
    assert [(e.type, e.state) for e in story][-2:] == [
        ("talks.suspended", "holding"),
        ("talks.resumed", "holding"),
    ]
    assert story[-2].summary == "Talks between A and Newcomer in Oslo suspended."
    log.append(event("actor.registered", "2024-01-09T00:00:00Z", name="A", kind="state",
                     aliases=["Alpha"]))  # fmt: skip
    talks = event("talks.resumed", "2024-01-09T00:00:00Z", parties=["A", "Alpha"])
    assert log.refused(talks) == "same-actor-twice"


def test_the_conflict_is_withdrawn_when_its_last_national_commitment_is() -> None:
    log = Log(
        event("agreement.signed", "2024-01-01T00:00:00Z", agreement_id="a", parties=["A", "B"])
    )
    log.append(left("2024-01-05T00:00:00Z", "B", never_agreed=False))
    log.append(left("2024-01-09T00:00:00Z", "A", never_agreed=False))
    agreements = list(log.state.agreements.values())
    moments = [at(f"2024-01-{d:02d}T12:00:00Z") for d in range(1, 12)]
    standings = [conflict_standing(agreements, m, {}, WINDOW) for m in moments]
    assert [s.state for s in standings] == ["holding"] * 8 + ["withdrawn"] * 3
    assert standings[-1].since == at("2024-01-09T00:00:00Z")
    assert conflict_states(agreements, [], moments, WINDOW) == [s.state for s in standings]


# -- The order property ------------------------------------------------------------------

PARTIES = ["A", "B", "C", "D"]


@st.composite
def histories(draw: st.DrawFn) -> list[Event]:
    """Agreements and declarations, departures (never every party "never agreed"), talks and
    allegations: valid in every order of recording that keeps each departure after its
    agreement."""
    out: list[Event] = []
    for i in range(draw(st.integers(1, 3))):
        start = T0 + draw(st.integers(0, 20)) * DAY
        term = draw(st.one_of(st.none(), st.integers(5, 20)))
        common: dict[str, Any] = {"agreement_id": f"a{i}"}
        if term is not None:
            common["expires_at"] = (start + term * DAY).isoformat()
        parties = draw(st.lists(st.sampled_from(PARTIES), min_size=2, max_size=3, unique=True))
        if draw(st.booleans()):
            out.append(event("agreement.signed", start, parties=parties, **common))
            binding = parties
        else:
            declared = {"declared_by": parties[0], "toward": parties[1:]}
            out.append(event("ceasefire.declared", start, **declared, **common))
            binding = parties[:1]
        leaving = draw(st.lists(st.sampled_from(binding), unique=True))
        never = [draw(st.booleans()) for _ in leaving]
        if never and all(never) and len(leaving) == len(binding):
            never[0] = False
        for party, never_agreed in zip(leaving, never, strict=True):
            when = start + draw(st.integers(0, (term or 30) - 1)) * DAY
            out.append(left(when, party, never_agreed, aid=f"a{i}"))
    for _ in range(draw(st.integers(0, 6))):
        by, accused = draw(st.lists(st.sampled_from(PARTIES), min_size=2, max_size=2, unique=True))
        when = T0 + draw(st.integers(0, 45)) * DAY + draw(st.integers(0, 23)) * timedelta(hours=1)
        out.append(event("violation.alleged", when, alleged_by=by, accused=accused))
    when = T0 + draw(st.integers(0, 45)) * DAY
    out.append(event("talks.suspended", when, parties=["A", "B"]))
    return out


def _actors() -> list[Event]:
    return [event("actor.registered", T0, name=p, kind="armed_group") for p in PARTIES]


def _views(events: list[Event]) -> list[Any]:
    log = Log(*_actors(), *events)
    agreements = sorted(log.state.agreements.values(), key=lambda a: a.agreement_id)
    story = sorted(
        (e.occurred_at, e.summary, e.agreement_id, e.state)
        for e in build_timeline(log.recorded, agreements, WINDOW)
    )
    views = []
    for day in range(0, 50, 2):
        when = T0 + day * DAY + timedelta(hours=12)
        standing = conflict_standing(agreements, when, {}, WINDOW)
        views.append(
            (
                standing.state,
                standing.since,
                [
                    AgreementView.of(s.agreement, when, s.state).model_dump()
                    for s in standing.agreements
                ],
            )
        )
    return [story, views]


def _order(history: list[Event], seed: int) -> list[Event]:
    """A shuffle of ``history`` with each departure moved after its agreement."""
    shuffled = list(history)
    random.Random(seed).shuffle(shuffled)
    out: list[Event] = []
    waiting: dict[str, list[Event]] = {}
    made: set[str] = set()
    for e in shuffled:
        aid = getattr(e.data, "agreement_id", None)
        if e.type == "agreement.repudiated" and aid not in made:
            waiting.setdefault(str(aid), []).append(e)
            continue
        out.append(e)
        if e.type in ("agreement.signed", "ceasefire.declared"):
            made.add(str(aid))
            out.extend(waiting.pop(str(aid), []))
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=histories(), seed=st.integers(0, 2**32 - 1))
def test_any_recording_order_gives_the_same_views(history: list[Event], seed: int) -> None:
    assert _views(_order(history, seed)) == _views(history)
