"""Checking the log's hash chain: has any stored event been changed, removed or inserted?

Each event's ``hash`` is sha256(previous event's hash || sha256 of its canonical content)
(``events.model.envelope``), computed by the store in Python on SQLite and by ``ceasefire_record``
in SQL on PostgreSQL (which also computes the content hash there for the service's role, whose
events it records at its own time: migration 0008). ``verify_chain`` recomputes every link
from the stored columns, in position order, streaming in keyset batches:

- a link whose stored hash differs from the recomputed one: that event's content was changed
  (or its hash was); each broken link is checked against the *stored* hash before it, so one
  changed event shows as one finding, not as every event after it;
- positions must run 1, 2, 3… without a gap (a removed event);
- ``log_head`` must name the last event and its hash, and no event may lie past it: every
  append moves the head in the transaction that stores its events, so a row past the head is
  one written around the append (by the owner: on PostgreSQL the service's role cannot write
  ``events`` at all, migration 0008). Left there it would make the next append collide with it;
- each event must still decode as today's model (upcasting included).

The chain proves the log consistent with itself. Someone able to rewrite every hash after a
change would go unnoticed, unless a head was noted before (``GET /v1/log/head`` or what
``verify`` prints, kept somewhere else): ``verify_chain(expect=head)`` also checks that the
stored hash at that position is still the one noted. With every link after it recomputed from
the stored content, the log then still extends that head: nothing up to it was changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from events.log.codec import RowDecoder, columns_of
from events.log.positions import LOG_HEAD, LOG_POSITION
from events.log.store import EventStore, storage_errors
from events.log.tables import events
from events.model.envelope import GENESIS_HASH, chain_hash, record_content_hash

__all__ = [
    "ChainReport",
    "LogHead",
    "read_log_head",
    "stored_content_hash",
    "stored_hash_at",
    "verify_chain",
]

_KEEP = 20  # findings of each kind kept for the report (all are counted)


@dataclass(frozen=True, slots=True)
class LogHead:
    """A position of the log and the chain hash of the event there: a head, once noted."""

    position: int
    hash: bytes

    def __str__(self) -> str:
        return f"{self.position}:{self.hash.hex()}"

    @classmethod
    def parse(cls, text: str) -> LogHead:
        """``POSITION:HASH`` (hash in hex), as ``str`` spells it; ``ValueError`` otherwise."""
        position, sep, hex_hash = text.strip().partition(":")
        if not sep or not position.isdigit():
            raise ValueError("expected POSITION:HASH, e.g. 42:9f86d0…")
        digest = bytes.fromhex(hex_hash)
        if len(digest) != len(GENESIS_HASH):
            raise ValueError("the hash must be 64 hex digits")
        return cls(int(position), digest)


async def read_log_head(conn: AsyncConnection) -> LogHead:
    """The log's head now: its newest position and chain hash (one row)."""
    row = (await conn.execute(LOG_HEAD)).one()
    return LogHead(int(row.position), bytes(row.hash))


async def stored_hash_at(store: EventStore, position: int) -> bytes | None:
    """The chain hash of the stored event at ``position`` (the genesis hash at 0); None when
    no event is stored there."""
    if position == 0:
        return GENESIS_HASH
    with storage_errors():
        async with store.engine.connect() as conn:
            stored = (
                await conn.execute(select(events.c.hash).where(events.c.position == position))
            ).scalar_one_or_none()
    return None if stored is None else bytes(stored)


@dataclass(slots=True)
class ChainReport:
    events: int = 0
    head_position: int = 0
    head_hash: str = GENESIS_HASH.hex()
    #: Positions whose stored hash is not the recomputed one (the first ``_KEEP``).
    broken: list[int] = field(default_factory=list)
    broken_count: int = 0
    #: (after, before): positions missing between two stored events.
    gaps: list[tuple[int, int]] = field(default_factory=list)
    #: (position, why) for events that no longer decode.
    undecodable: list[tuple[int, str]] = field(default_factory=list)
    head_problem: str | None = None
    #: Positions of events stored past ``log_head`` (the first ``_KEEP``), and how many.
    past_head: list[int] = field(default_factory=list)
    past_head_count: int = 0
    #: Why the log no longer extends the head it was asked to (``expect``), if it does not.
    pin_problem: str | None = None

    @property
    def first_broken(self) -> int | None:
        return self.broken[0] if self.broken else None

    @property
    def ok(self) -> bool:
        return not (
            self.broken_count
            or self.gaps
            or self.undecodable
            or self.head_problem
            or self.past_head_count
            or self.pin_problem
        )


def stored_content_hash(row: Any) -> bytes:
    """The content hash of a stored ``events`` row, recomputed from its columns as stored."""
    return record_content_hash(row, source_json=row.source, data_json=row.data, key_id=row.key_id)


async def verify_chain(
    store: EventStore,
    *,
    batch_size: int = 5000,
    progress: Callable[[int, int], None] | None = None,
    expect: LogHead | None = None,
) -> ChainReport:
    """``expect``: a head noted earlier, which the log must still extend."""
    report = ChainReport()
    decoder = RowDecoder()
    with storage_errors():
        async with store.engine.connect() as conn:
            head = await read_log_head(conn)
    stored_previous = GENESIS_HASH
    expected_position = 1
    pin_seen = False
    async for rows in store.iter_rows(batch_size=batch_size):
        for row in rows:
            if row.position > head.position:
                break  # appended after we read the head: the next run checks it
            if row.position != expected_position:
                report.gaps.append((expected_position - 1, row.position))
            expected_position = row.position + 1
            stored = bytes(row.hash)
            if expect is not None and row.position == expect.position:
                pin_seen = True
                if stored != expect.hash:
                    report.pin_problem = (
                        f"the hash at position {expect.position} is {stored.hex()}, not the "
                        f"{expect.hash.hex()} noted: the log up to there was rewritten"
                    )
            if chain_hash(stored_previous, stored_content_hash(row)) != stored:
                report.broken_count += 1
                if len(report.broken) < _KEEP:
                    report.broken.append(row.position)
            stored_previous = stored
            try:
                decoder.decode(columns_of(row))
            except (ValueError, KeyError) as error:
                if len(report.undecodable) < _KEEP:
                    report.undecodable.append((row.position, _first_line(error)))
            report.events += 1
        if progress is not None:
            progress(min(rows[-1].position, head.position), head.position)
        if rows[-1].position >= head.position:
            break
    report.head_position = head.position
    report.head_hash = head.hash.hex()
    report.past_head_count, report.past_head = await _past_head(store)
    if expected_position - 1 != report.head_position:
        report.head_problem = (
            f"log_head is at position {report.head_position}, "
            f"the last stored event at {expected_position - 1}"
        )
    elif stored_previous != head.hash:
        report.head_problem = (
            f"log_head's hash {report.head_hash} is not the hash of event {report.head_position}"
        )
    if expect is not None:
        if expect.position > report.head_position:
            report.pin_problem = (
                f"the log's head is at position {report.head_position}, before the noted "
                f"position {expect.position}: events were removed"
            )
        elif expect.position == 0 and expect.hash != GENESIS_HASH:
            report.pin_problem = "position 0's hash is always 64 zeros"
        elif expect.position > 0 and not pin_seen:
            report.pin_problem = f"no event at the noted position {expect.position}"
    return report


async def _past_head(store: EventStore) -> tuple[int, list[int]]:
    """How many events lie past ``log_head``, and the first positions: each statement reads
    one snapshot, in which an append's events and its head move together, so an append in
    flight is never counted."""
    past = events.c.position > LOG_POSITION.scalar_subquery()
    with storage_errors():
        async with store.engine.connect() as conn:
            count = int((await conn.execute(select(func.count()).where(past))).scalar_one())
            if not count:
                return 0, []
            # The count's snapshot may differ from this one's: the positions are examples.
            first = await conn.execute(
                select(events.c.position).where(past).order_by(events.c.position).limit(_KEEP)
            )
            return count, [int(p) for p in first.scalars()]


def _first_line(error: Exception) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return f"{where}: {first.get('msg')}" if where else str(first.get("msg"))
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
