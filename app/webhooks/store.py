"""The webhook tables and every statement that reads or writes them.

Like ``app/keys.py``, webhooks keep their SQL beside them: subscriptions and deliveries are not
events and no projection derives them. Every function takes a connection; the caller owns the
transaction (``write_transaction`` for one that writes), so no helper commits on its own.

- ``webhook_subscriptions``: an endpoint, its filters and secrets. ``from_position`` is the
  dispatcher's checkpoint when it was created: it receives events after that.
- ``webhook_deliveries``: one row per (subscription, event), made by the dispatcher; unique on
  that pair, and its id is the stable ``webhook-id`` every attempt carries. ``lease_until`` and
  ``lease_token`` mark a claim by a worker.
- ``webhook_attempts``: one row per attempt: when, status code, latency, error, response.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal
from uuid import UUID, uuid4

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    bindparam,
    delete,
    func,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.webhooks.signing import new_secret
from events.database import WRITE
from events.envelope import Recorded, format_instant
from events.store import decode_row
from events.tables import UtcDateTime, log_head, metadata, projection_checkpoints
from events.tables import events as events_table

__all__ = [
    "CHECKPOINT",
    "NOTIFY_CHANNEL",
    "AttemptRecord",
    "Attempted",
    "Claim",
    "DeliveryRecord",
    "DeliveryStatus",
    "Subscription",
    "claim_due",
    "create_subscription",
    "delete_subscription",
    "dispatch_batch",
    "earliest_due",
    "first_wanted",
    "get_delivery",
    "get_subscription",
    "list_deliveries",
    "list_subscriptions",
    "read_checkpoint",
    "record_attempts",
    "recover_failed",
    "requeue_delivery",
    "rotate_secret",
    "update_subscription",
    "write_transaction",
]

#: The dispatcher's row in ``projection_checkpoints``: the last position turned into deliveries.
CHECKPOINT = "webhooks"
#: PostgreSQL channel the dispatcher notifies when it has made deliveries (workers LISTEN).
NOTIFY_CHANNEL = "ceasefire_webhooks"

DeliveryStatus = Literal["pending", "succeeded", "failed"]

subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("url", Text, nullable=False),
    Column("event_types", Text, nullable=False),
    Column("conflicts", Text, nullable=True),
    Column("description", Text, nullable=True),
    Column("enabled", Boolean, nullable=False),
    Column("disabled_reason", Text, nullable=True),
    Column("disabled_at", UtcDateTime, nullable=True),
    Column("secret", String(64), nullable=False),
    Column("previous_secret", String(64), nullable=True),
    Column("previous_secret_expires_at", UtcDateTime, nullable=True),
    Column("from_position", BigInteger, nullable=False),
    Column("failing_since", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column(
        "subscription_id",
        Uuid,
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("event_id", Uuid, nullable=False),
    Column("position", BigInteger, nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("conflict", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=True),
    Column("lease_until", UtcDateTime, nullable=True),
    Column("lease_token", Uuid, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_attempt_at", UtcDateTime, nullable=True),
    Column("completed_at", UtcDateTime, nullable=True),
    UniqueConstraint("subscription_id", "event_id", name="uq_webhook_deliveries_event"),
)
Index(
    "ix_webhook_deliveries_due",
    deliveries.c.next_attempt_at,
    postgresql_where=deliveries.c.status == "pending",
    sqlite_where=deliveries.c.status == "pending",
)
Index("ix_webhook_deliveries_subscription", deliveries.c.subscription_id, deliveries.c.position)

attempts = Table(
    "webhook_attempts",
    metadata,
    Column(
        "delivery_id",
        Uuid,
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("number", Integer, primary_key=True),
    Column("started_at", UtcDateTime, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("latency_ms", Float, nullable=True),
    Column("error", Text, nullable=True),
    Column("response_body", Text, nullable=True),
    Column("worker", String(128), nullable=False),
)


@dataclass(frozen=True, slots=True)
class Subscription:
    id: UUID
    url: str
    event_types: tuple[str, ...]
    #: None: every conflict.
    conflicts: tuple[str, ...] | None
    description: str | None
    enabled: bool
    disabled_reason: str | None
    disabled_at: datetime | None
    from_position: int
    failing_since: datetime | None
    created_at: datetime
    updated_at: datetime
    previous_secret_expires_at: datetime | None
    # Secrets never appear in a repr, so never in a log line or a traceback.
    secret: str = field(repr=False)
    previous_secret: str | None = field(repr=False)

    def matches(self, event: Recorded) -> bool:
        return (
            event.position > self.from_position
            and event.type in self.event_types
            and (self.conflicts is None or event.conflict in self.conflicts)
        )

    def live_secrets(self, now: datetime) -> list[str]:
        """The secrets a delivery sent at ``now`` is signed with: the current one and, for
        the overlap after a rotation, the previous one."""
        live = [self.secret]
        if (
            self.previous_secret is not None
            and self.previous_secret_expires_at is not None
            and now < self.previous_secret_expires_at
        ):
            live.append(self.previous_secret)
        return live


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    number: int
    started_at: datetime
    status_code: int | None
    latency_ms: float | None
    error: str | None
    response_body: str | None
    worker: str


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    id: UUID
    subscription_id: UUID
    event_id: UUID
    position: int
    event_type: str
    conflict: str
    status: DeliveryStatus
    attempt_count: int
    next_attempt_at: datetime | None
    created_at: datetime
    last_attempt_at: datetime | None
    completed_at: datetime | None
    attempts: tuple[AttemptRecord, ...]


@dataclass(frozen=True, slots=True)
class Claim:
    """A delivery a worker holds until ``lease_until``: send attempt ``attempt`` of it."""

    delivery_id: UUID
    attempt: int
    token: UUID
    subscription: Subscription
    event: Recorded


@asynccontextmanager
async def write_transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """One transaction that will write; on SQLite it begins IMMEDIATE (takes the write lock
    first), so a read-then-write inside it cannot deadlock against another writer."""
    async with engine.connect() as plain:
        conn = await plain.execution_options(**WRITE)
        async with conn.begin():
            yield conn


def _is_postgresql(conn: AsyncConnection) -> bool:
    return conn.dialect.name == "postgresql"


def _subscription(row: Any) -> Subscription:
    return Subscription(
        id=row.id,
        url=row.url,
        event_types=tuple(json.loads(row.event_types)),
        conflicts=None if row.conflicts is None else tuple(json.loads(row.conflicts)),
        description=row.description,
        enabled=bool(row.enabled),
        disabled_reason=row.disabled_reason,
        disabled_at=row.disabled_at,
        from_position=int(row.from_position),
        failing_since=row.failing_since,
        created_at=row.created_at,
        updated_at=row.updated_at,
        previous_secret_expires_at=row.previous_secret_expires_at,
        secret=row.secret,
        previous_secret=row.previous_secret,
    )


# -- subscriptions ---------------------------------------------------------------------------


async def _checkpoint_locked(conn: AsyncConnection) -> int:
    """The dispatcher's checkpoint, locked until the end of the transaction on PostgreSQL
    (SQLite's BEGIN IMMEDIATE already holds the whole database)."""
    statement = select(projection_checkpoints.c.position).where(
        projection_checkpoints.c.name == CHECKPOINT
    )
    if _is_postgresql(conn):
        statement = statement.with_for_update()
    return int((await conn.execute(statement)).scalar_one())


async def create_subscription(
    conn: AsyncConnection,
    *,
    url: str,
    event_types: Sequence[str],
    conflicts: Sequence[str] | None,
    description: str | None,
    now: datetime,
) -> Subscription:
    """A new, enabled subscription with a fresh secret. It receives the events after the log's
    head or the dispatcher's checkpoint, whichever is later, read under the checkpoint's lock:
    a dispatch batch in flight either sees this subscription or ends before its
    ``from_position``, never between."""
    checkpoint = await _checkpoint_locked(conn)
    head = (await conn.execute(select(log_head.c.position))).scalar_one()
    from_position = max(checkpoint, int(head))
    subscription_id = uuid4()
    values = {
        "id": subscription_id,
        "url": url,
        "event_types": json.dumps(list(dict.fromkeys(event_types))),
        "conflicts": None if conflicts is None else json.dumps(list(dict.fromkeys(conflicts))),
        "description": description,
        "enabled": True,
        "secret": new_secret(),
        "from_position": from_position,
        "created_at": now,
        "updated_at": now,
    }
    await conn.execute(subscriptions.insert().values(**values))
    created = await get_subscription(conn, subscription_id)
    assert created is not None
    return created


async def get_subscription(conn: AsyncConnection, subscription_id: UUID) -> Subscription | None:
    row = (
        await conn.execute(select(subscriptions).where(subscriptions.c.id == subscription_id))
    ).one_or_none()
    return None if row is None else _subscription(row)


async def list_subscriptions(conn: AsyncConnection) -> list[Subscription]:
    rows = await conn.execute(
        select(subscriptions).order_by(subscriptions.c.created_at, subscriptions.c.id)
    )
    return [_subscription(r) for r in rows]


async def update_subscription(
    conn: AsyncConnection, subscription_id: UUID, changes: dict[str, Any], now: datetime
) -> Subscription | None:
    """Apply ``changes`` (url, event_types, conflicts, description, enabled). Re-enabling
    clears the disabled reason and the failure streak, and makes the endpoint's pending
    deliveries due now."""
    current = await get_subscription(conn, subscription_id)
    if current is None:
        return None
    values: dict[str, Any] = {"updated_at": now}
    for name in ("url", "description"):
        if name in changes:
            values[name] = changes[name]
    if "event_types" in changes:
        values["event_types"] = json.dumps(list(dict.fromkeys(changes["event_types"])))
    if "conflicts" in changes:
        given = changes["conflicts"]
        values["conflicts"] = None if given is None else json.dumps(list(dict.fromkeys(given)))
    if "enabled" in changes and changes["enabled"] != current.enabled:
        values["enabled"] = changes["enabled"]
        if changes["enabled"]:
            values.update(disabled_reason=None, disabled_at=None, failing_since=None)
            await conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.subscription_id == subscription_id,
                    deliveries.c.status == "pending",
                    deliveries.c.next_attempt_at > now,
                )
                .values(next_attempt_at=now)
            )
        else:
            values.update(disabled_reason="disabled by an administrator", disabled_at=now)
    await conn.execute(
        update(subscriptions).where(subscriptions.c.id == subscription_id).values(**values)
    )
    return await get_subscription(conn, subscription_id)


async def delete_subscription(conn: AsyncConnection, subscription_id: UUID) -> bool:
    """Delete a subscription with its deliveries and their attempts."""
    ids = select(deliveries.c.id).where(deliveries.c.subscription_id == subscription_id)
    await conn.execute(delete(attempts).where(attempts.c.delivery_id.in_(ids)))
    await conn.execute(delete(deliveries).where(deliveries.c.subscription_id == subscription_id))
    result = await conn.execute(delete(subscriptions).where(subscriptions.c.id == subscription_id))
    return bool(result.rowcount)


async def rotate_secret(
    conn: AsyncConnection, subscription_id: UUID, now: datetime, overlap: timedelta
) -> Subscription | None:
    """A new secret; the current one keeps signing beside it until ``now + overlap``."""
    current = await get_subscription(conn, subscription_id)
    if current is None:
        return None
    await conn.execute(
        update(subscriptions)
        .where(subscriptions.c.id == subscription_id)
        .values(
            secret=new_secret(),
            previous_secret=current.secret,
            previous_secret_expires_at=now + overlap,
            updated_at=now,
        )
    )
    return await get_subscription(conn, subscription_id)


# -- the delivery log ------------------------------------------------------------------------


async def _attempts_of(
    conn: AsyncConnection, delivery_ids: Sequence[UUID]
) -> dict[UUID, list[AttemptRecord]]:
    found: dict[UUID, list[AttemptRecord]] = {d: [] for d in delivery_ids}
    if not delivery_ids:
        return found
    rows = await conn.execute(
        select(attempts)
        .where(attempts.c.delivery_id.in_(list(delivery_ids)))
        .order_by(attempts.c.delivery_id, attempts.c.number)
    )
    for row in rows:
        found[row.delivery_id].append(
            AttemptRecord(
                number=row.number,
                started_at=row.started_at,
                status_code=row.status_code,
                latency_ms=row.latency_ms,
                error=row.error,
                response_body=row.response_body,
                worker=row.worker,
            )
        )
    return found


def _delivery(row: Any, tried: list[AttemptRecord]) -> DeliveryRecord:
    return DeliveryRecord(
        id=row.id,
        subscription_id=row.subscription_id,
        event_id=row.event_id,
        position=int(row.position),
        event_type=row.event_type,
        conflict=row.conflict,
        status=row.status,
        attempt_count=row.attempts,
        next_attempt_at=row.next_attempt_at if row.status == "pending" else None,
        created_at=row.created_at,
        last_attempt_at=row.last_attempt_at,
        completed_at=row.completed_at,
        attempts=tuple(tried),
    )


async def list_deliveries(
    conn: AsyncConnection,
    subscription_id: UUID,
    *,
    status: DeliveryStatus | None = None,
    before: int | None = None,
    limit: int = 50,
) -> list[DeliveryRecord]:
    """A subscription's deliveries, newest event first, with their attempts; page with
    ``before`` = the last position returned."""
    statement = select(deliveries).where(deliveries.c.subscription_id == subscription_id)
    if status is not None:
        statement = statement.where(deliveries.c.status == status)
    if before is not None:
        statement = statement.where(deliveries.c.position < before)
    rows = list(await conn.execute(statement.order_by(deliveries.c.position.desc()).limit(limit)))
    tried = await _attempts_of(conn, [r.id for r in rows])
    return [_delivery(r, tried[r.id]) for r in rows]


async def get_delivery(
    conn: AsyncConnection, subscription_id: UUID, delivery_id: UUID
) -> DeliveryRecord | None:
    row = (
        await conn.execute(
            select(deliveries).where(
                deliveries.c.id == delivery_id, deliveries.c.subscription_id == subscription_id
            )
        )
    ).one_or_none()
    if row is None:
        return None
    return _delivery(row, (await _attempts_of(conn, [row.id]))[row.id])


async def requeue_delivery(
    conn: AsyncConnection, subscription_id: UUID, delivery_id: UUID, now: datetime
) -> bool:
    """Make one delivery due now, whatever its status: one more attempt (more if it has
    attempts left in the schedule). Its ``webhook-id`` stays the same."""
    result = await conn.execute(
        update(deliveries)
        .where(deliveries.c.id == delivery_id, deliveries.c.subscription_id == subscription_id)
        .values(status="pending", next_attempt_at=now, completed_at=None)
    )
    return bool(result.rowcount)


async def recover_failed(
    conn: AsyncConnection, subscription_id: UUID, since: datetime, now: datetime
) -> int:
    """Re-queue every failed delivery of the subscription made at or after ``since``."""
    result = await conn.execute(
        update(deliveries)
        .where(
            deliveries.c.subscription_id == subscription_id,
            deliveries.c.status == "failed",
            deliveries.c.created_at >= since,
        )
        .values(status="pending", next_attempt_at=now, completed_at=None)
    )
    return int(result.rowcount)


# -- the dispatcher --------------------------------------------------------------------------


async def read_checkpoint(conn: AsyncConnection) -> int:
    return int(
        (
            await conn.execute(
                select(projection_checkpoints.c.position).where(
                    projection_checkpoints.c.name == CHECKPOINT
                )
            )
        ).scalar_one()
    )


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
    if await _checkpoint_locked(conn) != after:
        return None
    subs = [_subscription(r) for r in await conn.execute(select(subscriptions))]
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
    if rows and _is_postgresql(conn):
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


async def claim_due(
    conn: AsyncConnection, *, worker: str, limit: int, now: datetime, lease: timedelta
) -> list[Claim]:
    """Claim up to ``limit`` due deliveries of enabled endpoints for ``lease``, counting the
    attempt about to be made.

    On PostgreSQL the candidates are locked ``FOR UPDATE SKIP LOCKED``: concurrent workers
    each take different rows, and nobody waits. On SQLite the caller's BEGIN IMMEDIATE holds
    the database for the claim. Either way a claimed row carries a lease: no other worker
    takes it until the lease expires, which happens only if this worker dies (the lease is
    longer than an attempt may last). A row taken over that way had an attempt whose outcome
    nobody recorded; it is recorded here as lost."""
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
        .where(*_due(now))
        .order_by(deliveries.c.next_attempt_at, deliveries.c.position)
        .limit(limit)
    )
    if _is_postgresql(conn):
        candidates = candidates.with_for_update(of=deliveries, skip_locked=True)
    rows = list(await conn.execute(candidates))
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
        s.id: _subscription(s)
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


async def earliest_due(conn: AsyncConnection) -> datetime | None:
    """When a pending delivery of an enabled endpoint next falls due: its next attempt, or
    the end of its lease while a worker holds it."""
    pending = deliveries.join(subscriptions)
    where = [deliveries.c.status == "pending", subscriptions.c.enabled.is_(True)]
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
    status_code: int | None
    latency_ms: float
    error: str | None
    response_body: str | None
    status: DeliveryStatus
    next_attempt_at: datetime | None
    #: The endpoint answered 410 Gone: disable it at once.
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
    mine = select(deliveries.c.id).where(
        tuple_(deliveries.c.id, deliveries.c.lease_token).in_(
            [(o.claim.delivery_id, o.claim.token) for o in outcomes]
        )
    )
    if _is_postgresql(conn):
        mine = mine.with_for_update()
    ours = set((await conn.execute(mine)).scalars())
    kept = [o for o in outcomes if o.claim.delivery_id in ours]
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
                    "b_status": o.status,
                    "b_next": o.next_attempt_at,
                    "b_done": o.finished_at if o.status != "pending" else None,
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
                    "status_code": o.status_code,
                    "latency_ms": o.latency_ms,
                    "error": o.error,
                    "response_body": o.response_body,
                    "worker": worker,
                }
                for o in kept
            ],
        )
        await _update_streaks(conn, kept, disable_after)
    return [o.claim.delivery_id in ours for o in outcomes]


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
        successes = [i for i, o in enumerate(group) if o.status == "succeeded"]
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
