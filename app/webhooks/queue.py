"""The dispatcher's and the workers' statements: deliveries made from the log, and claimed
under a lease. What a claimed attempt's outcome writes is ``app.webhooks.outcomes``.

Every function takes a connection in the caller's transaction (``write_transaction``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.webhooks.subscriptions import (
    CHECKPOINT,
    Subscription,
    checkpoint_locked,
    is_postgresql,
    subscription_of,
)
from app.webhooks.tables import attempts, deliveries, subscriptions
from events.log.positions import checkpoint_position
from events.log.store import decode_rows
from events.log.tables import UtcDateTime, projection_checkpoints
from events.log.tables import events as events_table
from events.model.envelope import Recorded

__all__ = [
    "NOTIFY_CHANNEL",
    "Claim",
    "claim_due",
    "dispatch_batch",
    "earliest_due",
    "first_wanted",
    "read_checkpoint",
]


NOTIFY_CHANNEL = "ceasefire_webhooks"


@dataclass(frozen=True, slots=True)
class Claim:
    """A delivery a worker holds until ``lease_until``: send attempt ``attempt`` of it."""

    delivery_id: UUID
    attempt: int
    token: UUID
    subscription: Subscription
    event: Recorded


# -- the dispatcher --------------------------------------------------------------------------


async def read_checkpoint(conn: AsyncConnection) -> int:
    return await checkpoint_position(conn, CHECKPOINT)


async def first_wanted(conn: AsyncConnection, checkpoint: int) -> int | None:
    """Where the dispatcher's next page starts: after the checkpoint, or later when no
    subscription wants anything that early. None when there are no subscriptions at all:
    then the dispatcher does nothing, not even move its checkpoint (a subscription made later
    starts at the log's head anyway), so a service without webhooks pays no writes for them."""
    earliest = (await conn.execute(select(func.min(subscriptions.c.from_position)))).scalar()
    return None if earliest is None else max(checkpoint, int(earliest))


async def dispatch_batch(
    conn: AsyncConnection, events: Sequence[Recorded], *, after: int, now: datetime
) -> int | None:
    """Turn ``events`` (the log's events right after position ``after``) into deliveries for
    every matching subscription, and move the checkpoint past them, in the caller's one
    transaction. None, writing nothing, when the checkpoint is no longer at ``after``: another
    dispatcher did this batch. Otherwise the number of deliveries made.

    Subscriptions are matched whether enabled or not: a disabled endpoint's deliveries wait,
    pending, for it to be re-enabled, so disabling loses nothing."""
    if not events:
        return 0
    if await checkpoint_locked(conn) != after:
        return None
    subs = [subscription_of(r) for r in await conn.execute(select(subscriptions))]
    rows = [
        {
            "id": uuid4(),
            "subscription_id": sub.id,
            "event_id": event.id,
            "position": event.position,
            "event_type": event.type,
            "conflict": event.conflict,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for event in events
        for sub in subs
        if sub.matches(event)
    ]
    if rows:
        await conn.execute(deliveries.insert(), rows)
    await conn.execute(
        update(projection_checkpoints)
        .where(projection_checkpoints.c.name == CHECKPOINT)
        .values(position=events[-1].position)
    )
    if rows and is_postgresql(conn):
        await conn.execute(text(f"NOTIFY {NOTIFY_CHANNEL}"))
    return len(rows)


# -- workers ---------------------------------------------------------------------------------


def _due(now: datetime) -> list[Any]:
    return [
        deliveries.c.status == "pending",
        deliveries.c.next_attempt_at <= now,
        or_(deliveries.c.lease_until.is_(None), deliveries.c.lease_until <= now),
        subscriptions.c.enabled.is_(True),
    ]


def _not_of(endpoints: Collection[UUID]) -> list[Any]:
    """Leave out the deliveries of ``endpoints`` (those already at their share)."""
    return [deliveries.c.subscription_id.not_in(list(endpoints))] if endpoints else []


async def claim_due(
    conn: AsyncConnection,
    *,
    worker: str,
    limit: int,
    now: datetime,
    lease: timedelta,
    share: int | None = None,
    in_flight: Mapping[UUID, int] | None = None,
) -> list[Claim]:
    """Claim up to ``limit`` due deliveries of enabled endpoints for ``lease``, counting the
    attempt about to be made; oldest first, but at most ``share`` in flight per endpoint,
    counting the caller's ``in_flight`` (attempts it is sending, by endpoint). So an endpoint
    that hangs holds at most its share of a worker's slots, whatever its backlog: endpoints
    at their share are left out of the query, and of the rows found no more are taken for an
    endpoint than its room (the rest are left unclaimed, for the next claim).

    On PostgreSQL the candidates are locked ``FOR UPDATE SKIP LOCKED``: concurrent workers
    each take different rows, and nobody waits. On SQLite the caller's BEGIN IMMEDIATE holds
    the database for the claim. Either way a claimed row carries a lease: no other worker
    takes it until the lease expires, which happens only if this worker dies (the lease is
    longer than an attempt may last). A row taken over that way had an attempt whose outcome
    nobody recorded; it is recorded here as lost."""
    busy = Counter(in_flight or {})
    full = {endpoint for endpoint, n in busy.items() if share is not None and n >= share}
    candidates = (
        select(
            deliveries.c.id,
            deliveries.c.subscription_id,
            deliveries.c.position,
            deliveries.c.attempts,
            deliveries.c.lease_until,
            deliveries.c.last_attempt_at,
        )
        .select_from(deliveries.join(subscriptions))
        .where(*_due(now), *_not_of(full))
        .order_by(deliveries.c.next_attempt_at, deliveries.c.position)
        .limit(limit)
    )
    if is_postgresql(conn):
        candidates = candidates.with_for_update(of=deliveries, skip_locked=True)
    rows = []
    for row in await conn.execute(candidates):
        if share is None or busy[row.subscription_id] < share:
            busy[row.subscription_id] += 1
            rows.append(row)
    if not rows:
        return []
    token = uuid4()
    await conn.execute(
        update(deliveries)
        .where(deliveries.c.id.in_([r.id for r in rows]))
        .values(
            attempts=deliveries.c.attempts + 1,
            lease_until=now + lease,
            lease_token=token,
            last_attempt_at=now,
        )
    )
    lost = [
        {
            "delivery_id": r.id,
            "number": r.attempts,
            "started_at": r.last_attempt_at or now,
            "error": "no outcome recorded: the worker stopped mid-attempt (lease expired)",
            "worker": worker,
        }
        for r in rows
        if r.lease_until is not None and r.attempts > 0
    ]
    if lost:
        await conn.execute(attempts.insert(), lost)
    subs = {
        s.id: subscription_of(s)
        for s in await conn.execute(
            select(subscriptions).where(subscriptions.c.id.in_({r.subscription_id for r in rows}))
        )
    }
    events = {
        e.position: e
        for e in decode_rows(
            await conn.execute(
                select(events_table).where(events_table.c.position.in_([r.position for r in rows]))
            )
        )
    }
    return [
        Claim(
            delivery_id=r.id,
            attempt=r.attempts + 1,
            token=token,
            subscription=subs[r.subscription_id],
            event=events[r.position],
        )
        for r in rows
    ]


async def earliest_due(conn: AsyncConnection, *, besides: Collection[UUID] = ()) -> datetime | None:
    """When a pending delivery of an enabled endpoint, other than those ``besides`` (the ones
    at their share), next falls due: its next attempt, or the end of its lease while a worker
    holds it."""
    pending = deliveries.join(subscriptions)
    where = [
        deliveries.c.status == "pending",
        subscriptions.c.enabled.is_(True),
        *_not_of(besides),
    ]
    row = (
        await conn.execute(
            select(
                select(func.min(deliveries.c.next_attempt_at))
                .select_from(pending)
                .where(*where, deliveries.c.lease_until.is_(None))
                .scalar_subquery(),
                select(func.min(deliveries.c.lease_until))
                .select_from(pending)
                .where(*where, deliveries.c.lease_until.is_not(None))
                .scalar_subquery(),
            )
        )
    ).one()
    times = [UtcDateTime().process_result_value(v, conn.dialect) for v in row if v is not None]
    return min((t for t in times if t is not None), default=None)
