"""Where a conflict stands, with no database: periods in effect, expiry and renewal, filing of
allegations under several agreements at once, states and since; and the property that any
order of recording the same history gives the same views."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.model.envelope import Recorded, to_recorded
from events.model.rules import check
from events.model.state import AgreementState, ConflictState
from events.model.types import SCHEMA_VERSIONS, Event, event_adapter
from projections.filing import Filing
from projections.fold import apply
from projections.standing import agreement_state, conflict_standing
from projections.timeline import build_timeline
from tests.factories import signed

WINDOW = timedelta(days=7)
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def fold(events: list[Event]) -> tuple[ConflictState, list[Recorded]]:
    state = ConflictState(events[0].conflict)
    recorded = []
    for event in events:
        check(state, event)
        record = to_recorded(
            event,
            version=state.version + 1,
            position=state.version + 1,
            recorded_at=T0 + timedelta(seconds=state.version),
            schema_version=SCHEMA_VERSIONS[event.type],
        )
        state, _ = apply(state, record)
        recorded.append(record)
    return state, recorded


def event(kind: str, occurred_at: str | datetime, **data: Any) -> Event:
    when = occurred_at if isinstance(occurred_at, str) else occurred_at.isoformat()
    return event_adapter.validate_python(
        {"type": kind, "conflict": "c", "occurred_at": when, "source": {"name": "s"}, "data": data}
    )


def truce(**changes: Any) -> AgreementState:
    base = {
        "agreement_id": "t",
        "parties": ("A", "B"),
        "mediators": (),
        "kind": "ceasefire",
        "terms": None,
        "signed_at": at("2024-01-01T00:00:00Z"),
        "effective_at": at("2024-01-02T00:00:00Z"),
        "collapsed_at": None,
        "collapse_reason": None,
        "version": 1,
        "event_id": T0,  # any value: not read here
        "expires_at": at("2024-01-05T00:00:00Z"),
    }
    return AgreementState(**{**base, **changes})


def test_an_extension_after_the_end_renews_it_with_an_expired_gap() -> None:
    late = truce(extensions=((at("2024-01-07T00:00:00Z"), at("2024-01-10T00:00:00Z")),))
    assert late.periods() == [
        (at("2024-01-02T00:00:00Z"), at("2024-01-05T00:00:00Z")),
        (at("2024-01-07T00:00:00Z"), at("2024-01-10T00:00:00Z")),
    ]
    assert late.state_at(at("2024-01-06T00:00:00Z")) == "expired"
    assert late.end_at(at("2024-01-06T00:00:00Z")) == at("2024-01-05T00:00:00Z")
    assert late.state_at(at("2024-01-08T00:00:00Z")) == "in_effect"
    assert late.end_at(at("2024-01-08T00:00:00Z")) == at("2024-01-10T00:00:00Z")
    assert late.state_at(at("2024-01-11T00:00:00Z")) == "expired"


def test_an_extension_before_the_end_shows_only_from_its_own_date() -> None:
    early = truce(extensions=((at("2024-01-04T00:00:00Z"), at("2024-01-09T00:00:00Z")),))
    assert early.periods() == [(at("2024-01-02T00:00:00Z"), at("2024-01-09T00:00:00Z"))]
    assert early.end_at(at("2024-01-03T00:00:00Z")) == at("2024-01-05T00:00:00Z")
    assert early.end_at(at("2024-01-04T00:00:00Z")) == at("2024-01-09T00:00:00Z")


def test_pending_collapsed_and_a_collapse_after_expiry() -> None:
    assert truce().state_at(at("2024-01-01T12:00:00Z")) == "pending"
    broken = truce(collapsed_at=at("2024-01-03T00:00:00Z"))
    assert broken.state_at(at("2024-01-02T12:00:00Z")) == "in_effect"
    assert broken.state_at(at("2024-01-03T00:00:00Z")) == "collapsed"
    assert broken.ended_at(at("2024-02-01T00:00:00Z")) == at("2024-01-03T00:00:00Z")
    too_late = truce(collapsed_at=at("2024-01-06T00:00:00Z"))
    assert too_late.state_at(at("2024-01-07T00:00:00Z")) == "expired"
    open_ended = truce(expires_at=None, collapsed_at=at("2024-01-02T00:00:00Z"))
    assert open_ended.state_at(at("2024-01-03T00:00:00Z")) == "collapsed"


def test_contested_is_a_party_or_third_party_claim_inside_the_window() -> None:
    t = truce(expires_at=None)
    when = at("2024-01-10T00:00:00Z")
    assert agreement_state(t, when, when, WINDOW) == "contested"
    assert agreement_state(t, when + WINDOW, when, WINDOW) == "holding"
    assert agreement_state(t, when, None, WINDOW) == "holding"


def test_the_broadest_agreement_in_effect_takes_an_allegation_naming_none() -> None:
    national = truce(agreement_id="n", expires_at=None)
    local = truce(
        agreement_id="l",
        scope_level="local",
        scope_area="Town",
        version=2,
        signed_at=at("2024-01-03T00:00:00Z"),
        effective_at=at("2024-01-03T00:00:00Z"),
        parties=("A", "B", "Militia"),
    )
    filing = Filing([national, local])
    assert filing.agreement_of(None, at("2024-01-04T00:00:00Z"), "b") == "n"
    assert filing.agreement_of(None, at("2024-01-04T00:00:00Z"), "Militia") == "l"
    assert filing.agreement_of(None, at("2024-01-01T00:00:00Z"), "B") is None
    assert filing.agreement_of("l", at("2024-01-01T00:00:00Z"), "B") == "l"
    assert filing.agreement_of(None, at("2024-01-04T00:00:00Z"), "Nobody") is None


def test_the_conflicts_state_comes_from_national_agreements_only() -> None:
    national = truce(agreement_id="n", expires_at=None)
    local = truce(
        agreement_id="l",
        scope_level="local",
        scope_area="Town",
        version=2,
        collapsed_at=at("2024-01-03T00:00:00Z"),
    )
    standing = conflict_standing([national, local], at("2024-01-04T00:00:00Z"), {}, WINDOW)
    assert (standing.state, standing.since) == ("holding", at("2024-01-02T00:00:00Z"))
    assert standing.agreement is national
    # Signed at the same time: newest first means by agreement id, not by recording order.
    assert [s.state for s in standing.agreements] == ["holding", "collapsed"]
    none = conflict_standing([local], at("2024-01-04T00:00:00Z"), {}, WINDOW)
    assert (none.state, none.since, none.agreement) == ("none", None, None)


def test_contested_since_starts_with_the_current_agreements_first_allegation() -> None:
    """A contested (fixed-term) agreement A expires on the 5th; B takes effect on the 6th and
    holds; its first allegation on the 8th makes the conflict contested since the 8th, not
    since B's start: A's allegations belong to an earlier spell."""
    a = truce(agreement_id="a")
    b = truce(
        agreement_id="b",
        version=2,
        signed_at=at("2024-01-06T00:00:00Z"),
        effective_at=at("2024-01-06T00:00:00Z"),
        expires_at=None,
    )
    under_a = [at("2024-01-04T00:00:00Z"), at("2024-01-03T00:00:00Z")]
    holding = conflict_standing([a, b], at("2024-01-07T00:00:00Z"), {"a": under_a[0]}, WINDOW)
    assert (holding.state, holding.since) == ("holding", at("2024-01-06T00:00:00Z"))
    when = at("2024-01-09T00:00:00Z")
    last = {"a": under_a[0], "b": at("2024-01-08T00:00:00Z")}
    times = [at("2024-01-08T00:00:00Z"), *under_a]  # newest first, as the queries give them
    contested = conflict_standing([a, b], when, last, WINDOW, times)
    assert (contested.state, contested.since) == ("contested", at("2024-01-08T00:00:00Z"))


# -- 5. Any order of recording the same history gives the same views ---------------------

PARTIES = ("A", "B", "C")
DAY = timedelta(days=1)


@st.composite
def histories(draw: st.DrawFn) -> list[Event]:
    """Agreements and declarations (national, regional or local, some fixed-term) and
    allegations naming no agreement: a history valid in every order of recording."""
    out: list[Event] = []
    for i in range(draw(st.integers(1, 4))):
        start = T0 + draw(st.integers(0, 30)) * DAY
        effective = start + draw(st.integers(0, 3)) * DAY
        term = draw(st.one_of(st.none(), st.integers(1, 10)))
        level = draw(st.sampled_from(["national", "regional", "local"]))
        scope = {"level": level} if level == "national" else {"level": level, "area": f"z{i}"}
        common: dict[str, Any] = {"agreement_id": f"a{i}", "scope": scope}
        common["effective_at"] = effective.isoformat()
        if term is not None:
            common["expires_at"] = (effective + term * DAY).isoformat()
        parties = draw(st.lists(st.sampled_from(PARTIES), min_size=2, max_size=3, unique=True))
        if draw(st.booleans()):
            out.append(event("agreement.signed", start, parties=parties, **common))
        else:
            out.append(
                event(
                    "ceasefire.declared",
                    start,
                    declared_by=parties[0],
                    toward=parties[1:],
                    **common,
                )
            )
    for _ in range(draw(st.integers(0, 8))):
        by, accused = draw(st.lists(st.sampled_from(PARTIES), min_size=2, max_size=2, unique=True))
        when = T0 + draw(st.integers(0, 45)) * DAY + draw(st.integers(0, 23)) * timedelta(hours=1)
        out.append(event("violation.alleged", when, alleged_by=by, accused=accused))
    return out


def _views(events: list[Event]) -> list[Any]:
    state, recorded = fold(events)
    agreements = list(state.agreements.values())
    filing = Filing(agreements)
    filed = sorted(
        (str(e.id), filing.agreement_of(None, e.occurred_at, e.data.accused))  # type: ignore[union-attr]
        for e in recorded
        if e.type == "violation.alleged"
    )
    story = [
        (str(e.id), e.occurred_at, e.agreement_id, e.state)
        for e in build_timeline(recorded, agreements, WINDOW)
    ]
    standings = []
    for day in range(0, 50, 3):
        when = T0 + day * DAY
        last: dict[str, datetime] = {}
        for e in recorded:
            if e.type == "violation.alleged" and e.occurred_at <= when:
                home = filing.agreement_of(None, e.occurred_at, e.data.accused)  # type: ignore[union-attr]
                if home is not None and e.occurred_at > last.get(
                    home, datetime.min.replace(tzinfo=UTC)
                ):
                    last[home] = e.occurred_at
        s = conflict_standing(agreements, when, last, WINDOW)
        standings.append(
            (
                s.state,
                s.since,
                s.agreement and s.agreement.agreement_id,
                [(a.agreement.agreement_id, a.state) for a in s.agreements],
            )
        )
    return [filed, sorted(story, key=lambda x: (x[1], x[0])), standings]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=histories(), seed=st.integers(0, 2**32 - 1))
def test_any_recording_order_gives_the_same_views(history: list[Event], seed: int) -> None:
    shuffled = list(history)
    random.Random(seed).shuffle(shuffled)
    assert _views(shuffled) == _views(history)


def test_a_history_with_a_fixed_term_folds(  # a plain example beside the property
) -> None:
    state, _ = fold([signed("c", expires_at="2022-09-20T00:00:00Z")])
    assert state.agreements["cf-1"].expires_at == at("2022-09-20T00:00:00Z")
