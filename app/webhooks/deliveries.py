"""The delivery log: a subscription's deliveries with their attempts, as the API shows them, what
an administrator re-queues, and the figures ``/metrics`` shows.

Like ``store`` (the subscriptions), every function takes a connection in the caller's
transaction. The dispatcher's and the workers' statements are in ``queue``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.webhooks.queue import first_wanted, read_checkpoint
from app.webhooks.subscriptions import DeliveryStatus
from app.webhooks.tables import attempts, deliveries
from events.log.positions import log_position
from events.log.tables import record_of

__all__ = [
    "AttemptRecord",
    "DeliveryFigures",
    "DeliveryRecord",
    "delivery_figures",
    "get_delivery",
    "list_deliveries",
    "recover_failed",
    "requeue_delivery",
]


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
        found[row.delivery_id].append(record_of(AttemptRecord, row))
    return found


def _delivery(row: Any, tried: list[AttemptRecord]) -> DeliveryRecord:
    return record_of(
        DeliveryRecord,
        row,
        position=int(row.position),
        attempt_count=row.attempts,
        next_attempt_at=row.next_attempt_at if row.status == "pending" else None,
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
    ``before`` = the last position returned. Two statements: give a connection that sees one
    snapshot (``projections.freshness.snapshot``), or an attempt may show beside the state its
    delivery had before that attempt was recorded."""
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
    """What ``/metrics`` shows of the delivery log (``app.metric_families``)."""

    by_status: dict[str, int]
    attempts_succeeded: int
    attempts_failed: int
    #: Pending deliveries whose next attempt is due.
    due: int
    oldest_pending: datetime | None
    log_head: int
    #: Events up to here have their deliveries or are wanted by no subscription: the
    #: dispatcher's checkpoint, or where its next page starts, or the head when there is no
    #: subscription (then the dispatcher rightly does nothing, and nothing lags).
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
    head = await log_position(conn)
    wanted = await first_wanted(conn, await read_checkpoint(conn))
    dispatched = head if wanted is None else wanted
    return DeliveryFigures(
        by_status=by_status,
        attempts_succeeded=int(succeeded),
        attempts_failed=int(total) - int(succeeded),
        due=int(due),
        oldest_pending=oldest,
        log_head=int(head),
        dispatched=dispatched,
    )
