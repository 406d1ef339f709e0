"""The recorder on every database: an outcome that cannot be stored is isolated and the rest of
its batch goes through; a stale outcome is matched by (delivery, lease) and refused alone."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.services.appending import Appender
from app.webhooks.dispatcher import dispatch_pending
from app.webhooks.outcomes import Attempted, storable
from app.webhooks.queue import Claim, claim_due
from app.webhooks.recorder import Recorder
from app.webhooks.retry import Outcome, Verdict
from app.webhooks.subscriptions import create_subscription, write_transaction
from app.webhooks.tables import attempts, deliveries
from events.log.store import EventStore
from tests.factories import alleged, signed

NOW = datetime(2026, 1, 1, tzinfo=UTC)
LEASE = timedelta(seconds=60)


async def _claims(store: EventStore, count: int, *, worker: str, now: datetime) -> list[Claim]:
    async with write_transaction(store.engine) as conn:
        return await claim_due(conn, worker=worker, limit=count, now=now, lease=LEASE)


async def _deliveries_to_claim(store: EventStore, count: int) -> None:
    conflict = "recorder"
    appender = Appender(store)
    await appender.append([signed(conflict)])
    async with write_transaction(store.engine) as conn:
        await create_subscription(
            conn,
            url="http://127.0.0.1:9/hook",
            event_types=["violation.alleged"],
            conflicts=None,
            description=None,
            now=NOW,
        )
    for i in range(count):
        await appender.append([alleged(conflict, incidents=i + 1)])
    await dispatch_pending(store, batch=100, clock=lambda: NOW, lock=asyncio.Lock())


def _outcome(claim: Claim, *, status_code: int | None = 204, body: str | None = "") -> Attempted:
    return Attempted(
        claim=claim,
        started_at=NOW,
        finished_at=NOW,
        outcome=Outcome(status_code, None, 1.0, response_body=body),
        verdict=Verdict("succeeded", None),
        gone=False,
    )


def _recorder(store: EventStore, worker: str) -> Recorder:
    return Recorder(
        store.engine,
        worker=worker,
        lock=asyncio.Lock(),
        disable_after=timedelta(days=5),
        retry_interval=0.05,
    )


async def _attempt_rows(
    store: EventStore,
) -> dict[tuple[object, int], tuple[int | None, str | None, str | None]]:
    async with store.engine.connect() as conn:
        rows = await conn.execute(select(attempts))
        return {(r.delivery_id, r.number): (r.status_code, r.error, r.response_body) for r in rows}


async def test_an_outcome_that_cannot_be_stored_is_isolated_and_the_rest_go_through(
    fresh_store: EventStore,
) -> None:
    await _deliveries_to_claim(fresh_store, 4)
    claims = await _claims(fresh_store, 4, worker="w1", now=NOW)
    assert len(claims) == 4
    # A status code no integer column holds: both databases refuse the row (an overflow).
    unstorable = _outcome(claims[1], status_code=2**63)
    batch = [
        _outcome(claims[0], body="fine"),
        unstorable,
        _outcome(claims[2], body="nul\x00and a lone \udc80 surrogate"),
        _outcome(claims[3], body="fine too"),
    ]
    recorder = _recorder(fresh_store, "w1")
    recorder.start()
    try:
        # Gathered before the recorder runs: one batch, which the bad outcome makes fail.
        results = await asyncio.gather(*(recorder.record(o) for o in batch))
    finally:
        await recorder.stop()
    assert results == [True, True, True, True]

    rows = await _attempt_rows(fresh_store)
    assert rows[(claims[0].delivery_id, 1)] == (204, None, "fine")
    assert rows[(claims[3].delivery_id, 1)] == (204, None, "fine too")
    assert rows[(claims[2].delivery_id, 1)] == (204, None, "nul\ufffdand a lone \ufffd surrogate")
    code, error, body = rows[(claims[1].delivery_id, 1)]
    assert (code, body) == (None, None)
    assert error is not None and "could not be stored" in error
    async with fresh_store.engine.connect() as conn:
        statuses = {r.status for r in await conn.execute(select(deliveries.c.status))}
    assert statuses == {"succeeded"}  # the isolated one too: its verdict is kept


async def test_a_stale_outcome_is_refused_alone_without_breaking_its_batch(
    fresh_store: EventStore,
) -> None:
    """Worker 1's lease on a delivery expired and worker 2 took it over; both outcomes then
    reach one recorder's batch (the same worker name makes the case sharpest). Matched by
    delivery alone, both would be written, the second on a duplicate key."""
    await _deliveries_to_claim(fresh_store, 2)
    [first, other] = await _claims(fresh_store, 2, worker="w1", now=NOW)
    later = NOW + LEASE + timedelta(seconds=1)
    [taken_over, _other_again] = await _claims(fresh_store, 2, worker="w2", now=later)
    assert taken_over.delivery_id == first.delivery_id and taken_over.token != first.token

    recorder = _recorder(fresh_store, "w2")
    recorder.start()
    try:
        results = await asyncio.gather(
            recorder.record(_outcome(first)),  # stale: worker 1's lease
            recorder.record(_outcome(taken_over, status_code=200)),
            recorder.record(_outcome(other)),  # stale too
        )
    finally:
        await recorder.stop()
    assert results == [False, True, False]
    rows = await _attempt_rows(fresh_store)
    assert rows[(first.delivery_id, 2)][0] == 200  # the live claim's attempt
    error = rows[(first.delivery_id, 1)][1]  # recorded as lost at the take-over
    assert error is not None and "lease expired" in error


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("plain", "plain"),
        ("a\x00b", "a\ufffdb"),
        ("\udcff", "\ufffd"),
        ("é ✓ 𝄞", "é ✓ 𝄞"),
    ],
)
def test_storable_text(text: str, stored: str) -> None:
    assert storable(text) == stored
