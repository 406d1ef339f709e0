"""One head lookup per read: a status view looks its conflict's head up once inside its
snapshot, and tags its body with that same position (``projections.queries.shared``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event

from app.reads import view_bytes
from app.services.appending import Appender
from events.log.store import EventStore
from tests.factories import alleged, signed


@contextmanager
def head_lookups(store: EventStore) -> Iterator[list[str]]:
    """The statements that read the ``streams`` table (the heads) while the block runs."""
    seen: list[str] = []

    def counted(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "FROM streams" in statement:
            seen.append(statement)

    event.listen(store.engine.sync_engine, "before_cursor_execute", counted)
    try:
        yield seen
    finally:
        event.remove(store.engine.sync_engine, "before_cursor_execute", counted)


async def test_a_status_read_looks_the_head_up_once(
    store: EventStore, appender: Appender, conflict: str
) -> None:
    await appender.append([signed(conflict), alleged(conflict)])
    head = await store.stream_head(conflict)
    assert head is not None
    for known_at in (None, datetime.now(UTC)):
        with head_lookups(store) as seen:
            status = await view_bytes.status(
                store.engine, conflict, as_of=None, known_at=known_at, window=timedelta(hours=1)
            )
        assert len(seen) == 1, seen
        assert status.validator.position == head[1]


async def test_an_allegations_read_looks_the_head_up_once(
    store: EventStore, appender: Appender, conflict: str
) -> None:
    await appender.append([signed(conflict), alleged(conflict)])
    with head_lookups(store) as seen:
        await view_bytes.allegations(store.engine, conflict, as_of=None, known_at=None)
    assert len(seen) == 1, seen
