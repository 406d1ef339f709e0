"""Subscriptions: the statements the API's routes run on them (the delivery log is
``app/webhooks/deliveries.py``).

Like ``app/services/api_keys.py``, webhooks keep their SQL beside them: subscriptions and
deliveries are not
events and no projection derives them. Every function takes a connection; the caller owns the
transaction (``write_transaction`` for one that writes), so no helper commits on its own. The
statements of the dispatcher and the workers are in ``app/webhooks/queue.py`` and
``app/webhooks/outcomes.py``; the tables in ``app/webhooks/tables.py``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal
from uuid import UUID, uuid4

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.webhooks.sealing import SecretBox
from app.webhooks.signing import new_secret
from app.webhooks.tables import attempts, deliveries, subscriptions
from events.log.database import WRITE
from events.log.positions import checkpoint_position, log_position
from events.log.tables import record_of
from events.model.envelope import Recorded

__all__ = [
    "CHECKPOINT",
    "DeliveryStatus",
    "Subscription",
    "checkpoint_locked",
    "create_subscription",
    "delete_subscription",
    "get_subscription",
    "is_postgresql",
    "list_subscriptions",
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
    return record_of(
        Subscription,
        row,
        event_types=tuple(json.loads(row.event_types)),
        conflicts=None if row.conflicts is None else tuple(json.loads(row.conflicts)),
        enabled=bool(row.enabled),
        from_position=int(row.from_position),
    )


# -- subscriptions ---------------------------------------------------------------------------


async def checkpoint_locked(conn: AsyncConnection) -> int:
    """The dispatcher's checkpoint, locked until the end of the transaction on PostgreSQL
    (SQLite's BEGIN IMMEDIATE already holds the whole database)."""
    return await checkpoint_position(conn, CHECKPOINT, for_update=True)


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
    head = await log_position(conn)
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
