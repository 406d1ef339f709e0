"""``/v1/webhooks``: subscriptions, their secrets, pings and the delivery log (admin key).

A subscription's signing secret appears in full twice only: in the answer to its creation and
in the answer to a rotation. Nothing else returns it, and no log line contains it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, Body, Query, Request, Response
from pydantic import AwareDatetime
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api.webhook_models import (
    Delivery,
    DeliveryPage,
    PingResult,
    Recovered,
    SecretRotated,
    Webhook,
    WebhookCreated,
    WebhookIn,
    WebhookList,
    WebhookPatch,
)
from app.deps import AdminKey, ConnDep, SettingsDep, StoreDep
from app.problems import Problem, ProblemError
from app.settings import Settings
from app.webhooks import store as webhook_store
from app.webhooks.cloudevents import ping_body
from app.webhooks.sealing import SecretBox, SecretKeyError
from app.webhooks.ssrf import AddressPolicy, UnsafeUrlError, check_url
from app.webhooks.store import Subscription, write_transaction
from app.webhooks.worker import Webhooks, message_id
from events.store import EventStore, storage_errors

__all__ = ["router"]

router = APIRouter(tags=["webhooks"])

_PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "content": {"application/problem+json": {}}}
    for code in (400, 401, 403, 404, 413, 422, 503)
}


@asynccontextmanager
async def _writing(store: EventStore) -> AsyncIterator[AsyncConnection]:
    """One write transaction of the webhook tables, with connection failures answered 503."""
    with storage_errors():
        async with write_transaction(store.engine) as conn:
            yield conn


def _webhooks(request: Request) -> Webhooks:
    webhooks: Webhooks = request.app.state.webhooks
    return webhooks


def _now() -> datetime:
    return datetime.now(UTC)


async def _check_url(url: str, settings: Settings) -> None:
    try:
        await check_url(
            url,
            AddressPolicy(settings.webhook_allowed_subnets),
            allow_http=settings.webhook_allow_http,
        )
    except UnsafeUrlError as error:
        raise ProblemError(422, "unsafe-webhook-url", f"the URL is refused: {error}") from None


def _open(box: SecretBox, stored: str) -> str:
    try:
        return box.open(stored)
    except SecretKeyError as error:  # not for a secret sealed a moment ago by the same box
        raise ProblemError(503, "secret-key-unavailable", str(error)) from None


def _not_found(webhook_id: UUID) -> ProblemError:
    return ProblemError(404, "unknown-webhook", f"no webhook {webhook_id}")


async def _subscription(conn: AsyncConnection, webhook_id: UUID) -> Subscription:
    sub = await webhook_store.get_subscription(conn, webhook_id)
    if sub is None:
        raise _not_found(webhook_id)
    return sub


@router.post(
    "/v1/webhooks",
    operation_id="create_webhook",
    status_code=201,
    response_model=WebhookCreated,
    responses=_PROBLEMS,
    summary="Subscribe an endpoint",
)
async def create_webhook(
    body: Annotated[WebhookIn, Body()], store: StoreDep, settings: SettingsDep, _key: AdminKey
) -> WebhookCreated:
    """The endpoint receives the events recorded from now on that match its filters, signed
    with the secret in this answer (the only time it is shown)."""
    await _check_url(body.url, settings)
    async with _writing(store) as conn:
        sub = await webhook_store.create_subscription(
            conn,
            url=body.url,
            event_types=body.event_types,
            conflicts=body.conflicts,
            description=body.description,
            now=_now(),
            box=settings.secret_box(),
        )
    return WebhookCreated(
        **Webhook.of(sub).model_dump(), secret=_open(settings.secret_box(), sub.secret)
    )


@router.get(
    "/v1/webhooks",
    operation_id="list_webhooks",
    response_model=WebhookList,
    responses=_PROBLEMS,
    summary="List subscriptions",
)
async def list_webhooks(conn: ConnDep, _key: AdminKey) -> WebhookList:
    subs = await webhook_store.list_subscriptions(conn)
    return WebhookList(webhooks=[Webhook.of(s) for s in subs])


@router.get(
    "/v1/webhooks/{webhook_id}",
    operation_id="get_webhook",
    response_model=Webhook,
    responses=_PROBLEMS,
    summary="One subscription",
)
async def get_webhook(webhook_id: UUID, conn: ConnDep, _key: AdminKey) -> Webhook:
    return Webhook.of(await _subscription(conn, webhook_id))


@router.patch(
    "/v1/webhooks/{webhook_id}",
    operation_id="update_webhook",
    response_model=Webhook,
    responses=_PROBLEMS,
    summary="Change a subscription's URL or filters, disable or re-enable it",
)
async def update_webhook(
    webhook_id: UUID,
    body: Annotated[WebhookPatch, Body()],
    store: StoreDep,
    settings: SettingsDep,
    request: Request,
    _key: AdminKey,
) -> Webhook:
    changes = body.model_dump(exclude_unset=True)
    nulls = [n for n in ("url", "event_types", "enabled") if n in changes and changes[n] is None]
    if nulls:
        raise ProblemError(
            422,
            "validation-error",
            "the request is not valid",
            errors=[{"loc": ["body", n], "msg": "may not be null", "type": "null"} for n in nulls],
        )
    if "url" in changes:
        await _check_url(changes["url"], settings)
    async with _writing(store) as conn:
        sub = await webhook_store.update_subscription(conn, webhook_id, changes, _now())
    if sub is None:
        raise _not_found(webhook_id)
    if changes.get("enabled"):
        _webhooks(request).wake()
    return Webhook.of(sub)


@router.delete(
    "/v1/webhooks/{webhook_id}",
    operation_id="delete_webhook",
    status_code=204,
    response_class=Response,
    responses=_PROBLEMS,
    summary="Delete a subscription and its delivery log",
)
async def delete_webhook(webhook_id: UUID, store: StoreDep, _key: AdminKey) -> Response:
    async with _writing(store) as conn:
        deleted = await webhook_store.delete_subscription(conn, webhook_id)
    if not deleted:
        raise _not_found(webhook_id)
    return Response(status_code=204)


@router.post(
    "/v1/webhooks/{webhook_id}/rotate-secret",
    operation_id="rotate_webhook_secret",
    response_model=SecretRotated,
    responses=_PROBLEMS,
    summary="Replace the signing secret",
)
async def rotate_webhook_secret(
    webhook_id: UUID, store: StoreDep, settings: SettingsDep, _key: AdminKey
) -> SecretRotated:
    """A new secret, shown once. The previous one stays valid for the overlap (24 hours by
    default): meanwhile each delivery carries two signatures, one per secret."""
    async with _writing(store) as conn:
        sub = await webhook_store.rotate_secret(
            conn, webhook_id, _now(), settings.webhook_secret_overlap, settings.secret_box()
        )
    if sub is None or sub.previous_secret_expires_at is None:
        raise _not_found(webhook_id)
    return SecretRotated(
        id=sub.id,
        secret=_open(settings.secret_box(), sub.secret),
        previous_secret_expires_at=sub.previous_secret_expires_at,
    )


@router.post(
    "/v1/webhooks/{webhook_id}/ping",
    operation_id="ping_webhook",
    response_model=PingResult,
    responses=_PROBLEMS,
    summary="Send a test event now",
)
async def ping_webhook(
    webhook_id: UUID, conn: ConnDep, settings: SettingsDep, request: Request, _key: AdminKey
) -> PingResult:
    """Sends a signed ``webhook.ping`` CloudEvent at once (even to a disabled endpoint) and
    answers with the outcome. Pings are not stored and not retried."""
    sub = await _subscription(conn, webhook_id)
    ping_id = message_id(uuid4())
    try:
        secrets = sub.live_secrets(_now(), settings.secret_box())
    except SecretKeyError as error:
        raise ProblemError(503, "secret-key-unavailable", str(error)) from None
    outcome = await _webhooks(request).sender.send(sub.url, ping_id, ping_body(sub.id), secrets)
    return PingResult(
        delivered=outcome.ok,
        message_id=ping_id,
        status_code=outcome.status_code,
        latency_ms=outcome.latency_ms,
        error=outcome.error,
    )


@router.get(
    "/v1/webhooks/{webhook_id}/deliveries",
    operation_id="list_webhook_deliveries",
    response_model=DeliveryPage,
    responses=_PROBLEMS,
    summary="The delivery log, newest event first",
)
async def list_webhook_deliveries(
    webhook_id: UUID,
    conn: ConnDep,
    _key: AdminKey,
    status: Annotated[Literal["pending", "succeeded", "failed"] | None, Query()] = None,
    before: Annotated[
        int | None, Query(ge=1, le=2**63 - 1, description="Deliveries of events before this.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> DeliveryPage:
    await _subscription(conn, webhook_id)
    page = await webhook_store.list_deliveries(
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
    responses=_PROBLEMS,
    summary="One delivery with its attempts",
)
async def get_webhook_delivery(
    webhook_id: UUID, delivery_id: UUID, conn: ConnDep, _key: AdminKey
) -> Delivery:
    delivery = await webhook_store.get_delivery(conn, webhook_id, delivery_id)
    if delivery is None:
        raise ProblemError(404, "unknown-delivery", f"no delivery {delivery_id} of {webhook_id}")
    return Delivery.of(delivery)


@router.post(
    "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry",
    operation_id="retry_webhook_delivery",
    status_code=202,
    response_model=Delivery,
    responses=_PROBLEMS,
    summary="Send a delivery again now",
)
async def retry_webhook_delivery(
    webhook_id: UUID, delivery_id: UUID, store: StoreDep, request: Request, _key: AdminKey
) -> Delivery:
    """Queues one more attempt, due now, with the same ``webhook-id``. A disabled endpoint's
    delivery waits until the endpoint is re-enabled."""
    now = _now()
    async with _writing(store) as conn:
        found = await webhook_store.requeue_delivery(conn, webhook_id, delivery_id, now)
        delivery = await webhook_store.get_delivery(conn, webhook_id, delivery_id)
    if not found or delivery is None:
        raise ProblemError(404, "unknown-delivery", f"no delivery {delivery_id} of {webhook_id}")
    _webhooks(request).wake()
    return Delivery.of(delivery)


@router.post(
    "/v1/webhooks/{webhook_id}/recover",
    operation_id="recover_webhook_deliveries",
    status_code=202,
    response_model=Recovered,
    responses=_PROBLEMS,
    summary="Re-queue every failed delivery since a time",
)
async def recover_webhook_deliveries(
    webhook_id: UUID,
    since: Annotated[AwareDatetime, Query(description="RFC 3339, with an offset.")],
    store: StoreDep,
    request: Request,
    _key: AdminKey,
) -> Recovered:
    async with _writing(store) as conn:
        await _subscription(conn, webhook_id)
        count = await webhook_store.recover_failed(conn, webhook_id, since, _now())
    _webhooks(request).wake()
    return Recovered(requeued=count)
