"""The dispatcher's contract, on every database: from the log to deliveries, nothing skipped,
nothing twice, and nothing at all without subscriptions."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from app.services.appending import Appender
from app.webhooks.dispatcher import dispatch_once, dispatch_pending
from app.webhooks.queue import claim_due, dispatch_batch, earliest_due, read_checkpoint
from app.webhooks.subscriptions import (
    Subscription,
    create_subscription,
    update_subscription,
    write_transaction,
)
from app.webhooks.tables import deliveries
from events.log.store import EventStore
from tests.factories import alleged, dispatched, signed

NOW = datetime(2026, 1, 1, tzinfo=UTC)
LEASE = timedelta(seconds=60)


async def _subscribe(
    store: EventStore,
    *,
    event_types: Sequence[str] = ("violation.alleged",),
    conflicts: Sequence[str] | None = None,
) -> Subscription:
    async with write_transaction(store.engine) as conn:
        return await create_subscription(
            conn,
            url="http://127.0.0.1:9/hook",
            event_types=event_types,
            conflicts=conflicts,
            description=None,
            now=NOW,
        )


async def _checkpoint(store: EventStore) -> int:
    async with store.engine.connect() as conn:
        return await read_checkpoint(conn)


async def _count(store: EventStore) -> int:
    async with store.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(deliveries))).scalar_one())


async def test_without_subscriptions_the_dispatcher_reads_and_writes_nothing(
    fresh_store: EventStore,
    fresh_appender: Appender,
) -> None:
    await fresh_appender.append([signed("quiet"), alleged("quiet")])
    assert await dispatch_pending(fresh_store, batch=10, clock=lambda: NOW) == (0, 0)
    assert await _checkpoint(fresh_store) == 0


async def test_a_subscription_gets_the_events_after_it_only_each_once(
    fresh_store: EventStore,
    fresh_appender: Appender,
) -> None:
    await fresh_appender.append([signed("a"), alleged("a")])  # before: not for it
    sub = await _subscribe(fresh_store)
    assert sub.from_position == 2
    later = await fresh_appender.append([alleged("a", incidents=2), dispatched("a")])
    for i in range(25):
        await fresh_appender.append([alleged("a", incidents=3 + i)])

    assert await dispatch_pending(fresh_store, batch=7, clock=lambda: NOW) == (27, 26)
    assert await _checkpoint(fresh_store) == await fresh_store.head()
    assert await dispatch_pending(fresh_store, batch=7, clock=lambda: NOW) == (0, 0)
    async with fresh_store.engine.connect() as conn:
        positions = list(
            (await conn.execute(select(deliveries.c.position).order_by("position"))).scalars()
        )
    assert positions[0] == later.events[0].position
    assert len(positions) == len(set(positions)) == 26


async def test_filters_choose_types_and_conflicts(
    fresh_store: EventStore, fresh_appender: Appender
) -> None:
    await _subscribe(fresh_store, conflicts=["b"])
    await _subscribe(fresh_store, event_types=["agreement.signed", "mission.dispatched"])
    for conflict in ("a", "b"):
        await fresh_appender.append([signed(conflict), alleged(conflict), dispatched(conflict)])
    # b's allegation for the first; both agreements and both missions for the second.
    assert await dispatch_pending(fresh_store, batch=100, clock=lambda: NOW) == (6, 5)


async def test_two_dispatchers_racing_for_one_page_make_its_deliveries_once(
    fresh_store: EventStore,
    fresh_appender: Appender,
) -> None:
    await _subscribe(fresh_store)
    await fresh_appender.append([signed("race"), alleged("race")])
    page = await fresh_store.read_all(after=0)
    async with write_transaction(fresh_store.engine) as conn:
        assert await dispatch_batch(conn, page, after=0, now=NOW) == 1
    async with write_transaction(fresh_store.engine) as conn:
        assert await dispatch_batch(conn, page, after=0, now=NOW) is None  # lost the CAS
    assert await dispatch_once(fresh_store, batch=10, now=NOW) == (0, 0)
    assert await _count(fresh_store) == 1


async def test_a_disabled_endpoint_still_gets_its_deliveries_queued_but_not_claimed(
    fresh_store: EventStore,
    fresh_appender: Appender,
) -> None:
    sub = await _subscribe(fresh_store)
    async with write_transaction(fresh_store.engine) as conn:
        await update_subscription(conn, sub.id, {"enabled": False}, NOW)
    await fresh_appender.append([signed("off"), alleged("off")])
    await dispatch_pending(fresh_store, batch=10, clock=lambda: NOW)
    assert await _count(fresh_store) == 1
    async with write_transaction(fresh_store.engine) as conn:
        assert await claim_due(conn, worker="w", limit=10, now=NOW, lease=LEASE) == []
    async with write_transaction(fresh_store.engine) as conn:
        await update_subscription(conn, sub.id, {"enabled": True}, NOW)
    async with write_transaction(fresh_store.engine) as conn:
        [claim] = await claim_due(conn, worker="w", limit=10, now=NOW, lease=LEASE)
    assert claim.attempt == 1 and claim.event.type == "violation.alleged"
    async with write_transaction(fresh_store.engine) as conn:  # leased: nobody else takes it
        assert await claim_due(conn, worker="x", limit=10, now=NOW, lease=LEASE) == []


async def test_a_claim_takes_no_endpoint_past_its_share(
    fresh_store: EventStore, fresh_appender: Appender
) -> None:
    """An endpoint with a backlog ahead of another's deliveries gets only its share of a
    claim, counting what the worker already sends it; one at its share is left out of the
    claim and of the look for due work, and the other endpoint's deliveries are claimed."""
    busy = await _subscribe(fresh_store, conflicts=["busy"])
    other = await _subscribe(fresh_store, conflicts=["other"])
    await fresh_appender.append(
        [signed("busy"), *(alleged("busy", incidents=i + 1) for i in range(8))]
    )
    await fresh_appender.append([signed("other"), alleged("other"), alleged("other", incidents=2)])
    await dispatch_pending(fresh_store, batch=100, clock=lambda: NOW)

    async with write_transaction(fresh_store.engine) as conn:
        first = await claim_due(
            conn, worker="w", limit=4, now=NOW, lease=LEASE, share=3, in_flight={busy.id: 1}
        )
    assert [c.subscription.id for c in first] == [busy.id, busy.id]  # oldest first, to its share
    in_flight = Counter({busy.id: 3})
    async with fresh_store.engine.connect() as conn:
        assert await earliest_due(conn, besides={busy.id}) == NOW  # the other's are due
    async with write_transaction(fresh_store.engine) as conn:
        second = await claim_due(
            conn, worker="w", limit=4, now=NOW, lease=LEASE, share=3, in_flight=in_flight
        )
    assert [c.subscription.id for c in second] == [other.id, other.id]
    async with fresh_store.engine.connect() as conn:
        assert await earliest_due(conn, besides={busy.id}) == NOW + LEASE  # only leases left
