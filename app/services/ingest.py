"""Writing a checked file into the log: the one write path of ``load`` (NDJSON events,
``app.cli.loader``) and ``import`` (an export, ``app.cli.importer``).

Each format's reader first checks the whole file without writing (pass 1: parsing, what is
stored already, the domain rules folded over the conflicts' current state, and for an export its
hash chain) and names the events later lines of the file refer to. Then ``write_all`` appends
the new events, a conflict's consecutive run at a time in batches, all inside ONE transaction
(``Appender.ingesting``): a file is written whole or not at all, whatever other writers do.
Meanwhile the transaction holds the log's write lock, so other appends wait for the file (on
SQLite up to their busy timeout, 30 s: a larger file makes them fail with 503 and retry).

Each event records the key id its reader gives (``events.log.audit``): ``load`` the operator's key
(or ``cli``), ``import`` the one its export line records, so that a log imported whole keeps its
source's hashes.

When another writer got to a conflict of the file between the check and the write, the write
is refused (``ConcurrencyError``) and nothing is written: ``retrying`` runs both passes again,
so the check sees what that writer wrote.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Container, Iterable, Iterator
from datetime import datetime, timedelta
from typing import TypeVar
from uuid import UUID

from app.services.appending import Appender
from events.model.errors import ConcurrencyError
from events.model.types import Event

__all__ = ["BATCH", "CLOCK_SKEW", "Entry", "Run", "retrying", "runs_of", "write_all"]

#: How far after this machine's clock a file's event may say it was recorded (``import``, and
#: ``load --keep-recorded-at``): the most the clock of the machine it came from may run ahead.
#: An event recorded later is refused: no machine could have recorded it yet.
CLOCK_SKEW = timedelta(minutes=1)

#: Events appended per write (a conflict's run is cut into batches of at most this many).
BATCH = 500

#: Consecutive events of one conflict, with their recording times (an import keeps the
#: export's) or None (a load records them now), and the key id each is recorded with.
Run = tuple[list[Event], list[datetime] | None, list[str | None]]

#: One event of a file: the event, its recording time (or None: now), its key id.
Entry = tuple[Event, datetime | None, str | None]

T = TypeVar("T")


def runs_of(entries: Iterable[Entry], batch: int = BATCH) -> Iterator[Run]:
    """``entries`` cut into runs of one conflict, at most ``batch`` events each."""
    events: list[Event] = []
    times: list[datetime | None] = []
    keys: list[str | None] = []
    for event, recorded_at, key_id in entries:
        if events and (events[0].conflict != event.conflict or len(events) >= batch):
            yield _run(events, times, keys)
            events, times, keys = [], [], []
        events.append(event)
        times.append(recorded_at)
        keys.append(key_id)
    if events:
        yield _run(events, times, keys)


def _run(events: list[Event], times: list[datetime | None], keys: list[str | None]) -> Run:
    known = [t for t in times if t is not None]
    return events, (known if len(known) == len(times) else None), keys


async def write_all(
    appender: Appender,
    runs: Iterable[Run],
    keep: Container[UUID],
    *,
    history: bool = False,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Append every run in one transaction; how many events. ``keep``: the ids of the file's
    events that later ones name. ``history``: an export's events, recorded as they are (their
    names not made canonical: ``events.model.decision.decide``). ``progress(written)`` after
    each run."""
    written = 0
    async with appender.ingesting(keep, history=history) as ingesting:
        for events, recorded_at, key_ids in runs:
            written += len(await ingesting.append(events, recorded_at, key_ids))
            if progress is not None:
                progress(written)
    return written


async def retrying(attempt: Callable[[], Awaitable[T]], tries: int = 3) -> T:
    """``attempt()`` (check, then write), again when another writer got in between."""
    for remaining in range(tries - 1, -1, -1):
        try:
            return await attempt()
        except ConcurrencyError:
            if not remaining:
                raise
    raise AssertionError("unreachable")
