"""Loading a file of events (NDJSON, one event a line): all of it, or none of it.

Every line is parsed and validated first, then the whole file is checked against the domain
rules in memory, starting from the conflicts' current state; a bad line is reported by number
and nothing is written. Only then are the events appended, one conflict's run at a time.
Events already stored with the same content are skipped, so loading a file twice is harmless.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from pydantic import ValidationError

from events.envelope import Recorded, to_recorded
from events.errors import DomainRuleError, DuplicateEventError
from events.rules import check
from events.state import ConflictState, references
from events.store import EventStore
from events.types import SCHEMA_VERSIONS, Event, event_adapter
from projections.fold import apply

__all__ = ["BadLine", "LoadReport", "load_lines", "parse_lines"]


@dataclass(frozen=True, slots=True)
class BadLine:
    number: int
    reason: str


@dataclass(slots=True)
class LoadReport:
    appended: int = 0
    skipped: int = 0
    bad: list[BadLine] = field(default_factory=list)


def _reason(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    return f"{where}: {first.get('msg')}" if where else str(first.get("msg"))


def parse_lines(lines: Iterable[str]) -> tuple[list[tuple[int, Event]], list[BadLine]]:
    events: list[tuple[int, Event]] = []
    bad: list[BadLine] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            events.append((number, event_adapter.validate_json(line)))
        except ValidationError as error:
            bad.append(BadLine(number, _reason(error)))
        except json.JSONDecodeError as error:
            bad.append(BadLine(number, f"not JSON: {error}"))
    return events, bad


async def load_lines(store: EventStore, lines: Iterable[str]) -> LoadReport:
    report = LoadReport()
    events, report.bad = parse_lines(lines)
    if report.bad:
        return report
    pending = []
    for number, event in events:
        stored = await store.stored_event(event.id)
        if stored is None:
            pending.append((number, event))
            continue
        if not store.same_content(stored, event):
            report.bad.append(BadLine(number, str(DuplicateEventError(str(event.id)))))
        report.skipped += 1
    report.bad.extend(await _dry_run(store, pending))
    if report.bad:
        report.skipped = 0
        return report
    for _, event in pending:
        result = await store.append([event])
        report.appended += int(result.created)
        report.skipped += int(not result.created)
    return report


async def _dry_run(store: EventStore, events: list[tuple[int, Event]]) -> list[BadLine]:
    """Fold the file over the conflicts' current state without writing, to find every line a
    real append would refuse."""
    states: dict[str, ConflictState] = {}
    bad: list[BadLine] = []
    placeholder = datetime.now().astimezone()
    seen: dict[UUID, Recorded] = {}  # what retractions and corrections may name
    for number, event in events:
        state = states.get(event.conflict) or await store.current_state(event.conflict)
        missing = set(references(state, event)) - seen.keys()
        if missing:
            seen.update(await store.stored_events(missing))
        try:
            check(state, event, seen.get)
        except DomainRuleError as error:
            bad.append(BadLine(number, f"{error.rule}: {error.detail}"))
            continue
        record = to_recorded(
            event,
            version=state.version + 1,
            position=0,
            recorded_at=placeholder,
            schema_version=SCHEMA_VERSIONS[event.type],
        )
        states[event.conflict], _ = apply(state, record, seen.get)
        seen[record.id] = record
    return bad
