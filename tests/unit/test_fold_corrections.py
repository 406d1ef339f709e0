"""Retractions and corrections in the pure fold: their rules and their row changes, no database."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from events.model.envelope import Recorded, to_recorded
from events.model.errors import DomainRuleError
from events.model.rules import check
from events.model.state import ConflictState, current_version, references
from events.model.types import SCHEMA_VERSIONS, Event
from projections.changes import Changes
from projections.fold import apply
from projections.references import fold_batch
from tests.factories import alleged, corrected, dispatched, retracted, signed

C = "test-fold"
T0 = datetime(2022, 9, 24, tzinfo=UTC)


class Log:
    """An in-memory log: records events one by one as the store would, with a lookup."""

    def __init__(self) -> None:
        self.state = ConflictState(C)
        self.changes = Changes()
        self.events: list[Recorded] = []
        self.by_id: dict[UUID, Recorded] = {}

    def append(self, event: Event) -> Recorded:
        check(self.state, event, self.by_id.get)
        record = to_recorded(
            event,
            version=self.state.version + 1,
            position=len(self.events) + 1,
            recorded_at=T0 + timedelta(hours=len(self.events)),
            schema_version=SCHEMA_VERSIONS[event.type],
        )
        self.state, more = apply(self.state, record, self.by_id.get)
        self.changes.merge(more)
        self.events.append(record)
        self.by_id[record.id] = record
        return record

    def refused(self, event: Event) -> str:
        with pytest.raises(DomainRuleError) as caught:
            self.append(event)
        return caught.value.rule


def current_rows(changes: Changes, table: str) -> list[dict[str, object]]:
    return [row for name, row in changes.inserts if name == table and row["known_until"] is None]


@pytest.fixture
def log() -> Log:
    log = Log()
    log.append(signed(C, occurred_at="2022-09-14T16:00:00Z"))
    return log


def test_a_retraction_closes_the_allegation_and_inserts_a_retracted_version(log: Log) -> None:
    made = log.append(alleged(C, alleged_by="Azerbaijan", accused="Armenia", incidents=3))
    gone = log.append(retracted(C, made.id, retracted_by="azerbaijan"))  # any case
    assert log.state.retracted == frozenset({made.id})
    versions = [row for name, row in log.changes.inserts if name == "proj_allegations"]
    assert [(v["retracted"], v["known_until"]) for v in versions] == [
        (False, gone.recorded_at),
        (True, None),
    ]
    assert versions[1]["known_from"] == gone.recorded_at
    assert versions[1]["occurred_at"] == made.occurred_at  # withdrawn, not moved in time
    assert versions[1]["incidents"] == 3 and versions[1]["version"] == made.version


def test_retraction_rules(log: Log) -> None:
    made = log.append(alleged(C, alleged_by="Armenia", accused="Azerbaijan"))
    mission = log.append(dispatched(C))
    assert log.refused(retracted(C, uuid4())) == "unknown-event"
    assert log.refused(retracted(C, mission.id)) == "not-an-allegation"
    assert log.refused(retracted(C, made.id, retracted_by="Azerbaijan")) == (
        "not-the-alleging-party"
    )
    log.append(retracted(C, made.id, retracted_by="Armenia"))
    assert log.refused(retracted(C, made.id, retracted_by="Armenia")) == "already-retracted"
    data = {"alleged_by": "Armenia", "accused": "Azerbaijan", "incidents": 2}
    assert log.refused(corrected(C, made.id, "violation.alleged", data)) == "already-retracted"


def test_an_event_of_another_conflict_is_unknown(log: Log) -> None:
    other = to_recorded(
        alleged("other-conflict"), version=1, position=99, recorded_at=T0, schema_version=1
    )
    log.by_id[other.id] = other
    assert log.refused(retracted(C, other.id)) == "unknown-event"


def test_a_correction_supersedes_the_data_and_keeps_the_place_in_time(log: Log) -> None:
    made = log.append(alleged(C, alleged_by="Armenia", accused="Azerbaijan", incidents=1))
    data = {"alleged_by": "Armenia", "accused": "Azerbaijan", "incidents": 4, "location": "Jermuk"}
    fix = log.append(corrected(C, made.id, "violation.alleged", data))
    assert log.state.revisions == {made.id: fix.id}
    (row,) = current_rows(log.changes, "proj_allegations")
    assert (row["incidents"], row["location"]) == (4, "Jermuk")
    assert (row["occurred_at"], row["version"], row["known_from"]) == (
        made.occurred_at,
        made.version,
        fix.recorded_at,
    )
    assert row["source"] == made.source.model_dump_json(exclude_none=True)
    (note,) = current_rows(log.changes, "proj_corrections")
    assert (note["event_id"], note["correction_id"], note["reason"]) == (
        made.id,
        fix.id,
        "corrected figures",
    )
    now = current_version(log.state, made.id, log.by_id.get)
    assert now is not None and now.data.model_dump(exclude_none=True) == data


def test_a_second_correction_replaces_the_first(log: Log) -> None:
    made = log.append(alleged(C))
    base = {"alleged_by": "Armenia", "accused": "Azerbaijan"}
    first = log.append(corrected(C, made.id, "violation.alleged", {**base, "incidents": 2}))
    assert references(log.state, corrected(C, made.id, "violation.alleged", base)) == (
        made.id,
        first.id,
    )
    second = log.append(corrected(C, made.id, "violation.alleged", {**base, "incidents": 5}))
    assert log.state.revisions == {made.id: second.id}
    notes = [row for name, row in log.changes.inserts if name == "proj_corrections"]
    assert [n["known_until"] for n in notes] == [second.recorded_at, None]
    (row,) = current_rows(log.changes, "proj_allegations")
    assert row["incidents"] == 5
    # the retraction reads the corrected version: it is still Armenia's to withdraw
    log.append(retracted(C, made.id, retracted_by="Armenia"))
    (row,) = current_rows(log.changes, "proj_allegations")
    assert (row["incidents"], row["retracted"]) == (5, True)


def test_correcting_an_agreement_changes_the_state(log: Log) -> None:
    agreement = log.events[0]
    later = "2022-09-15T00:00:00+00:00"
    log.append(
        corrected(
            C,
            agreement.id,
            "agreement.signed",
            {"agreement_id": "cf-1", "parties": ["Armenia", "Azerbaijan"], "effective_at": later},
        )
    )
    assert log.state.agreements["cf-1"].effective_at == datetime(2022, 9, 15, tzinfo=UTC)
    (row,) = current_rows(log.changes, "proj_agreements")
    assert row["effective_at"] == datetime(2022, 9, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("target", "event_type", "data", "rule"),
    [
        (
            "agreement",
            "agreement.signed",
            {"agreement_id": "cf-2", "parties": ["Armenia", "Azerbaijan"]},
            "correction-changes-identity",
        ),
        (
            "agreement",
            "agreement.signed",
            {"agreement_id": "cf-1", "parties": ["Armenia", "Russia"]},
            "correction-changes-parties",
        ),
        (
            "agreement",
            "agreement.signed",
            {
                "agreement_id": "cf-1",
                "parties": ["Armenia", "Azerbaijan"],
                "effective_at": "2022-09-01T00:00:00Z",
            },
            "effective-before-signed",
        ),
        (
            "agreement",
            "violation.alleged",
            {"alleged_by": "Armenia", "accused": "Azerbaijan"},
            "correction-type-mismatch",
        ),
        (
            "mission",
            "mission.dispatched",
            {"mission_id": "m-2", "organization": "CSTO"},
            "correction-changes-identity",
        ),
        (
            "mission",
            "mission.dispatched",
            {"mission_id": "m-1", "organization": "CSTO"},
            "correction-changes-nothing",
        ),
        (
            "allegation",
            "violation.alleged",
            {"alleged_by": "Armenia", "accused": "Russia", "agreement_id": "cf-1"},
            "accused-not-a-party",
        ),
        (
            "allegation",
            "violation.alleged",
            {"alleged_by": "Armenia", "accused": "Azerbaijan", "agreement_id": "nope"},
            "unknown-agreement",
        ),
        (
            "retraction",
            "violation.alleged",
            {"alleged_by": "Armenia", "accused": "Azerbaijan"},
            "not-correctable",
        ),
    ],
)
def test_correction_rules(
    log: Log, target: str, event_type: str, data: dict[str, object], rule: str
) -> None:
    made = log.append(alleged(C))
    targets = {
        "agreement": log.events[0].id,
        "mission": log.append(dispatched(C)).id,
        "allegation": made.id,
        "retraction": log.append(retracted(C, log.append(alleged(C)).id)).id,
    }
    assert log.refused(corrected(C, targets[target], event_type, data)) == rule


def test_apply_without_the_referenced_event_is_a_programming_error(log: Log) -> None:
    made = log.append(alleged(C))
    record = to_recorded(
        retracted(C, made.id), version=9, position=9, recorded_at=T0, schema_version=1
    )
    with pytest.raises(LookupError):
        apply(log.state, record)


async def test_any_split_into_batches_folds_the_same() -> None:
    log = Log()
    first = log.append(signed(C, occurred_at="2022-09-14T16:00:00Z"))
    a = log.append(alleged(C, alleged_by="Armenia", accused="Azerbaijan"))
    b = log.append(alleged(C, alleged_by="Azerbaijan", accused="Armenia", incidents=3))
    base = {"alleged_by": "Armenia", "accused": "Azerbaijan"}
    log.append(corrected(C, a.id, "violation.alleged", {**base, "incidents": 2}))
    log.append(retracted(C, b.id, retracted_by="Azerbaijan"))
    log.append(corrected(C, a.id, "violation.alleged", {**base, "incidents": 7}))
    log.append(
        corrected(
            C,
            first.id,
            "agreement.signed",
            {"agreement_id": "cf-1", "parties": ["Armenia", "Azerbaijan"], "terms": "fixed"},
        )
    )
    log.append(retracted(C, a.id))

    async def fetch(ids: Collection[UUID]) -> Mapping[UUID, Recorded]:
        return {i: log.by_id[i] for i in ids}

    expected = tables([log.changes])
    for size in range(1, len(log.events) + 1):
        states: dict[str, ConflictState] = {}
        batches = []
        for start in range(0, len(log.events), size):
            batches.append(await fold_batch(states, log.events[start : start + size], fetch))
        assert states[C] == log.state, size
        assert tables(batches) == expected, size


def tables(batches: list[Changes]) -> dict[str, list[dict[str, object]]]:
    """The projection tables after applying each batch's changes as the writers do: its
    closes, then its inserts."""
    from projections.tables import PROJECTION_KEYS

    out: dict[str, list[dict[str, object]]] = {name: [] for name in PROJECTION_KEYS}
    for changes in batches:
        for close in changes.closes:
            for row in out[close.table]:
                if row["known_until"] is None and all(row[k] == v for k, v in close.key.items()):
                    row["known_until"] = close.known_until
        for name, row in changes.inserts:
            out[name].append(dict(row))
    return out
