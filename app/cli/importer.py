"""Importing an export (``ceasefire import``): all of it or nothing, idempotent by event id.

Pass 1 reads the whole file and writes nothing. Each line must parse as an exported event
(``events.log.export``), carry the chain hash its content and the line before it give
(``ExportChain``: a changed payload, a backdated recording time, a line moved or missing is
refused, at the first line where it shows), and validate as an event of today's schema: older
schema versions are upcast on the way in. An event already stored under its id is skipped only
when the stored row is that line (type, conflict, times, source, data, key id: ``_differences``;
and, where the file's chain and the log's should agree, the hash), and is a bad line naming what
differs otherwise: a file whose ids this log holds with other content is another log's history,
and skipping it would leave ``verify --expect`` on the file's head to find the log "rewritten".
Likewise an id twice in the file. The new events are then folded, in file order, over each
conflict's current state, to find any the domain rules would refuse. An event recorded at or
before the target log's newest event is refused too: an import adds later history, it never
changes what the log said at a past time (a view pinned in ``known_at`` stays what it was,
which is what lets caches keep it for good, docs/scaling.md); and so is one recorded after this
machine's clock (more than ``CLOCK_SKEW`` ahead): a log holding an event "recorded in 2099"
would have every pinned view served ``immutable`` until the next append changed it. Any bad
line: each is reported by number and nothing is written.

Pass 2 reads the file again and appends the new events, a conflict's consecutive run at a time,
in one transaction (``app.services.ingest``: the write path ``load`` shares), keeping their ids,
occurred_at, recorded_at and key_id (versions and positions are the target log's). The key id
(``events.log.audit``: who appended the event at the source) is part of the event's content hash, so
a log imported whole has the very hashes of the log it came from, and a head noted there is
still extended here (``verify --expect``).

Memory: the file is read twice rather than held. Pass 1 keeps the conflicts' small states and,
per event id, where its line starts, so that a retraction or a correction can read the event
it names from the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO
from uuid import UUID

from app.cli.loader import BadLine, line_reason
from app.services.appending import Appender, decide
from app.services.ingest import BATCH, CLOCK_SKEW, Entry, retrying, runs_of, write_all
from events.log.chain import stored_hash_at
from events.log.export import ExportChain, ExportedEvent, stored_lines
from events.log.store import storage_errors
from events.model.envelope import Recorded, to_recorded
from events.model.errors import DomainRuleError
from events.model.state import ConflictState, references
from events.model.types import SCHEMA_VERSIONS, Event
from projections.freshness import newest_recorded_at

__all__ = ["CLOCK_SKEW", "ImportReport", "import_file", "import_handle"]

#: What an import keeps of a line whatever the log it goes into, so what a stored event must
#: share with a line to be that line (with ``source`` and ``data``: ``_differences``).
_KEPT = ("type", "conflict", "occurred_at", "recorded_at", "key_id")


@dataclass(slots=True)
class ImportReport:
    imported: int = 0
    skipped: int = 0
    bad: list[BadLine] = field(default_factory=list)


def _parse(raw: bytes) -> tuple[ExportedEvent, Event]:
    exported = ExportedEvent.model_validate_json(raw)
    return exported, exported.event()


def _lines(handle: BinaryIO) -> Iterator[tuple[int, int, bytes]]:
    """(line number, offset of its start, the line) for every non-blank line."""
    number = 0
    while True:
        offset = handle.tell()
        raw = handle.readline()
        if not raw:
            return
        number += 1
        if raw.strip():
            yield number, offset, raw


class _Check:
    """Pass 1: what is new, what is stored already, and whether the new events fold."""

    def __init__(self, appender: Appender, handle: BinaryIO) -> None:
        self.appender = appender
        self.handle = handle
        self.report = ImportReport()
        self.offsets: dict[UUID, int] = {}  # every id of the file -> its first line's offset
        self.stored: set[UUID] = set()  # ids of the file stored already (same content)
        self.skip_lines: set[int] = set()
        self.states: dict[str, ConflictState] = {}
        self.chain: ExportChain | None = None
        #: The ids the file's new events name (retractions, corrections).
        self.named: set[UUID] = set()
        #: New events must be recorded after this (the log's newest event; None: empty log).
        self.newest: datetime | None = None
        #: ... and at or before this (the machine's clock when the import started, plus skew).
        self.latest: datetime = appender.now() + CLOCK_SKEW
        #: Whether an earlier line of the file is stored, or is to be, with other content
        #: bytes than the line's (a new event, one upcast, another version): from there on
        #: the log's chain hashes are its own, not the file's.
        self.diverged = False

    def _event_at(self, offset: int) -> tuple[ExportedEvent, Event]:
        here = self.handle.tell()
        self.handle.seek(offset)
        parsed = _parse(self.handle.readline())
        self.handle.seek(here)
        return parsed

    async def run(self) -> tuple[ImportReport, set[int], set[UUID]]:
        with storage_errors():
            async with self.appender.store.engine.connect() as conn:
                self.newest = await newest_recorded_at(conn)
        chunk: list[tuple[int, ExportedEvent, Event]] = []
        for number, offset, raw in _lines(self.handle):
            try:
                exported = ExportedEvent.model_validate_json(raw)
            except (ValueError, UnicodeDecodeError) as error:
                self.report.bad.append(BadLine(number, line_reason(error)))
                continue
            if self.chain is None:  # a file that starts later continues this log's chain
                self.chain = ExportChain(
                    await stored_hash_at(self.appender.store, exported.position - 1)
                )
            broken = self.chain.check(exported)
            if broken is not None:
                self.report.bad.append(BadLine(number, broken))
                continue
            try:
                event = exported.event()
            except ValueError as error:
                self.report.bad.append(BadLine(number, line_reason(error)))
                continue
            first = self.offsets.get(event.id)
            if first is not None:
                if self._event_at(first)[1] != event:
                    self.report.bad.append(
                        BadLine(number, f"event {event.id} is in the file twice, differently")
                    )
                self.skip_lines.add(number)
                self.report.skipped += 1
                continue
            self.offsets[event.id] = offset
            chunk.append((number, exported, event))
            if len(chunk) >= BATCH:
                await self._check(chunk)
                chunk = []
        await self._check(chunk)
        self.report.bad.sort(key=lambda bad: bad.number)
        return self.report, self.skip_lines, self.named

    async def _check(self, chunk: list[tuple[int, ExportedEvent, Event]]) -> None:
        if not chunk:
            return
        stored = await stored_lines(self.appender.store, [event.id for _, _, event in chunk])
        for number, exported, event in chunk:
            previous = stored.get(event.id)
            if previous is not None:
                differ = _differences(previous, exported, event)
                if previous.content_hash() != exported.content_hash():
                    # Stored in other bytes (the same event, upcast or at another version): the
                    # log's hashes are its own from here. Or another event: differ says how.
                    self.diverged |= not differ
                elif (
                    not self.diverged
                    and previous.position == exported.position
                    and previous.hash != exported.hash
                ):  # the same content where the file's chain and this log's should agree
                    differ.append(
                        f"hash {previous.hash[:12]}… stored, {exported.hash[:12]}… in the file"
                    )
                if differ:
                    self.report.bad.append(
                        BadLine(
                            number,
                            f"event {event.id} is stored already, differently: "
                            f"{'; '.join(differ)} (the file is not this log's history there)",
                        )
                    )
                self.stored.add(event.id)
                self.skip_lines.add(number)
                self.report.skipped += 1
                continue
            self.diverged = True
            await self._fold(number, exported, event)

    async def _fold(self, number: int, exported: ExportedEvent, event: Event) -> None:
        if exported.recorded_at > self.latest:
            self.report.bad.append(
                BadLine(
                    number,
                    f"recorded_at {exported.recorded_at.isoformat()} is in the future: after "
                    f"this machine's clock ({(self.latest - CLOCK_SKEW).isoformat()}, allowing "
                    f"{CLOCK_SKEW.total_seconds():.0f} s of skew): no log could have "
                    "recorded it yet",
                )
            )
            return
        if self.newest is not None and exported.recorded_at <= self.newest:
            self.report.bad.append(
                BadLine(
                    number,
                    f"recorded_at {exported.recorded_at.isoformat()} is not after the log's "
                    f"newest event ({self.newest.isoformat()}): an import may not change what "
                    "the log said at a past time",
                )
            )
            return
        conflict = event.conflict
        state = self.states.get(conflict) or await self.appender.current_state(conflict)
        names = references(state, event)
        self.named.update(names)
        seen = await self._lookup(names)
        at = exported.recorded_at
        try:
            decision = decide(
                state, [event], now=at, recorded_at=[at], referenced=seen, history=True
            )
        except DomainRuleError as error:
            self.report.bad.append(BadLine(number, f"{error.rule}: {error.detail}"))
            return
        self.states[conflict] = decision.state

    async def _lookup(self, ids: tuple[UUID, ...]) -> dict[UUID, Recorded]:
        """The events a retraction or a correction names: from the file when they are new
        there, else from the log."""
        found: dict[UUID, Recorded] = {}
        from_log = []
        for event_id in ids:
            offset = self.offsets.get(event_id)
            if offset is not None and event_id not in self.stored:
                exported, event = self._event_at(offset)
                found[event_id] = _recorded(event, exported.version, exported.recorded_at)
            else:
                from_log.append(event_id)
        if from_log:
            found.update(await self.appender.store.stored_events(from_log))
        return found


def _differences(stored: ExportedEvent, line: ExportedEvent, event: Event) -> list[str]:
    """What differs between the stored event of an id and the file's line of it: every field
    the import keeps (``_KEPT``), and ``source`` and ``data`` as today's event reads them (an
    import stores a line of an older schema version upcast). The chain hash is compared by the
    caller, where the file's chain and the log's should agree."""
    differ = []
    for name in _KEPT:
        mine, theirs = getattr(stored, name), getattr(line, name)
        if mine != theirs:
            differ.append(f"{name} {_shown(mine)} stored, {_shown(theirs)} in the file")
    try:
        stored_event: Event | None = stored.event()
    except ValueError:  # a stored event that no longer validates is no line's event
        stored_event = None
    for name in ("source", "data"):
        if stored_event is None or getattr(stored_event, name) != getattr(event, name):
            differ.append(name)
    return differ


def _shown(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return repr(value) if value is None else str(value)


def _recorded(event: Event, version: int, recorded_at: datetime) -> Recorded:
    return to_recorded(
        event,
        version=version,
        position=0,
        recorded_at=recorded_at,
        schema_version=SCHEMA_VERSIONS[event.type],
    )


async def import_file(appender: Appender, path: Path, *, batch_size: int = BATCH) -> ImportReport:
    """Import the export at ``path``; see the module's docstring for the rules."""
    with path.open("rb") as handle:
        return await import_handle(appender, handle, batch_size=batch_size)


async def import_handle(
    appender: Appender, handle: BinaryIO, *, batch_size: int = BATCH
) -> ImportReport:
    """Import the export ``handle`` reads, from its start: a seekable file (it is read
    twice), such as the copy of standard input ``ceasefire import -`` makes."""
    return await retrying(lambda: _import(appender, handle, batch_size))


async def _import(appender: Appender, handle: BinaryIO, batch_size: int) -> ImportReport:
    handle.seek(0)
    report, skip_lines, named = await _Check(appender, handle).run()
    if report.bad:
        report.skipped = 0
        return report
    handle.seek(0)

    def entries() -> Iterator[Entry]:
        for number, _, raw in _lines(handle):
            if number not in skip_lines:
                exported, event = _parse(raw)
                yield event, exported.recorded_at, exported.key_id

    report.imported = await write_all(
        appender, runs_of(entries(), batch_size), keep=named, history=True
    )
    return report
