"""Subscriptions and the delivery log: the statements the API's routes run.

Like ``app/keys.py``, webhooks keep their SQL beside them: subscriptions and deliveries are not
events and no projection derives them. Every function takes a connection; the caller owns the
transaction (``write_transaction`` for one that writes), so no helper commits on its own. The
statements of the dispatcher and the workers are in ``app/webhooks/queue.py``; the tables in
``app/webhooks/tables.py``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal
from uuid import UUID, uuid4

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.webhooks.sealing import SecretBox
from app.webhooks.signing import new_secret
from app.webhooks.tables import attempts, deliveries, subscriptions
from events.database import WRITE
from events.envelope import Recorded
from events.tables import log_head, projection_checkpoints

__all__ = [
    "CHECKPOINT",
    "AttemptRecord",
    "DeliveryFigures",
    "DeliveryRecord",
    "DeliveryStatus",
    "Subscription",
    "checkpoint_locked",
    "create_subscription",
    "delete_subscription",
    "delivery_figures",
    "get_delivery",
    "get_subscription",
    "is_postgresql",
    "list_deliveries",
    "list_subscriptions",
    "recover_failed",
    "requeue_delivery",
    "reseal_secrets",
    "rotate_secret",
    "subscription_of",
    "update_subscription",
    "write_transaction",
]

#: The dispatcher's row in ``projection_checkpoints``: the last position turned into deliveries.
CHECKPOINT = "webhooks"

DeliveryStatus = Literal["pending", "succeeded", "failed"]

#: No keys: secrets stored and read in clear.
CLEAR = SecretBox.from_keys(())


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
    # Secrets as stored (sealed when CEASEFIRE_SECRET_KEY is set: ``sealing``); ``live_secrets``
    # opens them. Never in a repr, so never in a log line or a traceback.
    secret: str = field(repr=False)
    previous_secret: str | None = field(repr=False)

    def matches(self, event: Recorded) -> bool:
        return (
            event.position > self.from_position
            and event.type in self.event_types
            and (self.conflicts is None or event.conflict in self.conflicts)
        )

    def live_secrets(self, now: datetime, box: SecretBox = CLEAR) -> list[str]:
        """The secrets a delivery sent at ``now`` is signed with, opened with ``box``: the
        current one and, for the overlap after a rotation, the previous one."""
        live = [box.open(self.secret)]
        if (
            self.previous_secret is not None
            and self.previous_secret_expires_at is not None
            and now < self.previous_secret_expires_at
        ):
            live.append(box.open(self.previous_secret))
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


@asynccontextmanager
async def write_transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """One transaction that will write; on SQLite it begins IMMEDIATE (takes the write lock
    first), so a read-then-write inside it cannot deadlock against another writer."""
    async with engine.connect() as plain:
        conn = await plain.execution_options(**WRITE)
        async with conn.begin():
            yield conn


def is_postgresql(conn: AsyncConnection) -> bool:
    return conn.dialect.name == "postgresql"


def subscription_of(row: Any) -> Subscription:
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


async def checkpoint_locked(conn: AsyncConnection) -> int:
    """The dispatcher's checkpoint, locked until the end of the transaction on PostgreSQL
    (SQLite's BEGIN IMMEDIATE already holds the whole database)."""
    statement = select(projection_checkpoints.c.position).where(
        projection_checkpoints.c.name == CHECKPOINT
    )
    if is_postgresql(conn):
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
    box: SecretBox = CLEAR,
) -> Subscription:
    """A new, enabled subscription with a fresh secret, stored sealed by ``box``. It receives
    the events after the log's head or the dispatcher's checkpoint, whichever is later, read
    under the checkpoint's lock:
    a dispatch batch in flight either sees this subscription or ends before its
    ``from_position``, never between."""
    checkpoint = await checkpoint_locked(conn)
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
        "secret": box.seal(new_secret()),
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
    return None if row is None else subscription_of(row)


async def list_subscriptions(conn: AsyncConnection) -> list[Subscription]:
    rows = await conn.execute(
        select(subscriptions).order_by(subscriptions.c.created_at, subscriptions.c.id)
    )
    return [subscription_of(r) for r in rows]


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
    conn: AsyncConnection,
    subscription_id: UUID,
    now: datetime,
    overlap: timedelta,
    box: SecretBox = CLEAR,
) -> Subscription | None:
    """A new secret, stored sealed by ``box``; the current one keeps signing beside it until
    ``now + overlap``."""
    current = await get_subscription(conn, subscription_id)
    if current is None:
        return None
    await conn.execute(
        update(subscriptions)
        .where(subscriptions.c.id == subscription_id)
        .values(
            secret=box.seal(new_secret()),
            previous_secret=current.secret,
            previous_secret_expires_at=now + overlap,
            updated_at=now,
        )
    )
    return await get_subscription(conn, subscription_id)


async def reseal_secrets(conn: AsyncConnection, box: SecretBox) -> int:
    """Seal every stored secret with ``box``'s first key (clear ones included): after a key
    rotation, before the old keys are dropped. The number of subscriptions rewritten.
    ``SecretKeyError`` (nothing written, the caller's transaction rolls back) when a secret
    opens with none of the keys."""
    rows = list(
        await conn.execute(
            select(subscriptions.c.id, subscriptions.c.secret, subscriptions.c.previous_secret)
        )
    )
    for row in rows:
        previous = None if row.previous_secret is None else box.reseal(row.previous_secret)
        await conn.execute(
            update(subscriptions)
            .where(subscriptions.c.id == row.id)
            .values(secret=box.reseal(row.secret), previous_secret=previous)
        )
    return len(rows)


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


@dataclass(frozen=True)
class DeliveryFigures:
    """What ``/metrics`` shows of the delivery log (``app.metrics``)."""

    by_status: dict[str, int]
    attempts_succeeded: int
    attempts_failed: int
    #: Pending deliveries whose next attempt is due.
    due: int
    oldest_pending: datetime | None
    log_head: int
    #: The dispatcher's checkpoint: events up to it have their deliveries.
    dispatched: int


async def delivery_figures(conn: AsyncConnection, now: datetime) -> DeliveryFigures:
    by_status = {
        str(status): int(n)
        for status, n in await conn.execute(
            select(deliveries.c.status, func.count()).group_by(deliveries.c.status)
        )
    }
    ok = and_(attempts.c.status_code >= 200, attempts.c.status_code < 300)
    succeeded, total = (
        await conn.execute(select(func.count().filter(ok), func.count()).select_from(attempts))
    ).one()
    pending = deliveries.c.status == "pending"
    due, oldest = (
        await conn.execute(
            select(
                func.count().filter(deliveries.c.next_attempt_at <= now),
                func.min(deliveries.c.created_at),
            ).where(pending)
        )
    ).one()
    head = (await conn.execute(select(log_head.c.position))).scalar_one()
    dispatched = (
        await conn.execute(
            select(projection_checkpoints.c.position).where(
                projection_checkpoints.c.name == CHECKPOINT
            )
        )
    ).scalar_one_or_none()
    return DeliveryFigures(
        by_status=by_status,
        attempts_succeeded=int(succeeded),
        attempts_failed=int(total) - int(succeeded),
        due=int(due),
        oldest_pending=oldest,
        log_head=int(head),
        dispatched=int(dispatched or 0),
    )
