"""Lulls with no database: the rules (422s for nonsense), the fold, names resolved as actors,
corrections, and the conflict's state ``lull`` (agreements win; since when) at every moment
that matters, the timeline's sweep giving the same state as the status at each.

The histories are made up (``Gov``, ``Front``): the real one, the Yemen truce and the lull
after it, is tried through the database in ``tests/contract/test_lulls.py``."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from events.model.decision import decide
from events.model.errors import DomainRuleError
from events.model.state import AgreementState, ConflictState, LullState
from events.model.types import Event, event_adapter
from projections.standing import conflict_standing
from projections.state_sweep import conflict_states
from projections.timeline import build_timeline

WINDOW = timedelta(days=7)
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def event(type_: str, occurred_at: str, **data: Any) -> Event:
    return event_adapter.validate_python(
        {
            "type": type_,
            "conflict": "c",
            "occurred_at": occurred_at,
            "source": {"name": "desk"},
            "data": data,
        }
    )


def observed(when: str = "2024-02-01T00:00:00Z", lull_id: str = "calm", **data: Any) -> Event:
    return event(
        "lull.observed",
        when,
        lull_id=lull_id,
        parties=data.pop("parties", ["Gov", "Front"]),
        observed_by=data.pop("observed_by", "Envoy"),
        **data,
    )


def ended(when: str = "2024-03-01T00:00:00Z", lull_id: str = "calm", **data: Any) -> Event:
    return event("lull.ended", when, lull_id=lull_id, **data)


def folded(events: list[Event]) -> ConflictState:
    state = ConflictState("c")
    for one in events:
        state = decide(state, [one], now=NOW).state
    return state


def refused(events: list[Event], last: Event) -> str:
    with pytest.raises(DomainRuleError) as refusal:
        decide(folded(events), [last], now=NOW)
    return refusal.value.rule


def test_nonsense_is_refused_with_the_rule_named() -> None:
    assert refused([], ended()) == "unknown-lull"
    assert refused([observed(), ended()], ended("2024-04-01T00:00:00Z")) == "lull-already-ended"
    assert refused([observed()], ended("2024-01-31T00:00:00Z")) == "end-before-observation"
    assert refused([observed()], observed("2024-05-01T00:00:00Z")) == "lull-exists"
    with pytest.raises(ValueError, match="parties must be distinct"):
        observed(parties=["Gov", "gov"])
    with pytest.raises(ValueError):
        observed(parties=["Gov"])  # a calm is kept between sides


def test_the_fold_keeps_the_lull_and_its_end() -> None:
    state = folded([observed(statement="Quiet."), ended(reason="Shelling resumed.")])
    lull = state.lulls["calm"]
    assert (lull.parties, lull.observed_by, lull.statement) == (("Gov", "Front"), "Envoy", "Quiet.")
    assert lull.observed_at == at("2024-02-01T00:00:00Z")
    assert (lull.ended_at, lull.end_reason) == (at("2024-03-01T00:00:00Z"), "Shelling resumed.")
    assert {"Gov", "Front", "Envoy"} <= set(state.actors.by_name)


def test_names_resolve_as_actors() -> None:
    registered = event(
        "actor.registered", "2024-01-01T00:00:00Z", name="Front", kind="armed_group",
        aliases=["The Front"],
    )  # fmt: skip
    state = folded([registered])
    (stored,) = decide(state, [observed(parties=["Gov", "the front"])], now=NOW).recorded
    assert stored.data.parties == ("Gov", "Front")  # type: ignore[union-attr]
    assert stored.data.as_written == {"parties.1": "the front"}  # type: ignore[union-attr]
    with pytest.raises(DomainRuleError) as twice:
        decide(state, [observed(parties=["Front", "The Front"])], now=NOW)
    assert twice.value.rule == "same-actor-twice"
    # The observer may be one of the sides (a party's own word that the calm holds).
    decide(state, [observed(observed_by="Gov")], now=NOW)


def test_a_correction_fixes_what_was_said_and_keeps_the_lull_id() -> None:
    first = observed(statement="Quiet.")
    state = folded([first])
    fixed = event(
        "event.corrected", "2024-02-02T00:00:00Z", event_id=str(first.id),
        event_type="lull.observed", reason="The envoy's office, not the envoy.",
        data={"lull_id": "calm", "parties": ["Gov", "Front"], "observed_by": "Envoy's office"},
    )  # fmt: skip
    after = decide(state, [fixed], now=NOW, referenced={first.id: _recorded(first)}).state
    assert after.lulls["calm"].observed_by == "Envoy's office"
    assert after.lulls["calm"].statement is None
    assert after.lulls["calm"].observed_at == at("2024-02-01T00:00:00Z")  # it keeps its time
    renamed = event(
        "event.corrected", "2024-02-02T00:00:00Z", event_id=str(first.id),
        event_type="lull.observed", reason="Another id.",
        data={"lull_id": "other", "parties": ["Gov", "Front"], "observed_by": "Envoy"},
    )  # fmt: skip
    with pytest.raises(DomainRuleError) as refusal:
        decide(state, [renamed], now=NOW, referenced={first.id: _recorded(first)})
    assert refusal.value.rule == "correction-changes-identity"


def _recorded(one: Event) -> Any:
    return decide(ConflictState("c"), [one], now=NOW, history=True).recorded[0]


#: A truce in effect from 1 January to 1 February 2024, a lull observed on 20 January (while
#: the truce still holds) that ends on 1 April, a second truce signed on 10 March, in effect
#: from 15 March, with no fixed end, collapsing on 20 April; a lull observed again on
#: 1 May.
HISTORY = [
    event("agreement.signed", "2024-01-01T00:00:00Z", agreement_id="t1", parties=["Gov", "Front"],
          expires_at="2024-02-01T00:00:00Z"),
    observed("2024-01-20T00:00:00Z", "calm"),
    event("agreement.signed", "2024-03-10T00:00:00Z", agreement_id="t2", parties=["Gov", "Front"],
          effective_at="2024-03-15T00:00:00Z"),
    ended("2024-04-01T00:00:00Z", "calm"),
    event("agreement.collapsed", "2024-04-20T00:00:00Z", agreement_id="t2"),
    observed("2024-05-01T00:00:00Z", "again"),
]  # fmt: skip

#: (as_of, state, since) at every moment that matters.
EXPECTED = [
    ("2023-12-31T00:00:00Z", "none", None),
    ("2024-01-10T00:00:00Z", "holding", "2024-01-01T00:00:00Z"),
    ("2024-01-25T00:00:00Z", "holding", "2024-01-01T00:00:00Z"),  # the truce wins
    ("2024-02-01T00:00:00Z", "lull", "2024-02-01T00:00:00Z"),  # from the truce's end
    ("2024-03-12T00:00:00Z", "lull", "2024-02-01T00:00:00Z"),  # a pending truce binds no one
    ("2024-03-15T00:00:00Z", "holding", "2024-03-15T00:00:00Z"),
    ("2024-04-02T00:00:00Z", "holding", "2024-03-15T00:00:00Z"),
    ("2024-04-20T00:00:00Z", "collapsed", "2024-04-20T00:00:00Z"),
    ("2024-04-30T23:59:59Z", "collapsed", "2024-04-20T00:00:00Z"),
    ("2024-05-01T00:00:00Z", "lull", "2024-05-01T00:00:00Z"),
    ("2030-01-01T00:00:00Z", "lull", "2024-05-01T00:00:00Z"),
]


def test_every_state_at_every_moment_that_matters() -> None:
    state = folded(HISTORY)
    got = []
    for when, _, _ in EXPECTED:
        standing = conflict_standing(
            state.agreements.values(), at(when), {}, WINDOW, lulls=state.lulls.values()
        )
        since = None if standing.since is None else standing.since.isoformat()
        got.append((when, standing.state, since and since.replace("+00:00", "Z")))
    assert got == EXPECTED
    lull_at = conflict_standing(
        state.agreements.values(), at("2024-03-12T00:00:00Z"), {}, WINDOW,
        lulls=state.lulls.values(),
    )  # fmt: skip
    assert lull_at.lull is not None and lull_at.lull.lull_id == "calm"
    assert lull_at.agreement is not None and lull_at.agreement.agreement_id == "t2"  # pending


def test_a_lull_that_ends_hands_the_state_back_from_its_end() -> None:
    lull = LullState(
        "calm", ("Gov", "Front"), "Envoy", None, at("2024-02-10T00:00:00Z"), 2, uuid4(),
        ended_at=at("2024-02-20T00:00:00Z"),
    )  # fmt: skip
    truce = folded(HISTORY[:1]).agreements.values()
    standing = conflict_standing(truce, at("2024-02-25T00:00:00Z"), {}, WINDOW, lulls=[lull])
    assert (standing.state, standing.since) == ("expired", at("2024-02-20T00:00:00Z"))


def test_the_timeline_gives_the_status_state_at_each_moment() -> None:
    state = folded(HISTORY)
    moments = sorted(at(when) for when, _, _ in EXPECTED)
    swept = conflict_states(state.agreements.values(), [], moments, WINDOW, state.lulls.values())
    assert swept == [s for _, s, _ in EXPECTED]
    recorded = decide(ConflictState("c"), HISTORY, now=NOW).recorded
    story = build_timeline(recorded, list(state.agreements.values()), WINDOW,
                           lulls=list(state.lulls.values()))  # fmt: skip
    states = {e.type + "@" + e.occurred_at.isoformat(): e.state for e in story}
    assert states["lull.observed@2024-01-20T00:00:00+00:00"] == "holding"
    assert states["lull.ended@2024-04-01T00:00:00+00:00"] == "holding"
    assert states["lull.observed@2024-05-01T00:00:00+00:00"] == "lull"
    summaries = [e.summary for e in story if e.type.startswith("lull.")]
    assert summaries[0] == "Envoy observed a lull between Gov and Front (calm)."
    assert summaries[1] == "Lull calm ended."


def _random_history(rng: random.Random) -> tuple[list[AgreementState], list[LullState]]:
    """National agreements (some with an end, some collapsing) and lulls (some ended) at
    random days of January 2024."""

    def day(n: int) -> datetime:
        return datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=n)

    agreements = []
    for i in range(rng.randint(0, 3)):
        signed = rng.randint(0, 20)
        effective = signed + rng.randint(0, 3)
        ends = effective + rng.randint(1, 6) if rng.random() < 0.6 else None
        collapses = signed + rng.randint(0, 10) if rng.random() < 0.3 else None
        agreements.append(
            AgreementState(
                agreement_id=f"a{i}", parties=("Gov", "Front"), mediators=(), kind="ceasefire",
                terms=None, signed_at=day(signed), effective_at=day(effective),
                collapsed_at=None if collapses is None else day(collapses), collapse_reason=None,
                version=i + 1, event_id=uuid4(), expires_at=None if ends is None else day(ends),
            )
        )  # fmt: skip
    lulls = []
    for i in range(rng.randint(0, 3)):
        start = rng.randint(0, 25)
        end = start + rng.randint(0, 8) if rng.random() < 0.6 else None
        lulls.append(
            LullState(
                f"l{i}", ("Gov", "Front"), "Envoy", None, day(start), i + 10, uuid4(),
                ended_at=None if end is None else day(end),
            )
        )  # fmt: skip
    return agreements, lulls


@pytest.mark.parametrize("seed", range(40))
def test_the_sweep_and_the_status_agree_on_random_histories(seed: int) -> None:
    agreements, lulls = _random_history(random.Random(seed))
    second = timedelta(seconds=1)
    bounds = {datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=n) for n in range(40)}
    moments = sorted(b + d for b in bounds for d in (-second, timedelta(0), second))
    swept = conflict_states(agreements, [], moments, WINDOW, lulls)
    direct = [conflict_standing(agreements, m, {}, WINDOW, lulls=lulls).state for m in moments]
    assert swept == direct
