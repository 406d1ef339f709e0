"""Actors and aliases with no database: the name matching, the canonical names new appends
store, the refusals, and the rows the fold makes of them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from app.services.appending import same_content
from events.model.actors import Actors, name_key
from events.model.canonical import as_sent
from events.model.decision import decide
from events.model.errors import DomainRuleError, UnknownActorError
from events.model.state import ConflictState
from events.model.types import Event, data_of, event_adapter
from projections.changes import Changes
from projections.fold import apply, rows_into
from tests.factories import alleged, corrected, registered, signed

NOW = datetime(2026, 1, 1, tzinfo=UTC)
C = "israel-lebanon"
T0 = datetime(2024, 11, 26, tzinfo=UTC)


def _decide(events: list[Event], state: ConflictState | None = None, **kw: Any) -> Any:
    return decide(state or ConflictState(C), events, now=NOW, **kw)


def _lebanon() -> ConflictState:
    """Israel and Hezbollah, parties; Hezbollah registered with two other spellings."""
    events = [
        signed(C, "coh-2024", "2024-11-26T10:00:00Z", parties=("Israel", "Hezbollah")),
        registered(C, "Hezbollah", aliases=("Hizbollah", "Hizbullah")),
    ]
    return _decide(events).state


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Hezbollah", "HEZBOLLAH"),
        ("Hézbollah", "hezbollah"),
        ("Hizbollāh", "hizbollah"),
        ("Straße", "STRASSE"),  # casefold
        ("ﬁeld", "field"),  # NFKD: the ligature is two letters
        ("Côte d'Ivoire", "COTE D'IVOIRE"),
    ],
)
def test_spellings_that_differ_by_case_or_accents_match(one: str, other: str) -> None:
    assert name_key(one) == name_key(other)


def test_other_names_do_not_match() -> None:
    assert name_key("Hezbollah") != name_key("Hizbollah")
    assert name_key("Hamas") != name_key("Hama")


def test_an_alias_and_any_spelling_of_it_resolve_to_the_actor() -> None:
    actors = _lebanon().actors
    for spelling in ("Hezbollah", "hezbollah", "Hizbollah", "HIZBULLAH", "Hizbollāh"):
        assert actors.resolve(spelling) == "Hezbollah"
    assert actors.resolve("Hamas") is None
    assert actors.by_name["Hezbollah"].kind == "armed_group"
    assert actors.by_name["Hezbollah"].aliases == ("Hizbollah", "Hizbullah")
    assert actors.by_name["Israel"].kind is None  # a party, never registered


def test_the_closest_actors_are_suggested() -> None:
    actors = _lebanon().actors
    assert actors.closest("Hezbolah") == ["Hezbollah"]
    assert actors.closest("Isreal") == ["Israel"]
    assert actors.closest("Qatar") == []


def test_naming_an_actor_earlier_moves_its_first_appearance_only() -> None:
    actors = Actors().named(["Israel"], T0)
    later = actors.named(["ISRAEL"], datetime(2025, 1, 1, tzinfo=UTC))
    assert later is actors  # nothing changes: the same object
    earlier = actors.named(["israel"], datetime(2024, 1, 1, tzinfo=UTC))
    assert list(earlier.by_name) == ["Israel"]
    assert earlier.by_name["Israel"].since == datetime(2024, 1, 1, tzinfo=UTC)


def test_a_misspelt_accused_is_stored_as_the_actor_with_what_the_source_wrote() -> None:
    state = _lebanon()
    decided = _decide(
        [alleged(C, "Israel", "Hizbollah", "2024-12-02T10:00:00Z", agreement_id="coh-2024")],
        state,
    )
    (event,) = decided.recorded
    assert event.data.accused == "Hezbollah"
    assert event.data.as_written == {"accused": "Hizbollah"}
    assert data_of(event)["as_written"] == {"accused": "Hizbollah"}


def test_a_name_spelt_as_the_actor_keeps_no_as_written() -> None:
    decided = _decide([alleged(C, "Israel", "Hezbollah", "2024-12-02T10:00:00Z")], _lebanon())
    assert "as_written" not in data_of(decided.recorded[0])


def test_an_allegation_naming_no_actor_is_refused_with_the_closest() -> None:
    with pytest.raises(UnknownActorError) as caught:
        _decide([alleged(C, "Israel", "Hezbolah", "2024-12-02T10:00:00Z")], _lebanon())
    assert caught.value.rule == "unknown-actor"
    assert caught.value.closest == ["Hezbollah"]
    assert "did you mean 'Hezbollah'?" in caught.value.detail
    with pytest.raises(UnknownActorError):  # the accuser too
        _decide([alleged(C, "Amnesty International", "Israel", "2024-12-02T10:00:00Z")], _lebanon())


def test_a_registered_third_party_may_allege() -> None:
    state = _lebanon()
    events = [
        registered(C, "Amnesty International", "ngo", occurred_at="2024-12-01T00:00:00Z"),
        alleged(C, "amnesty international", "Israel", "2024-12-02T10:00:00Z"),
    ]
    (_, event) = _decide(events, state).recorded
    assert event.data.alleged_by == "Amnesty International"


def test_a_log_s_history_is_stored_as_recorded() -> None:
    """An import: no canonical names, and an old allegation naming no actor still goes in."""
    state = _lebanon()
    events = [
        alleged(C, "Israel", "Hizbollah", "2024-12-02T10:00:00Z"),
        alleged(C, "Some Observatory", "Israel", "2024-12-02T10:00:00Z"),
    ]
    decided = _decide(events, state, history=True)
    assert [e.data.accused for e in decided.recorded] == ["Hizbollah", "Israel"]
    assert all("as_written" not in data_of(e) for e in decided.recorded)


def test_an_alias_belongs_to_one_actor_only() -> None:
    with pytest.raises(DomainRuleError) as caught:
        _decide([registered(C, "Israel", "state", aliases=("Hizbullah",))], _lebanon())
    assert caught.value.rule == "alias-taken"
    with pytest.raises(DomainRuleError) as named:  # another actor's name is taken too
        _decide([registered(C, "Lebanon", "state", aliases=("israel",))], _lebanon())
    assert named.value.rule == "alias-taken"


def test_a_later_registration_adds_aliases_and_keeps_the_kind() -> None:
    state = _decide([registered(C, "Hizbullah", aliases=("Hezbollah",))], _lebanon()).state
    assert state.actors.by_name["Hezbollah"].aliases == ("Hizbollah", "Hizbullah")
    state = _decide([registered(C, "hizbollah", aliases=("Ḥizbu 'llāh",))], state).state
    assert state.actors.by_name["Hezbollah"].aliases == ("Hizbollah", "Hizbullah", "Ḥizbu 'llāh")
    with pytest.raises(DomainRuleError) as caught:
        _decide([registered(C, "Hezbollah", "state")], state)
    assert caught.value.rule == "actor-kind-differs"


def test_a_later_agreement_s_parties_and_mediators_are_canonical() -> None:
    events = [
        signed(
            C,
            "coh-2024-b",
            "2024-12-01T00:00:00Z",
            parties=("israel", "Hizbullah"),
            mediators=("United States",),
        )
    ]
    (event,) = _decide(events, _lebanon()).recorded
    assert event.data.parties == ("Israel", "Hezbollah")
    assert event.data.as_written == {"parties.0": "israel", "parties.1": "Hizbullah"}
    assert as_sent(event.type, data_of(event))["parties"] == ["israel", "Hizbullah"]


def test_two_spellings_of_one_actor_are_not_two_parties() -> None:
    with pytest.raises(DomainRuleError) as caught:
        _decide(
            [signed(C, "b", "2024-12-01T00:00:00Z", parties=("Israel", "Hizbollah", "Hezbollah"))],
            _lebanon(),
        )
    assert caught.value.rule == "same-actor-twice"
    with pytest.raises(DomainRuleError) as accused:
        _decide([alleged(C, "Hezbollah", "Hizbollah", "2024-12-02T10:00:00Z")], _lebanon())
    assert accused.value.rule == "self-accusation"


def test_every_mission_organization_is_an_actor() -> None:
    mission = event_adapter.validate_python(
        {
            "type": "mission.dispatched",
            "conflict": C,
            "occurred_at": "2024-11-27T02:00:00Z",
            "source": {"name": "test desk"},
            "data": {
                "mission_id": "mechanism",
                "agreement_id": "coh-2024",
                "organization": "United States",
                "organizations": ["France", "UNIFIL"],
            },
        }
    )
    state = _decide([mission], _lebanon()).state
    assert {"United States", "France", "UNIFIL"} <= set(state.actors.by_name)


def test_organizations_are_distinct_from_the_lead() -> None:
    with pytest.raises(ValueError, match="distinct"):
        event_adapter.validate_python(
            {
                "type": "mission.dispatched",
                "conflict": C,
                "occurred_at": "2024-11-27T02:00:00Z",
                "source": {"name": "test desk"},
                "data": {"mission_id": "m", "organization": "UN", "organizations": ["un"]},
            }
        )


def test_a_correction_is_canonical_too() -> None:
    state = _lebanon()
    decided = _decide([alleged(C, "Israel", "Hezbollah", "2024-12-02T10:00:00Z")], state)
    target = decided.recorded[0]
    fix = corrected(
        C,
        target.id,
        "violation.alleged",
        {"alleged_by": "Israel", "accused": "Hizbullah", "location": "Mount Dov"},
    )
    (event,) = _decide([fix], decided.state, referenced={target.id: target}).recorded
    assert event.data.data["accused"] == "Hezbollah"
    assert event.data.data["as_written"] == {"accused": "Hizbullah"}


def test_a_retry_spelt_as_the_source_wrote_it_is_the_same_event() -> None:
    """Idempotency: the writer sends "Hizbollah" again; the log holds "Hezbollah"."""
    sent = alleged(C, "Israel", "Hizbollah", "2024-12-02T10:00:00Z")
    (stored,) = _decide([sent], _lebanon()).recorded
    assert same_content(stored, sent)
    other = alleged(C, "Israel", "Hizbullah", "2024-12-02T10:00:00Z")
    assert not same_content(stored, other.model_copy(update={"id": sent.id}))


def test_the_fold_writes_a_row_version_per_actor_change() -> None:
    """The replay (``apply``) makes the rows the append (``decide`` with ``rows_into``) made."""
    events = [
        signed(C, "coh-2024", "2024-11-26T10:00:00Z", parties=("Israel", "Hezbollah")),
        registered(C, "Hezbollah", aliases=("Hizbollah",), occurred_at="2024-11-27T00:00:00Z"),
        registered(C, "Israel", "state", occurred_at="2024-11-25T00:00:00Z"),
        alleged(C, "Israel", "Hizbollah", "2024-12-02T10:00:00Z"),
    ]
    live = Changes()
    decided = decide(ConflictState(C), events, now=NOW, observe=rows_into(live))
    state, replayed = ConflictState(C), Changes()
    for record in decided.recorded:
        state, _ = apply(state, record, into=replayed)
    assert state == decided.state
    assert replayed == live
    rows = [row for table, row in live.inserts if table == "proj_actors"]
    assert [(r["name"], r["kind"]) for r in rows] == [
        ("Israel", None),
        ("Hezbollah", None),
        ("Hezbollah", "armed_group"),
        ("Israel", "state"),  # registered as of an earlier day: it appears from then
    ]
    assert rows[-1]["since"] == datetime(2024, 11, 25, tzinfo=UTC)
    assert [r["known_until"] is None for r in rows] == [False, False, True, True]
