"""The statements that record the outcomes of claimed attempts: each attempt's row, its
delivery's new status, and its endpoint's failure streak (disabling an endpoint that answers
410 Gone or has failed too long), with the text a receiver sent made fit to store.

Apart from the queue (``app.webhooks.queue``: dispatch and claims) because the recorder
(``app.webhooks.recorder``) writes these on its own, in batches. Every function takes a
connection in the caller's transaction (``write_transaction``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import bindparam, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.webhooks.queue import Claim
from app.webhooks.retry import Outcome, Verdict
from app.webhooks.subscriptions import is_postgresql
from app.webhooks.tables import attempts, deliveries, subscriptions
from events.log.tables import UtcDateTime
from events.model.envelope import format_instant

__all__ = [
    "Attempted",
    "record_attempts",
    "storable",
]


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
