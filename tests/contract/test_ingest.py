"""``load`` and ``import`` write a file in one transaction (``app.services.ingest``): when any part
of
the write is refused, nothing of it is in the log, on both databases."""

from __future__ import annotations

import pytest

from app.cli.loader import load_lines
from app.services.appending import Appender
from app.services.ingest import runs_of, write_all
from events.log.store import EventStore
from events.model.errors import DomainRuleError
from tests.factories import alleged, collapsed, signed


async def test_a_refused_run_leaves_nothing_of_the_runs_before_it(
    store: EventStore, appender: Appender, conflict: str
) -> None:
    other = f"{conflict}-other"
    entries = [
        (signed(conflict), None, None),
        (alleged(conflict), None, None),
        (signed(other), None, None),
        (collapsed(other, "never-signed"), None, None),  # refused: its runs' transaction is undone
    ]
    with pytest.raises(DomainRuleError):
        await write_all(appender, runs_of(entries, batch=2), keep=set())
    assert await store.stream_head(conflict) is None
    assert await store.stream_head(other) is None
    # The store is usable at once after the undone transaction, and the file loads whole.
    lines = [event.model_dump_json() for event, _, _ in entries[:3]]
    report = await load_lines(appender, lines)
    assert report.bad == [] and report.appended == 3
    assert [e.version for e in await store.read_stream(conflict)] == [1, 2]


async def test_a_run_can_name_an_event_of_an_earlier_run(
    store: EventStore, appender: Appender, conflict: str
) -> None:
    from tests.factories import retracted

    claim = alleged(conflict)
    entries = [
        (signed(conflict), None, None),
        (claim, None, None),
        (retracted(conflict, claim.id), None, None),
    ]
    written = await write_all(appender, runs_of(entries, batch=1), keep={claim.id})
    assert written == 3
    assert [e.type for e in await store.read_stream(conflict)] == [
        "agreement.signed",
        "violation.alleged",
        "allegation.retracted",
    ]
