"""Loading a file of events (NDJSON, one event a line): all of it, or none of it.

Every line is parsed and validated first, then the whole file is checked against the domain
rules in memory, starting from the conflicts' current state; a bad line is reported by number
and nothing is written. Only then are the events appended, in one transaction
(``app.services.ingest``: the write path ``import`` shares).
Events already stored with the same content are skipped, so loading a file twice is harmless.
Each event appended records who appended it (``events.log.audit``): the operator's key id, or
``cli``.

With ``keep_recorded_at`` (``ceasefire load --keep-recorded-at``), a line may carry the
``recorded_at`` it was learned at, for a history back-filled after the fact; a line without one
is recorded at the load's own time. The times must not go backwards down the file, the first new
one must be later than the log's newest event (a view pinned in ``known_at`` stays what it was)
and none may be after this machine's clock (``CLOCK_SKEW``); a line that breaks this is a bad
line. The times pass through the very write ``import`` uses (``app.services.ingest``), and the
hash chain is computed over them as for any append.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from pydantic import TypeAdapter, ValidationError

from app.cli.progress import Report
from app.services.appending import Appender, decide, same_content
from app.services.ingest import BATCH, CLOCK_SKEW, retrying, runs_of, write_all
from events.log.audit import CLI
from events.log.store import storage_errors
from events.model.envelope import Recorded
from events.model.errors import DomainRuleError, DuplicateEventError
from events.model.state import ConflictState, references
from events.model.types import Event, event_adapter
from events.model.values import Instant
from projections.freshness import newest_recorded_at

__all__ = [
    "BadLine",
    "Line",
    "LoadReport",
    "Phase",
    "line_reason",
    "load_lines",
    "parse_lines",
]

#: A phase of a load, by its label, as a context giving its ``Report`` (the CLI passes
#: ``app.cli.progress.progress_reporter``: the bar ``replay`` draws).
Phase = Callable[[str], AbstractContextManager[Report]]


def _quiet(label: str) -> AbstractContextManager[Report]:
    return nullcontext(lambda done, total: None)


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


_instant: TypeAdapter[datetime] = TypeAdapter(Instant)

#: A line of the file: its number, its event, the recorded_at it carries (None: none).
Line = tuple[int, Event, datetime | None]


def parse_lines(
    lines: Iterable[str], *, keep_recorded_at: bool = False
) -> tuple[list[Line], list[BadLine]]:
    """Every non-blank line as an event; with ``keep_recorded_at``, a ``recorded_at`` member
    of a line is taken off the event and kept beside it."""
    events: list[Line] = []
    bad: list[BadLine] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            recorded_at = None
            if keep_recorded_at:
                member = json.loads(line)
                if isinstance(member, dict) and "recorded_at" in member:
                    try:
                        recorded_at = _instant.validate_python(member.pop("recorded_at"))
                    except ValidationError as error:
                        reason = error.errors()[0].get("msg")
                        bad.append(BadLine(number, f"recorded_at: {reason}"))
                        continue
                    line = json.dumps(member)
            events.append((number, event_adapter.validate_json(line), recorded_at))
        except ValidationError as error:
            bad.append(BadLine(number, line_reason(error)))
        except json.JSONDecodeError as error:
            bad.append(BadLine(number, f"not JSON: {error}"))
    return events, bad


async def load_lines(
    appender: Appender,
    lines: Iterable[str],
    *,
    key_id: str = CLI,
    keep_recorded_at: bool = False,
    progress: Phase = _quiet,
) -> LoadReport:
    """Load the events of ``lines``: all of them or, when any line is bad, none. Each event
    appended records ``key_id``: the operator's key id, or ``cli``. ``keep_recorded_at``:
    each event is recorded at the ``recorded_at`` its line carries (see the module's
    docstring). ``progress``: how the check and the write report how far they are."""
    events, bad = parse_lines(lines, keep_recorded_at=keep_recorded_at)
    if bad:
        return LoadReport(bad=bad)
    return await retrying(lambda: _load(appender, events, key_id, keep_recorded_at, progress))


def _recording_times(
    pending: list[Line], newest: datetime | None, now: datetime
) -> tuple[list[tuple[int, Event, datetime]], list[BadLine]]:
    """Each new line's recording time (its own, else ``now``), and the lines whose time goes
    backwards, is not after the log's ``newest`` event, or is after this machine's clock."""
    timed: list[tuple[int, Event, datetime]] = []
    bad: list[BadLine] = []
    previous: datetime | None = None
    latest = now + CLOCK_SKEW
    for number, event, given in pending:
        at = now if given is None else given
        said = f"recorded_at {at.isoformat()}"
        if at > latest:
            bad.append(BadLine(number, f"{said} is in the future: after this machine's clock"))
        elif previous is not None and at < previous:
            bad.append(
                BadLine(
                    number, f"{said} goes backwards: the line before says {previous.isoformat()}"
                )
            )
        elif newest is not None and at <= newest:
            bad.append(
                BadLine(
                    number,
                    f"{said} is not after the log's newest event ({newest.isoformat()}): a load "
                    "may not change what the log said at a past time",
                )
            )
        previous = at if previous is None else max(previous, at)
        timed.append((number, event, at))
    return timed, bad


async def _load(
    appender: Appender, events: list[Line], key_id: str, keep_recorded_at: bool, progress: Phase
) -> LoadReport:
    report = LoadReport()
    pending: list[Line] = []
    for start in range(0, len(events), BATCH):  # one query per batch of lines, not per line
        chunk = events[start : start + BATCH]
        found = await appender.store.stored_events([event.id for _, event, _ in chunk])
        for number, event, recorded_at in chunk:
            stored = found.get(event.id)
            if stored is None:
                pending.append((number, event, recorded_at))
                continue
            if not same_content(stored, event):
                report.bad.append(BadLine(number, str(DuplicateEventError(str(event.id)))))
            report.skipped += 1
    times: dict[int, datetime] = {}
    if keep_recorded_at:
        with storage_errors():
            async with appender.store.engine.connect() as conn:
                newest = await newest_recorded_at(conn)
        timed, late = _recording_times(pending, newest, appender.now())
        report.bad.extend(late)
        times = {number: at for number, _, at in timed}
    with progress("load: check") as checked:
        bad, named = await _dry_run(appender, pending, checked)
    report.bad.extend(bad)
    if report.bad:
        report.bad.sort(key=lambda line: line.number)
        report.skipped = 0
        return report
    runs = runs_of((event, times.get(number), key_id) for number, event, _ in pending)
    with progress("load: write") as written:
        report.appended = await write_all(
            appender, runs, keep=named, progress=lambda done: written(done, len(pending))
        )
    return report


async def _dry_run(
    appender: Appender, events: list[Line], checked: Report
) -> tuple[list[BadLine], set[UUID]]:
    """Fold the file over the conflicts' current state without writing, to find every line a
    real append would refuse; and the ids the file's events name. Linear in the file: each
    line looks up, and hands ``decide``, only the few ids it names (a set difference against
    every id seen so far, and ``decide`` copying them all, made a 50,000-line load quadratic,
    issue 19)."""
    states: dict[str, ConflictState] = {}
    bad: list[BadLine] = []
    placeholder = datetime.now().astimezone()
    seen: dict[UUID, Recorded] = {}  # what retractions and corrections may name
    named: set[UUID] = set()
    total = len(events)
    for done, (number, event, _) in enumerate(events):
        if done % BATCH == 0:
            checked(done, total)
        state = states.get(event.conflict) or await appender.current_state(event.conflict)
        names = references(state, event)
        named.update(names)
        missing = [name for name in names if name not in seen]
        if missing:
            seen.update(await appender.store.stored_events(missing))
        try:
            # Only what this line names: decide copies what it is given.
            referenced = {name: seen[name] for name in names if name in seen}
            decision = decide(state, [event], now=placeholder, referenced=referenced)
        except DomainRuleError as error:
            bad.append(BadLine(number, f"{error.rule}: {error.detail}"))
            continue
        states[event.conflict] = decision.state
        seen[event.id] = decision.recorded[0]
    checked(total, total)
    return bad, named
