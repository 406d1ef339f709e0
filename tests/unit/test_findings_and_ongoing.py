"""Issue 18, with no database: findings contest like claims and are told apart by weight; an
ongoing violation contests until the window after its end; an aggregate report is filed by
its period and contests from its end; the rules of ``incident.ended`` and
``violations.reported``; the sweep of a timeline agrees with the status at every moment."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from events.model.canonical import as_sent
from events.model.decision import decide
from events.model.errors import DomainRuleError, UnknownActorError
from events.model.state import AgreementState, ConflictState
from events.model.types import Event, data_of, event_adapter
from projections.changes import Changes
from projections.filing import contests
from projections.findings import report_agreements, weight_of
from projections.fold import rows_into
from projections.standing import conflict_standing
from projections.state_sweep import Contest, conflict_states

WINDOW = timedelta(days=7)
NOW = datetime(2030, 1, 1, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def event(type_: str, occurred_at: str, /, **data: Any) -> Event:
    return event_adapter.validate_python(
        {
            "type": type_,
            "conflict": "c",
            "occurred_at": occurred_at,
            "source": {"name": "desk"},
            "data": data,
        }
    )


def truce(**changes: Any) -> AgreementState:
    base: dict[str, Any] = {
        "agreement_id": "t",
        "parties": ("A", "B"),
        "mediators": ("Envoy",),
        "kind": "ceasefire",
        "terms": None,
        "signed_at": at("2024-01-01T00:00:00Z"),
        "effective_at": at("2024-01-02T00:00:00Z"),
        "collapsed_at": None,
        "collapse_reason": None,
        "version": 1,
        "event_id": NOW,  # any value: not read here
    }
    return AgreementState(**{**base, **changes})


BASE = [
    event(
        "agreement.signed",
        "2024-01-01T00:00:00Z",
        agreement_id="t",
        parties=["A", "B"],
        mediators=["Envoy"],
    ),
    event(
        "actor.registered", "2024-01-01T00:00:00Z", name="Watch", kind="ngo", aliases=["The Watch"]
    ),
]


def decided(*events: Event) -> tuple[ConflictState, Changes]:
    changes = Changes()
    state = decide(ConflictState("c"), [*BASE, *events], now=NOW, observe=rows_into(changes))
    return state.state, changes


def inserted(changes: Changes, table: str) -> list[dict[str, Any]]:
    return [row for name, row in changes.inserts if name == table]


def refused(*events: Event) -> str:
    with pytest.raises(DomainRuleError) as refusal:
        decided(*events)
    return refusal.value.rule


def test_every_role_contests_and_findings_weigh_apart() -> None:
    assert all(contests(r) for r in ("party", "mediator", "monitor", "third_party"))
    assert [weight_of(r) for r in ("party", "mediator", "monitor", "third_party")] == [
        "claims",
        "findings",
        "findings",
        "third_party",
    ]


def test_an_ongoing_violation_contests_until_the_window_after_its_end() -> None:
    t = truce()
    start, end = at("2024-02-01T00:00:00Z"), at("2024-02-13T00:00:00Z")
    for when, state, since in [
        ("2024-02-10T00:00:00Z", "contested", start),  # nine days on, still going on
        ("2024-02-19T23:59:59Z", "contested", start),
        ("2024-02-20T00:00:00Z", "holding", at("2024-02-20T00:00:00Z")),
    ]:
        moment = at(when)
        last = min(end, moment)
        standing = conflict_standing([t], moment, {"t": last}, WINDOW, [], [(start, end)])
        assert (standing.state, standing.since) == (state, since), when
    # Another allegation inside the ongoing one's run does not restart it.
    standing = conflict_standing(
        [t],
        at("2024-02-15T00:00:00Z"),
        {"t": end},
        WINDOW,
        [at("2024-02-14T00:00:00Z")],
        [(start, end)],
    )
    assert (standing.state, standing.since) == ("contested", start)


def test_the_sweep_agrees_with_the_standing_at_every_moment() -> None:
    """``conflict_states`` (the timeline's sweep) against ``conflict_standing`` (the status),
    on random mixes of instants, ongoing violations and retractions."""
    rng = random.Random(18)
    t = truce(expires_at=at("2024-04-01T00:00:00Z"))
    for _ in range(40):
        contests_: list[Contest] = []
        for _ in range(rng.randint(1, 6)):
            occurred = at("2024-01-01T00:00:00Z") + timedelta(hours=rng.randint(0, 24 * 80))
            ends = (
                occurred + timedelta(hours=rng.randint(0, 24 * 20)) if rng.random() < 0.5 else None
            )
            retracted = (
                occurred + timedelta(hours=rng.randint(1, 24 * 10)) if rng.random() < 0.2 else None
            )
            contests_.append(Contest("t", occurred, retracted, ends))
        moments = sorted(
            at("2024-01-01T00:00:00Z") + timedelta(hours=rng.randint(0, 24 * 100))
            for _ in range(30)
        )
        swept = conflict_states([t], contests_, moments, WINDOW)
        for moment, state in zip(moments, swept, strict=True):
            standing = [
                c
                for c in contests_
                if c.occurred_at <= moment and (c.retracted_at is None or c.retracted_at > moment)
            ]
            last = max((min(c.last, moment) for c in standing), default=None)
            expected = conflict_standing([t], moment, {} if last is None else {"t": last}, WINDOW)
            assert state == expected.state, (moment, contests_)


def test_a_report_is_filed_by_its_period_and_its_accused() -> None:
    national = truce(agreement_id="n")
    local = truce(agreement_id="l", scope_level="local", parties=("B", "Militia"))
    ended = truce(agreement_id="e", expires_at=at("2024-01-10T00:00:00Z"))
    everything = [national, local, ended]
    may = (at("2024-05-01T00:00:00Z"), at("2024-06-01T00:00:00Z"))
    assert report_agreements(everything, None, *may) == ["n"]
    assert report_agreements(everything, None, *may, ["Militia"]) == ["l"]
    assert report_agreements(everything, None, *may, ["b"]) == ["l", "n"]
    assert report_agreements(everything, "e", *may) == ["e"]
    january = (at("2024-01-05T00:00:00Z"), at("2024-01-20T00:00:00Z"))
    assert report_agreements(everything, None, *january) == ["e", "n"]
    last_year = (at("2023-01-01T00:00:00Z"), at("2023-02-01T00:00:00Z"))
    assert report_agreements(everything, None, *last_year) == []


def test_the_rules_of_an_ongoing_violation() -> None:
    alleged = event("violation.alleged", "2024-02-01T00:00:00Z", alleged_by="A", accused="B")
    end = {"allegation_id": str(alleged.id), "ended_at": "2024-02-13T00:00:00Z"}
    state, changes = decided(alleged, event("incident.ended", "2024-02-13T00:00:00Z", **end))
    assert state.incident_ends == {alleged.id: (at("2024-02-13T00:00:00Z"), alleged.occurred_at)}
    rows = inserted(changes, "proj_allegations")
    assert rows[-1]["ended_at"] == at("2024-02-13T00:00:00Z") and rows[-1]["ended_later"]
    # A later incident.ended revises the end.
    revised = {**end, "ended_at": "2024-02-14T00:00:00Z"}
    state, _ = decided(
        alleged,
        event("incident.ended", "2024-02-13T00:00:00Z", **end),
        event("incident.ended", "2024-02-15T00:00:00Z", **revised),
    )
    assert state.incident_ends[alleged.id][0] == at("2024-02-14T00:00:00Z")
    early = {**end, "ended_at": "2024-01-31T00:00:00Z"}
    assert refused(alleged, event("incident.ended", "2024-02-13T00:00:00Z", **early)) == (
        "ended-before-occurred"
    )
    assert (
        refused(
            event(
                "violation.alleged",
                "2024-02-01T00:00:00Z",
                alleged_by="A",
                accused="B",
                ended_at="2024-01-01T00:00:00Z",
            )
        )
        == "ended-before-occurred"
    )
    given = event(
        "violation.alleged",
        "2024-02-01T00:00:00Z",
        alleged_by="A",
        accused="B",
        ended_at="2024-02-03T00:00:00Z",
    )
    assert (
        refused(
            given,
            event(
                "incident.ended",
                "2024-02-13T00:00:00Z",
                allegation_id=str(given.id),
                ended_at="2024-02-13T00:00:00Z",
            ),
        )
        == "end-given-in-allegation"
    )
    mission = event(
        "mission.dispatched", "2024-01-02T00:00:00Z", mission_id="m", organization="Watch"
    )
    assert (
        refused(
            mission,
            event(
                "incident.ended",
                "2024-02-13T00:00:00Z",
                allegation_id=str(mission.id),
                ended_at="2024-02-13T00:00:00Z",
            ),
        )
        == "not-an-allegation"
    )
    correction = event(
        "event.corrected",
        "2024-02-20T00:00:00Z",
        event_id=str(alleged.id),
        event_type="violation.alleged",
        reason="r",
        data={**data_of(alleged), "ended_at": "2024-02-10T00:00:00Z"},
    )
    assert refused(alleged, event("incident.ended", "2024-02-13T00:00:00Z", **end), correction) == (
        "end-recorded-apart"
    )
    decided(alleged, correction)  # with no incident.ended, the allegation's end is corrected


def report(**data: Any) -> Event:
    base = {
        "reported_by": "Watch",
        "from": "2024-03-01T00:00:00Z",
        "to": "2024-04-01T00:00:00Z",
        "count": 12,
    }
    return event("violations.reported", "2024-04-02T00:00:00Z", **{**base, **data})


def test_the_rules_of_a_report() -> None:
    _, changes = decided(report(by_party={"a": 5, "The Watch": 1}, agreement_id=None))
    rows = inserted(changes, "proj_reports")
    assert rows[0]["count"] == 12 and rows[0]["reported_by"] == "Watch"
    assert refused(report(to="2024-04-03T00:00:00Z")) == "report-before-period-end"
    assert refused(report(agreement_id="t", reported_by="A")) == "reporter-is-a-party"
    assert refused(report(agreement_id="t", by_party={"Watch": 3})) == "accused-not-a-party"
    assert refused(report(agreement_id="nope")) == "unknown-agreement"
    with pytest.raises(ValueError, match="to must be later than from"):
        report(to="2024-03-01T00:00:00Z")
    with pytest.raises(ValueError):
        report(count=-1)


def test_a_report_s_names_are_its_actors_and_their_spellings_are_kept() -> None:
    sent = report(reported_by="the watch", by_party={"b": 4, "a": 2})
    state = decide(ConflictState("c"), [*BASE, sent], now=NOW)
    stored = state.recorded[-1]
    data = data_of(stored)
    assert data["reported_by"] == "Watch" and data["by_party"] == {"B": 4, "A": 2}
    assert data["from"] == "2024-03-01T00:00:00Z" and "period_from" not in data
    assert as_sent(stored.type, data) == data_of(sent)
    with pytest.raises(UnknownActorError):
        decide(ConflictState("c"), [*BASE, report(by_party={"Nobody": 1})], now=NOW)
    correction = event(
        "event.corrected",
        "2024-04-05T00:00:00Z",
        event_id=str(sent.id),
        event_type="violations.reported",
        reason="revised figures",
        data={**data_of(sent), "count": 15},
    )
    changes = Changes()
    decide(ConflictState("c"), [*BASE, sent, correction], now=NOW, observe=rows_into(changes))
    assert inserted(changes, "proj_reports")[-1]["count"] == 15


def test_one_recorded_going_on_contests_until_its_end_is_recorded() -> None:
    """``ongoing: true``, no end known: the sweep keeps the truce contested at every moment
    after it occurred, long past the window; an end (``ends_at``) closes it as for any."""
    t = truce()
    start = at("2024-02-01T00:00:00Z")
    open_ended = Contest("t", start, None, ongoing=True)
    ended = Contest("t", start, None, at("2024-02-13T00:00:00Z"), ongoing=True)
    moments = [
        at(m) for m in ("2024-01-31T00:00:00Z", "2024-02-11T00:00:00Z", "2025-01-01T00:00:00Z")
    ]
    assert conflict_states([t], [open_ended], moments, WINDOW) == [
        "holding",
        "contested",
        "contested",
    ]
    assert conflict_states([t], [ended], moments, WINDOW) == ["holding", "contested", "holding"]
    # The status's reading of it: contested through as_of, since it occurred.
    moment = at("2025-01-01T00:00:00Z")
    standing = conflict_standing([t], moment, {"t": moment}, WINDOW, [], [(start, moment)])
    assert (standing.state, standing.since) == ("contested", start)


def test_ongoing_is_stored_only_when_true_and_never_with_an_end() -> None:
    instant = event("violation.alleged", "2024-02-01T00:00:00Z", alleged_by="A", accused="B")
    assert "ongoing" not in data_of(instant)  # allegations recorded before it keep their bytes
    held = event(
        "violation.alleged", "2024-02-01T00:00:00Z", alleged_by="A", accused="B", ongoing=True
    )
    assert data_of(held)["ongoing"] is True
    with pytest.raises(ValueError, match="ongoing: true says the violation's end is not known"):
        event(
            "violation.alleged",
            "2024-02-01T00:00:00Z",
            alleged_by="A",
            accused="B",
            ongoing=True,
            ended_at="2024-02-13T00:00:00Z",
        )
    # An incident.ended is taken for it as for any allegation giving no end; its row version
    # keeps ongoing and gives the end.
    end = {"allegation_id": str(held.id), "ended_at": "2024-02-13T00:00:00Z"}
    state, changes = decided(held, event("incident.ended", "2024-02-13T00:00:00Z", **end))
    assert state.incident_ends[held.id][0] == at("2024-02-13T00:00:00Z")
    first, then = inserted(changes, "proj_allegations")
    assert (first["ongoing"], first["ended_at"]) == (True, None)
    assert (then["ongoing"], then["ended_at"]) == (True, at("2024-02-13T00:00:00Z"))
    _, changes = decided(instant)
    assert inserted(changes, "proj_allegations")[0]["ongoing"] is False
