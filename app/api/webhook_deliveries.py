"""``/v1/webhooks/{webhook_id}/deliveries``: a subscription's delivery log, and sending its
deliveries again (admin key)."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Path, Query

from app.api.webhook_bodies import Delivery, DeliveryPage, Recovered
from app.api.webhooks import (
    ONE_WEBHOOK_PROBLEMS,
    WEBHOOK_PROBLEMS,
    WebhookId,
    now,
    subscription,
)
from app.deps import AdminKey, SnapshotDep, StoreDep, WebhooksDep, writing
from app.http.problems import ProblemError, problem_responses
from app.webhooks import deliveries as delivery_log
from events.model.values import MAX_SAFE_INTEGER, Instant

__all__ = ["router"]

router = APIRouter(tags=["webhooks"])

_DELIVERY = WEBHOOK_PROBLEMS | problem_responses(
    specific={404: "No such webhook, or no such delivery of it (`/problems/unknown-delivery`)."}
)

DeliveryId = Annotated[UUID, Path(description="The delivery's id.")]


def _no_delivery(webhook_id: UUID, delivery_id: UUID) -> ProblemError:
    return ProblemError(404, "unknown-delivery", f"no delivery {delivery_id} of {webhook_id}")


@router.get(
    "/v1/webhooks/{webhook_id}/deliveries",
    operation_id="list_webhook_deliveries",
    response_model=DeliveryPage,
    responses=ONE_WEBHOOK_PROBLEMS
    | {
        200: {
            "description": "A page of deliveries.",
            "links": {
                operation_id: {
                    "operationId": operation_id,
                    "parameters": {
                        "webhook_id": "$request.path.webhook_id",
                        "delivery_id": "$response.body#/deliveries/0/id",
                    },
                }
                for operation_id in ("get_webhook_delivery", "retry_webhook_delivery")
            },
        }
    },
    summary="The delivery log, newest event first",
)
async def list_webhook_deliveries(
    webhook_id: WebhookId,
    _key: AdminKey,
    conn: SnapshotDep,  # the subscription, its deliveries and their attempts seen together
    status: Annotated[
        Literal["pending", "succeeded", "failed"] | None,
        Query(description="Only deliveries in this state."),
    ] = None,
    before: Annotated[
        int | None,
        Query(ge=1, le=MAX_SAFE_INTEGER, description="Deliveries of events before this."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="At most this many deliveries.")] = 50,
) -> DeliveryPage:
    """Newest event first, each with its attempts; page back with `before=next_before`."""
    await subscription(conn, webhook_id)
    page = await delivery_log.list_deliveries(
        conn, webhook_id, status=status, before=before, limit=limit
    )
    return DeliveryPage(
        deliveries=[Delivery.of(d) for d in page],
        next_before=page[-1].position if len(page) == limit else None,
    )


@router.get(
    "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}",
    operation_id="get_webhook_delivery",
    response_model=Delivery,
    responses=_DELIVERY,
    summary="One delivery with its attempts",
)
async def get_webhook_delivery(
    webhook_id: WebhookId,
    delivery_id: DeliveryId,
    _key: AdminKey,
    conn: SnapshotDep,  # the delivery and its attempts seen together
) -> Delivery:
    """One delivery: its event, its state, every attempt with the endpoint's answer."""
    delivery = await delivery_log.get_delivery(conn, webhook_id, delivery_id)
    if delivery is None:
        raise _no_delivery(webhook_id, delivery_id)
    return Delivery.of(delivery)


@router.post(
    "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry",
    operation_id="retry_webhook_delivery",
    status_code=202,
    response_model=Delivery,
    responses=_DELIVERY,
    summary="Send a delivery again now",
)
async def retry_webhook_delivery(
    webhook_id: WebhookId,
    delivery_id: DeliveryId,
    store: StoreDep,
    webhooks: WebhooksDep,
    _key: AdminKey,
) -> Delivery:
    """Queues one more attempt, due now, with the same ``webhook-id``. A disabled endpoint's
    delivery waits until the endpoint is re-enabled."""
    async with writing(store.engine) as conn:
        found = await delivery_log.requeue_delivery(conn, webhook_id, delivery_id, now())
        delivery = await delivery_log.get_delivery(conn, webhook_id, delivery_id)
    if not found or delivery is None:
        raise _no_delivery(webhook_id, delivery_id)
    webhooks.wake()
    return Delivery.of(delivery)


@router.post(
    "/v1/webhooks/{webhook_id}/recover",
    operation_id="recover_webhook_deliveries",
    status_code=202,
    response_model=Recovered,
    responses=ONE_WEBHOOK_PROBLEMS,
    summary="Re-queue every failed delivery since a time",
)
async def recover_webhook_deliveries(
    webhook_id: WebhookId,
    since: Annotated[Instant, Query(description="RFC 3339, with an offset.")],
    store: StoreDep,
    webhooks: WebhooksDep,
    _key: AdminKey,
) -> Recovered:
    """Every delivery of this subscription that failed for good since `since` is queued
    again, due now, with its original `webhook-id` (receivers deduplicate on it)."""
    async with writing(store.engine) as conn:  # an unknown id raises here: nothing is written
        await subscription(conn, webhook_id)
        count = await delivery_log.recover_failed(conn, webhook_id, since, now())
    webhooks.wake()
    return Recovered(requeued=count)
