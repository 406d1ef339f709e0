"""The dispatcher's and the workers' statements: deliveries made from the log, claimed under a
lease, and the outcomes of their attempts recorded.

Every function takes a connection in the caller's transaction (``write_transaction``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import bindparam, func, or_, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.webhooks.retry import Outcome, Verdict
from app.webhooks.subscriptions import (
    CHECKPOINT,
    Subscription,
    checkpoint_locked,
    is_postgresql,
    subscription_of,
)
from app.webhooks.tables import attempts, deliveries, subscriptions
from events.log.positions import checkpoint_position
from events.log.store import decode_row
from events.log.tables import UtcDateTime, projection_checkpoints
from events.log.tables import events as events_table
from events.model.envelope import Recorded, format_instant

__all__ = [
    "NOTIFY_CHANNEL",
    "Attempted",
    "Claim",
    "claim_due",
    "dispatch_batch",
    "earliest_due",
    "first_wanted",
    "read_checkpoint",
    "record_attempts",
    "storable",
]

#: PostgreSQL channel the dispatcher notifies when it has made deliveries (workers LISTEN).
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
        e.position: decode_row(e)
        for e in await conn.execute(
            select(events_table).where(events_table.c.position.in_([r.position for r in rows]))
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


@dataclass(frozen=True, slots=True)
class Attempted:
    """The outcome of one claimed attempt, and what it makes of the delivery."""

    claim: Claim
    started_at: datetime
    finished_at: datetime
    #: What the endpoint answered.
    outcome: Outcome
    #: What that makes of the delivery.
    verdict: Verdict
    #: The endpoint answered 410 Gone: disable it at once (kept when the outcome is stored
    #: stripped of the answer, ``app.webhooks.recorder``).
    gone: bool


async def record_attempts(
    conn: AsyncConnection,
    outcomes: Sequence[Attempted],
    *,
    worker: str,
    disable_after: timedelta,
) -> list[bool]:
    """Write the outcomes of claimed attempts, in the caller's one transaction and a few
    statements whatever their number: each attempt's row, its delivery's new status, and its
    endpoint's failure streak, disabling the endpoint (with the reason) on 410 Gone or when
    every attempt has failed for ``disable_after``.

    An outcome is written only while its claim is still this worker's (same lease token; on
    PostgreSQL the rows are locked first): False for one that is not (the subscription was
    deleted, or the lease expired and another worker took the delivery over)."""
    if not outcomes:
        return []
    mine = select(deliveries.c.id, deliveries.c.lease_token).where(
        tuple_(deliveries.c.id, deliveries.c.lease_token).in_(
            [(o.claim.delivery_id, o.claim.token) for o in outcomes]
        )
    )
    if is_postgresql(conn):
        mine = mine.with_for_update()
    # Matched by (delivery, lease), not by delivery: a stale outcome of a delivery that another
    # claim has taken over since is not this claim's, even in the same batch as that claim's.
    ours = {(r.id, r.lease_token) for r in await conn.execute(mine)}
    kept = [o for o in outcomes if (o.claim.delivery_id, o.claim.token) in ours]
    if kept:
        await conn.execute(
            update(deliveries)
            .where(deliveries.c.id == bindparam("b_id"))
            .values(
                status=bindparam("b_status"),
                next_attempt_at=bindparam("b_next", type_=UtcDateTime),
                lease_until=None,
                lease_token=None,
                completed_at=bindparam("b_done", type_=UtcDateTime),
            ),
            [
                {
                    "b_id": o.claim.delivery_id,
                    "b_status": o.verdict.status,
                    "b_next": o.verdict.next_attempt_at,
                    "b_done": o.finished_at if o.verdict.status != "pending" else None,
                }
                for o in kept
            ],
        )
        await conn.execute(
            attempts.insert(),
            [
                {
                    "delivery_id": o.claim.delivery_id,
                    "number": o.claim.attempt,
                    "started_at": o.started_at,
                    "status_code": o.outcome.status_code,
                    "latency_ms": o.outcome.latency_ms,
                    "error": storable(o.outcome.error, ERROR_CHARS),
                    "response_body": storable(o.outcome.response_body),
                    "worker": worker,
                }
                for o in kept
            ],
        )
        await _update_streaks(conn, kept, disable_after)
    return [(o.claim.delivery_id, o.claim.token) in ours for o in outcomes]


async def _update_streaks(
    conn: AsyncConnection, outcomes: Sequence[Attempted], disable_after: timedelta
) -> None:
    """Each endpoint's failure streak after these outcomes: cleared by a success, started by
    the first failure after the last success; past ``disable_after`` (or on 410 Gone) the
    endpoint is disabled."""
    by_endpoint: dict[UUID, list[Attempted]] = {}
    for outcome in sorted(outcomes, key=lambda o: o.finished_at):
        by_endpoint.setdefault(outcome.claim.subscription.id, []).append(outcome)
    cleared = []
    for endpoint_id, group in by_endpoint.items():
        successes = [i for i, o in enumerate(group) if o.verdict.status == "succeeded"]
        failures = group[successes[-1] + 1 :] if successes else group
        if not failures:
            cleared.append(endpoint_id)
            continue
        endpoint = subscriptions.c.id == endpoint_id
        since: datetime | None = None
        if not successes:
            since = (
                await conn.execute(select(subscriptions.c.failing_since).where(endpoint))
            ).scalar_one_or_none()
        if since is None:
            since = failures[0].started_at
        values: dict[str, Any] = {"failing_since": since}
        last = failures[-1].finished_at
        reason = None
        if any(o.gone for o in group):
            gone_at = max(o.finished_at for o in group if o.gone)
            reason = f"the endpoint answered 410 Gone at {format_instant(gone_at)}"
        elif last - since >= disable_after:
            reason = f"every attempt has failed since {format_instant(since)}"
        await conn.execute(update(subscriptions).where(endpoint).values(**values))
        if reason is not None:
            await conn.execute(
                update(subscriptions)
                .where(endpoint, subscriptions.c.enabled.is_(True))
                .values(enabled=False, disabled_reason=reason, disabled_at=last, updated_at=last)
            )
    if cleared:
        await conn.execute(
            update(subscriptions)
            .where(subscriptions.c.id.in_(cleared), subscriptions.c.failing_since.is_not(None))
            .values(failing_since=None)
        )


#: The longest error text kept of an attempt (a receiver's answer has its own limit).
ERROR_CHARS = 2000


def storable(text: str | None, limit: int | None = None) -> str | None:
    """Text a receiver had a hand in, made fit for a text column of either database: NUL (which
    PostgreSQL refuses in ``text``) and lone surrogates (which no UTF-8 column takes) become
    U+FFFD, and it is cut to ``limit`` characters if given."""
    if text is None:
        return None
    cleaned = text.replace("\x00", "\ufffd")
    if not cleaned.isascii():
        cleaned = "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in cleaned)
    return cleaned if limit is None else cleaned[:limit]
