"""Loading a file of events (NDJSON, one event a line): all of it, or none of it.

Every line is parsed and validated first, then the whole file is checked against the domain
rules in memory, starting from the conflicts' current state; a bad line is reported by number
and nothing is written. Only then are the events appended, in one transaction
(``app.services.ingest``: the write path ``import`` shares).
Events already stored with the same content are skipped, so loading a file twice is harmless.
Each event appended records who appended it (``events.log.audit``): the operator's key id, or
``cli``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from pydantic import ValidationError

from app.services.appending import Appender, decide, same_content
from app.services.ingest import BATCH, retrying, runs_of, write_all
from events.log.audit import CLI
from events.model.envelope import Recorded
from events.model.errors import DomainRuleError, DuplicateEventError
from events.model.state import ConflictState, references
from events.model.types import Event, event_adapter

__all__ = ["BadLine", "LoadReport", "line_reason", "load_lines", "parse_lines"]


@dataclass(frozen=True, slots=True)
class BadLine:
    number: int
    reason: str


@dataclass(slots=True)
class LoadReport:
    appended: int = 0
    skipped: int = 0
    bad: list[BadLine] = field(default_factory=list)


def line_reason(error: Exception) -> str:
    """Why a line of a file of events was refused, in one line: its first validation error
    (where, what), or that it is not JSON. For ``load`` and ``import`` alike."""
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return f"{where}: {first.get('msg')}" if where else str(first.get("msg"))
    if isinstance(error, json.JSONDecodeError | UnicodeDecodeError):
        return f"not JSON: {error}"
    return str(error)


def parse_lines(lines: Iterable[str]) -> tuple[list[tuple[int, Event]], list[BadLine]]:
    events: list[tuple[int, Event]] = []
    bad: list[BadLine] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            events.append((number, event_adapter.validate_json(line)))
        except ValidationError as error:
            bad.append(BadLine(number, line_reason(error)))
        except json.JSONDecodeError as error:
            bad.append(BadLine(number, f"not JSON: {error}"))
    return events, bad


async def load_lines(appender: Appender, lines: Iterable[str], *, key_id: str = CLI) -> LoadReport:
    """Load the events of ``lines``: all of them or, when any line is bad, none. Each event
    appended records ``key_id``: the operator's key id, or ``cli``."""
    events, bad = parse_lines(lines)
    if bad:
        return LoadReport(bad=bad)
    return await retrying(lambda: _load(appender, events, key_id))


async def _load(appender: Appender, events: list[tuple[int, Event]], key_id: str) -> LoadReport:
    report = LoadReport()
    pending = []
    for start in range(0, len(events), BATCH):  # one query per batch of lines, not per line
        chunk = events[start : start + BATCH]
        found = await appender.store.stored_events([event.id for _, event in chunk])
        for number, event in chunk:
            stored = found.get(event.id)
            if stored is None:
                pending.append((number, event))
                continue
            if not same_content(stored, event):
                report.bad.append(BadLine(number, str(DuplicateEventError(str(event.id)))))
            report.skipped += 1
    bad, named = await _dry_run(appender, pending)
    report.bad.extend(bad)
    if report.bad:
        report.skipped = 0
        return report
    runs = runs_of((event, None, key_id) for _, event in pending)
    report.appended = await write_all(appender, runs, keep=named)
    return report


async def _dry_run(
    appender: Appender, events: list[tuple[int, Event]]
) -> tuple[list[BadLine], set[UUID]]:
    """Fold the file over the conflicts' current state without writing, to find every line a
    real append would refuse; and the ids the file's events name."""
    states: dict[str, ConflictState] = {}
    bad: list[BadLine] = []
    placeholder = datetime.now().astimezone()
    seen: dict[UUID, Recorded] = {}  # what retractions and corrections may name
    named: set[UUID] = set()
    for number, event in events:
        state = states.get(event.conflict) or await appender.current_state(event.conflict)
        names = references(state, event)
        named.update(names)
        missing = set(names) - seen.keys()
        if missing:
            seen.update(await appender.store.stored_events(missing))
        try:
            decision = decide(state, [event], now=placeholder, referenced=seen)
        except DomainRuleError as error:
            bad.append(BadLine(number, f"{error.rule}: {error.detail}"))
            continue
        states[event.conflict] = decision.state
        seen[event.id] = decision.recorded[0]
    return bad, named
