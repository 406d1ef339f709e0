"""The store's contract, on every database: versions, positions, idempotency, concurrency."""

from __future__ import annotations

import asyncio

import pytest

from app.services.appending import Appender
from events.log.store import EventStore
from events.model.errors import ConcurrencyError, DomainRuleError, DuplicateEventError
from tests.factories import alleged, collapsed, dispatched, signed


async def test_append_assigns_contiguous_versions_and_increasing_positions(
    store: EventStore, conflict: str, appender: Appender
) -> None:
    first = await appender.append([signed(conflict)])
    second = await appender.append([alleged(conflict), dispatched(conflict)])
    versions = [e.version for e in first.events + second.events]
    positions = [e.position for e in first.events + second.events]
    assert versions == [1, 2, 3]
    assert positions == sorted(positions) and len(set(positions)) == 3
    stored = await store.read_stream(conflict)
    assert [e.id for e in stored] == [e.id for e in first.events + second.events]


async def test_same_event_twice_is_stored_once(
    store: EventStore, conflict: str, appender: Appender
) -> None:
    event = signed(conflict)
    first = await appender.append([event])
    again = await appender.append([event])
    assert first.created and not again.created
    assert again.events[0].position == first.events[0].position
    assert [e.id for e in await store.read_stream(conflict)] == [event.id]


async def test_same_id_with_other_content_is_refused(
    store: EventStore, conflict: str, appender: Appender
) -> None:
    event = signed(conflict)
    await appender.append([event])
    other = signed(conflict, agreement_id="cf-2").model_copy(update={"id": event.id})
    with pytest.raises(DuplicateEventError):
        await appender.append([other])
    assert len(await store.read_stream(conflict)) == 1


async def test_idempotent_retry_wins_over_a_stale_expected_version(
    store: EventStore, conflict: str, appender: Appender
) -> None:
    event = signed(conflict)
    await appender.append([event], expected_version=0)
    again = await appender.append([event], expected_version=0)
    assert not again.created


async def test_expected_version_mismatch_writes_nothing(
    store: EventStore, conflict: str, appender: Appender
) -> None:
    await appender.append([signed(conflict)])
    with pytest.raises(ConcurrencyError) as caught:
        await appender.append([alleged(conflict)], expected_version=0)
    assert caught.value.actual == 1
    assert len(await store.read_stream(conflict)) == 1


async def test_a_second_store_sees_the_first_stores_writes(
    store: EventStore, database_url: str, conflict: str, appender: Appender
) -> None:
    """The state cache must never let a stale process write on top of a newer stream."""
    from events.log.database import create_engine

    other_store = EventStore(create_engine(database_url))
    other = Appender(other_store)
    try:
        await appender.append([signed(conflict)])
        await other.append([alleged(conflict)])
        await appender.append([collapsed(conflict)])  # cached at version 1; the stream is at 2
        with pytest.raises(ConcurrencyError):
            await other.append([dispatched(conflict)], expected_version=2)
        assert [e.version for e in await store.read_stream(conflict)] == [1, 2, 3]
    finally:
        await other_store.close()


async def test_concurrent_appends_with_the_same_expected_version_exactly_one_wins(
    store: EventStore, database_url: str, conflict: str, appender: Appender
) -> None:
    """Eight stores (as eight processes would be): the database's compare-and-set, not the
    in-process queue, decides the winner."""
    from events.log.database import create_engine

    await appender.append([signed(conflict)])
    writers = [Appender(EventStore(create_engine(database_url))) for _ in range(8)]
    try:
        results = await asyncio.gather(
            *(w.append([alleged(conflict)], expected_version=1) for w in writers),
            return_exceptions=True,
        )
    finally:
        for writer in writers:
            await writer.store.close()
    wins = [r for r in results if not isinstance(r, BaseException)]
    losses = [r for r in results if isinstance(r, ConcurrencyError)]
    assert len(wins) == 1 and len(losses) == 7
    assert all(loss.actual == 2 for loss in losses)
    assert [e.version for e in await store.read_stream(conflict)] == [1, 2]


async def test_appends_to_one_conflict_from_one_process_queue_instead_of_failing(
    store: EventStore, conflict: str, appender: Appender
) -> None:
    await appender.append([signed(conflict)])
    results = await asyncio.gather(*(appender.append([alleged(conflict)]) for _ in range(20)))
    assert sorted(r.events[0].version for r in results) == list(range(2, 22))


@pytest.mark.parametrize(
    ("events", "rule"),
    [
        (lambda c: [signed(c), signed(c)], "agreement-exists"),
        (lambda c: [collapsed(c)], "unknown-agreement"),
        (lambda c: [signed(c), collapsed(c), collapsed(c)], "agreement-already-collapsed"),
        (
            lambda c: [signed(c), alleged(c, accused="Russia", agreement_id="cf-1")],
            "accused-not-a-party",
        ),
        (lambda c: [alleged(c, agreement_id="cf-1")], "unknown-agreement"),
        (lambda c: [dispatched(c), dispatched(c)], "mission-exists"),
    ],
)
async def test_domain_rules_refuse_the_whole_append(
    store: EventStore, conflict: str, events: object, rule: str, appender: Appender
) -> None:
    with pytest.raises(DomainRuleError) as caught:
        await appender.append(events(conflict))  # type: ignore[operator]
    assert caught.value.rule == rule
    assert await store.read_stream(conflict) == []
    assert await store.stream_head(conflict) is None
