"""The fold and the state rules, with no database at all."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from events.model.actors import Actors
from events.model.envelope import Recorded, to_recorded
from events.model.errors import DomainRuleError
from events.model.evolve import _at_version
from events.model.rules import check
from events.model.state import AgreementState, ConflictState
from events.model.types import SCHEMA_VERSIONS, Event
from events.model.values import Source
from projections.changes import Changes
from projections.filing import Filing
from projections.fold import apply
from projections.rows.sources import source_json
from projections.standing import conflict_standing
from tests.factories import (
    alleged,
    collapsed,
    corrected,
    dispatched,
    retracted,
    seed_events,
    signed,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)
WINDOW = timedelta(days=7)


def fold(events: list[Event]) -> tuple[ConflictState, Changes]:
    state = ConflictState(events[0].conflict)
    changes = Changes()
    for event in events:
        check(state, event)
        record: Recorded = to_recorded(
            event,
            version=state.version + 1,
            position=0,
            recorded_at=NOW,
            schema_version=SCHEMA_VERSIONS[event.type],
        )
        state, more = apply(state, record)
        changes.merge(more)
    return state, changes


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_seed_state_follows_the_article() -> None:
    state, _ = fold(seed_events())
    first = state.agreements["2022-09-13-ceasefire"]
    second = state.agreements["2022-09-14-ceasefire"]
    assert first.collapsed_at == at("2022-09-13T07:00:00Z")
    assert second.effective_at == at("2022-09-14T16:00:00Z")
    assert state.missions == frozenset({"csto-2022-09"})
    assert not first.in_effect(at("2022-09-13T12:00:00Z"))
    assert not second.in_effect(at("2022-09-13T12:00:00Z"))
    assert second.in_effect(at("2022-09-24T00:00:00Z"))


def derive_state(
    agreement: AgreementState | None, as_of: datetime, last: datetime | None, window: timedelta
) -> str:
    """The conflict's state with this one national agreement (or none)."""
    agreements = [] if agreement is None else [agreement]
    last_contesting = {} if agreement is None or last is None else {agreement.agreement_id: last}
    return conflict_standing(agreements, as_of, last_contesting, window).state


@pytest.mark.parametrize(
    ("as_of", "last_allegation", "expected"),
    [
        ("2022-09-24T00:00:00Z", "2022-09-23T03:40:00Z", "contested"),
        ("2022-09-14T23:00:00Z", None, "holding"),
        ("2022-10-15T00:00:00Z", "2022-09-23T03:40:00Z", "holding"),
        ("2022-09-14T15:00:00Z", None, "pending"),
    ],
)
def test_derive_state(as_of: str, last_allegation: str | None, expected: str) -> None:
    state, _ = fold(
        [signed("c", effective_at="2022-09-14T16:00:00Z", occurred_at="2022-09-14T10:00:00Z")]
    )
    agreement = state.agreements["cf-1"]
    last = at(last_allegation) if last_allegation else None
    assert derive_state(agreement, at(as_of), last, WINDOW) == expected


def test_collapsed_and_none() -> None:
    state, _ = fold([signed("c"), collapsed("c")])
    agreement = state.agreements["cf-1"]
    assert derive_state(agreement, at("2022-09-21T00:00:00Z"), None, WINDOW) == "collapsed"
    assert derive_state(None, at("2022-09-21T00:00:00Z"), None, WINDOW) == "none"


def test_contested_window_is_open_at_its_start_and_closed_at_its_end() -> None:
    state, _ = fold([signed("c")])
    agreement = state.agreements["cf-1"]
    t = at("2022-09-23T00:00:00Z")
    assert derive_state(agreement, t, t, WINDOW) == "contested"
    assert derive_state(agreement, t + WINDOW, t, WINDOW) == "holding"
    assert derive_state(agreement, t - timedelta(seconds=1), t, WINDOW) == "holding"


def test_allegation_recorded_late_belongs_to_the_agreement_of_its_time() -> None:
    events = [
        signed("c", "first", occurred_at="2022-09-01T00:00:00Z"),
        signed("c", "second", occurred_at="2022-09-10T00:00:00Z"),
        alleged("c", occurred_at="2022-09-05T00:00:00Z"),
    ]
    state, changes = fold(events)
    (row,) = [r for table, r in changes.inserts if table == "proj_allegations"]
    assert row["agreement_id"] is None and row["agreement_implicit"] is True
    filing = Filing(state.agreements.values())
    assert filing.agreement_of(None, row["occurred_at"], row["accused"]) == "first"


def test_party_names_match_without_regard_to_case() -> None:
    state, changes = fold(
        [signed("c"), alleged("c", alleged_by="armenia", accused="AZERBAIJAN", agreement_id="cf-1")]
    )
    (row,) = [r for table, r in changes.inserts if table == "proj_allegations"]
    assert (row["alleged_by"], row["accused"]) == ("Armenia", "Azerbaijan")
    assert row["accused_key"] == "azerbaijan"
    filing = Filing(state.agreements.values())
    assert filing.agreement_of(None, at("2022-09-20T00:00:00Z"), "AZERBAIJAN") == "cf-1"


def test_collapse_in_the_same_batch_closes_the_pending_row_in_place() -> None:
    _, changes = fold([signed("c"), collapsed("c")])
    assert changes.closes == []
    versions = [r for table, r in changes.inserts if table == "proj_agreements"]
    assert versions[0]["known_until"] == NOW and versions[1]["known_until"] is None


def test_rules_name_themselves() -> None:
    state, _ = fold([signed("c")])
    with pytest.raises(DomainRuleError) as caught:
        check(state, signed("c", effective_at="2022-09-01T00:00:00Z"))
    assert caught.value.rule == "agreement-exists"
    with pytest.raises(DomainRuleError) as caught:
        check(
            ConflictState("c"),
            signed("c", occurred_at="2022-09-14T00:00:00Z", effective_at="2022-09-01T00:00:00Z"),
        )
    assert caught.value.rule == "effective-before-signed"
    with pytest.raises(DomainRuleError) as caught:
        check(state, collapsed("c", occurred_at="2022-09-01T00:00:00Z"))
    assert caught.value.rule == "collapse-before-signing"


def test_event_validation() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        alleged("c", alleged_by="Armenia", accused="armenia")
    with pytest.raises(ValidationError):
        signed("c", parties=("Armenia", "ARMENIA"))
    with pytest.raises(ValidationError):
        signed("c", parties=("Armenia",))
    with pytest.raises(ValidationError):
        alleged("c", occurred_at="2022-09-23T03:40:00")  # no offset
    with pytest.raises(ValidationError):
        alleged("c", incidents=0)
    with pytest.raises(ValidationError):
        signed("Not A Slug")


def _recorded(events: list[Event]) -> list[Recorded]:
    out: list[Recorded] = []
    for version, event in enumerate(events, start=1):
        out.append(
            to_recorded(
                event,
                version=version,
                position=version,
                recorded_at=NOW + timedelta(seconds=version),
                schema_version=SCHEMA_VERSIONS[event.type],
            )
        )
    return out


def test_folding_into_one_changes_equals_merging_each_events_own() -> None:
    conflict = "into"
    claim = alleged(conflict, occurred_at="2022-09-14T17:00:00Z")
    other = alleged(conflict, occurred_at="2022-09-14T18:00:00Z")
    mission = dispatched(conflict)
    events = _recorded(
        [
            signed(conflict, occurred_at="2022-09-14T16:00:00Z"),
            claim,
            other,
            mission,
            retracted(conflict, claim.id),
            corrected(
                conflict,
                other.id,
                "violation.alleged",
                {"alleged_by": "Armenia", "accused": "Azerbaijan", "incidents": 2},
            ),
            corrected(
                conflict,
                other.id,
                "violation.alleged",
                {"alleged_by": "Armenia", "accused": "Azerbaijan", "incidents": 3},
            ),
            corrected(
                conflict,
                mission.id,
                "mission.dispatched",
                {"mission_id": "m-1", "organization": "OSCE"},
            ),
            signed(conflict, "cf-2", occurred_at="2022-09-15T16:00:00Z"),
            collapsed(conflict, "cf-2", occurred_at="2022-09-16T00:00:00Z"),
        ]
    )
    seen = {event.id: event for event in events}
    merged, into = Changes(), Changes()
    state_merged = state_into = ConflictState(conflict)
    for event in events:
        state_merged, more = apply(state_merged, event, seen.get)
        merged.merge(more)
        state_into, same = apply(state_into, event, seen.get, into=into)
        assert same is into
    assert state_into == state_merged
    assert into.closes == merged.closes
    assert into.inserts == merged.inserts


def test_the_next_state_keeps_every_field_but_the_version() -> None:
    state = ConflictState(
        "every-field",
        version=3,
        agreements={"cf-1": _agreement()},
        missions=frozenset({"m-1"}),
        revisions={uuid4(): uuid4()},
        retracted=frozenset({uuid4()}),
        retracted_at={uuid4(): NOW},
        denials={uuid4(): (NOW, "Armenia")},
        mission_ends=frozenset({"m-2"}),
        actors=Actors().named(["Armenia"], NOW),
    )
    following = _at_version(state, 4)
    assert following == replace(state, version=4)
    for f in fields(ConflictState):
        if f.name != "version":
            assert getattr(following, f.name) is getattr(state, f.name)


def _agreement(**changes: object) -> AgreementState:
    base = AgreementState(
        agreement_id="cf-1",
        parties=("Armenia", "Azerbaijan"),
        mediators=(),
        kind="ceasefire",
        terms=None,
        signed_at=at("2022-09-14T16:00:00Z"),
        effective_at=at("2022-09-14T16:00:00Z"),
        collapsed_at=None,
        collapse_reason=None,
        version=1,
        event_id=uuid4(),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_a_party_is_found_exactly_or_without_regard_to_case() -> None:
    agreement = _agreement(parties=("Armenia", "Azerbaijan"))
    assert agreement.party("Armenia") == "Armenia"
    assert agreement.party("aZERBAIJAN") == "Azerbaijan"
    assert agreement.party("Russia") is None


def test_a_source_is_dumped_as_pydantic_does_and_remembered_by_identity() -> None:
    source = Source(name="Ministry", url=None)
    assert source_json(source) == source.model_dump_json(exclude_none=True) == '{"name":"Ministry"}'
    assert source_json(source) is source_json(source)
    other = Source(name="Other", url="https://example.org/x")
    assert source_json(other) == other.model_dump_json(exclude_none=True)
