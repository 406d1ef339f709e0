"""``/v1/webhooks``: subscriptions, their secrets, pings and the delivery log (admin key).

A subscription's signing secret appears in full twice only: in the answer to its creation and
in the answer to a rotation. Nothing else returns it, and no log line contains it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, Body, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool
from pydantic.json_schema import SkipJsonSchema

from app.deps import AdminKey, JsonContent, SettingsDep, StoreDep
from app.openapi import links
from app.problems import ProblemError, problem_responses
from app.settings import Settings
from app.webhooks import deliveries as delivery_log
from app.webhooks import store as webhook_store
from app.webhooks.cloudevents import ping_body
from app.webhooks.deliveries import AttemptRecord, DeliveryRecord
from app.webhooks.sealing import SecretBox, SecretKeyError
from app.webhooks.ssrf import AddressPolicy, UnsafeUrlError, check_url
from app.webhooks.store import DeliveryStatus, Subscription, write_transaction
from app.webhooks.worker import Webhooks, message_id
from events.store import storage_errors
from events.types import EventType
from events.values import MAX_SAFE_INTEGER, NO_NUL, ConflictSlug, Instant
from projections.freshness import snapshot

__all__ = ["router"]

router = APIRouter(tags=["webhooks"])

#: Every webhook route's problems: the admin key, a bad id or parameter, the database.
_PROBLEMS = problem_responses(401, 403, 422, 503)
_UNKNOWN = {404: "No webhook of this id (`/problems/unknown-webhook`)."}
_ONE = _PROBLEMS | problem_responses(specific=_UNKNOWN)
_UNSAFE_URL = (
    "The request does not fit the schema (`/problems/validation-error`), or the URL may not be "
    "called (`/problems/unsafe-webhook-url`)."
)
_BODY = problem_responses(400, 413, 415)
_CREATE = _PROBLEMS | _BODY | problem_responses(specific={422: _UNSAFE_URL})
_UPDATE = _ONE | _BODY | problem_responses(specific={422: _UNSAFE_URL})
_DELIVERY = _PROBLEMS | problem_responses(
    specific={404: "No such webhook, or no such delivery of it (`/problems/unknown-delivery`)."}
)

Url = Annotated[
    str,
    Field(
        min_length=1,
        max_length=2000,
        pattern=NO_NUL,
        description="Where deliveries are POSTed: https (http only where the server allows it), "
        "to a public address (or one of CEASEFIRE_WEBHOOK_ALLOWED_SUBNETS).",
        examples=["https://example.org/hook"],
    ),
]
Description = Annotated[
    str, Field(max_length=500, pattern=NO_NUL, description="A note for people.")
]
EventTypes = Annotated[
    list[EventType],
    Field(min_length=1, description="Event types to deliver; any type of the log."),
]
Conflicts = Annotated[
    list[ConflictSlug],
    Field(min_length=1, description="Deliver only these conflicts' events."),
]


class WebhookIn(BaseModel):
    """A new subscription: where to deliver, which events."""

    model_config = ConfigDict(extra="forbid")

    url: Url
    event_types: EventTypes = ["violation.alleged"]
    conflicts: Conflicts | None = Field(default=None, description="Default: all conflicts.")
    description: Description | None = None


WebhookId = Annotated[UUID, Path(description="The subscription's id.")]
DeliveryId = Annotated[UUID, Path(description="The delivery's id.")]


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


class WebhookPatch(BaseModel):
    """Only the fields given change. ``enabled: true`` re-enables a disabled endpoint and
    makes its pending deliveries due now; ``conflicts: null`` removes the filter and
    ``description: null`` the note. ``url``, ``event_types`` and ``enabled`` may not be null."""

    model_config = ConfigDict(extra="forbid")

    # None is their "absent": the schema leaves it out, and update_webhook refuses a null.
    url: Url | SkipJsonSchema[None] = Field(default=None, json_schema_extra=_no_default)
    event_types: EventTypes | SkipJsonSchema[None] = Field(
        default=None, json_schema_extra=_no_default
    )
    conflicts: Conflicts | None = Field(default=None, description="null: all conflicts.")
    description: Description | None = None
    enabled: StrictBool | SkipJsonSchema[None] = Field(
        default=None, description="false disables; true re-enables.", json_schema_extra=_no_default
    )


class Webhook(BaseModel):
    """A subscription (its secret is never shown again after creation)."""

    id: UUID
    url: str
    event_types: list[str]
    conflicts: list[str] | None
    description: str | None
    enabled: bool
    disabled_reason: str | None = Field(description="Why the endpoint was disabled, if it is.")
    disabled_at: datetime | None
    previous_secret_expires_at: datetime | None = Field(
        description="Until when the secret before the last rotation still signs deliveries."
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, sub: Subscription) -> Webhook:
        return cls(
            id=sub.id,
            url=sub.url,
            event_types=list(sub.event_types),
            conflicts=None if sub.conflicts is None else list(sub.conflicts),
            description=sub.description,
            enabled=sub.enabled,
            disabled_reason=sub.disabled_reason,
            disabled_at=sub.disabled_at,
            previous_secret_expires_at=sub.previous_secret_expires_at,
            created_at=sub.created_at,
            updated_at=sub.updated_at,
        )


class WebhookCreated(Webhook):
    """The new subscription, with its signing secret (shown this once)."""

    secret: str = Field(description="The signing secret (whsec_…): shown here only, once.")


class WebhookList(BaseModel):
    """Every subscription."""

    webhooks: list[Webhook]


class SecretRotated(BaseModel):
    """The new signing secret (shown this once)."""

    id: UUID
    secret: str = Field(description="The new signing secret: shown here only, once.")
    previous_secret_expires_at: datetime


class PingResult(BaseModel):
    """The outcome of one signed test delivery."""

    delivered: bool = Field(description="True when the endpoint answered 2xx in time.")
    message_id: str
    status_code: int | None
    latency_ms: float
    error: str | None


class Attempt(BaseModel):
    """One attempt to deliver."""

    number: int
    at: datetime
    status_code: int | None
    latency_ms: float | None
    error: str | None
    response: str | None = Field(description="The start of the endpoint's answer (64 KiB at most).")

    @classmethod
    def of(cls, attempt: AttemptRecord) -> Attempt:
        return cls(
            number=attempt.number,
            at=attempt.started_at,
            status_code=attempt.status_code,
            latency_ms=attempt.latency_ms,
            error=attempt.error,
            response=attempt.response_body,
        )


class Delivery(BaseModel):
    """One event's delivery to one subscription, with its attempts."""

    id: UUID
    message_id: str = Field(description="The webhook-id header of every attempt.")
    event_id: UUID
    event_type: str
    conflict: str
    position: int
    status: DeliveryStatus
    attempts: list[Attempt]
    next_attempt_at: datetime | None
    created_at: datetime
    completed_at: datetime | None

    @classmethod
    def of(cls, delivery: DeliveryRecord) -> Delivery:
        return cls(
            id=delivery.id,
            message_id=message_id(delivery.id),
            event_id=delivery.event_id,
            event_type=delivery.event_type,
            conflict=delivery.conflict,
            position=delivery.position,
            status=delivery.status,
            attempts=[Attempt.of(a) for a in delivery.attempts],
            next_attempt_at=delivery.next_attempt_at,
            created_at=delivery.created_at,
            completed_at=delivery.completed_at,
        )


class DeliveryPage(BaseModel):
    """A page of a subscription's deliveries."""

    deliveries: list[Delivery]
    next_before: int | None = Field(
        description="Pass as `before` for the next (older) page; null on the last page."
    )


class Recovered(BaseModel):
    """How many failed deliveries were queued again."""

    requeued: int


def _webhooks(request: Request) -> Webhooks:
    webhooks: Webhooks = request.app.state.webhooks
    return webhooks


def _now() -> datetime:
    return datetime.now(UTC)


async def _check_url(url: str, settings: Settings) -> None:
    try:
        await check_url(
            url,
            AddressPolicy(settings.webhook_allowed_subnets, settings.webhook_public_addresses),
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


async def _subscription(store: StoreDep, webhook_id: UUID) -> Subscription:
    with storage_errors():
        async with store.engine.connect() as conn:
            sub = await webhook_store.get_subscription(conn, webhook_id)
    if sub is None:
        raise _not_found(webhook_id)
    return sub


@router.post(
    "/v1/webhooks",
    operation_id="create_webhook",
    status_code=201,
    response_model=WebhookCreated,
    responses=_CREATE
    | {
        201: {
            "description": "Subscribed; the secret is in this answer only.",
            "links": links(
                "webhook_id",
                "$response.body#/id",
                "get_webhook",
                "update_webhook",
                "delete_webhook",
                "rotate_webhook_secret",
                "ping_webhook",
                "list_webhook_deliveries",
                "recover_webhook_deliveries",
            ),
        }
    },
    summary="Subscribe an endpoint",
)
async def create_webhook(
    body: Annotated[WebhookIn, Body()],
    store: StoreDep,
    settings: SettingsDep,
    _key: AdminKey,
    _json: JsonContent,
) -> WebhookCreated:
    """The endpoint receives the events recorded from now on that match its filters, signed
    with the secret in this answer (the only time it is shown)."""
    await _check_url(body.url, settings)
    with storage_errors():
        async with write_transaction(store.engine) as conn:
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
async def list_webhooks(store: StoreDep, _key: AdminKey) -> WebhookList:
    """Every subscription with its filters and state, oldest first. Secrets are not shown."""
    with storage_errors():
        async with store.engine.connect() as conn:
            subs = await webhook_store.list_subscriptions(conn)
    return WebhookList(webhooks=[Webhook.of(s) for s in subs])


@router.get(
    "/v1/webhooks/{webhook_id}",
    operation_id="get_webhook",
    response_model=Webhook,
    responses=_ONE,
    summary="One subscription",
)
async def get_webhook(webhook_id: WebhookId, store: StoreDep, _key: AdminKey) -> Webhook:
    """One subscription with its filters and state. Its secret is not shown."""
    return Webhook.of(await _subscription(store, webhook_id))


@router.patch(
    "/v1/webhooks/{webhook_id}",
    operation_id="update_webhook",
    response_model=Webhook,
    responses=_UPDATE,
    summary="Change a subscription's URL or filters, disable or re-enable it",
)
async def update_webhook(
    webhook_id: WebhookId,
    body: Annotated[WebhookPatch, Body()],
    store: StoreDep,
    settings: SettingsDep,
    request: Request,
    _key: AdminKey,
    _json: JsonContent,
) -> Webhook:
    """Only the fields sent change. A new URL is checked as at creation. `enabled: true`
    re-enables a disabled endpoint and makes its pending deliveries due now."""
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
    with storage_errors():
        async with write_transaction(store.engine) as conn:
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
    responses=_ONE,
    summary="Delete a subscription and its delivery log",
)
async def delete_webhook(webhook_id: WebhookId, store: StoreDep, _key: AdminKey) -> Response:
    """The subscription and its delivery log are deleted; nothing more is sent to it."""
    with storage_errors():
        async with write_transaction(store.engine) as conn:
            deleted = await webhook_store.delete_subscription(conn, webhook_id)
    if not deleted:
        raise _not_found(webhook_id)
    return Response(status_code=204)


@router.post(
    "/v1/webhooks/{webhook_id}/rotate-secret",
    operation_id="rotate_webhook_secret",
    response_model=SecretRotated,
    responses=_ONE,
    summary="Replace the signing secret",
)
async def rotate_webhook_secret(
    webhook_id: WebhookId, store: StoreDep, settings: SettingsDep, _key: AdminKey
) -> SecretRotated:
    """A new secret, shown once. The previous one stays valid for the overlap (24 hours by
    default): meanwhile each delivery carries two signatures, one per secret."""
    with storage_errors():
        async with write_transaction(store.engine) as conn:
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
    responses=_ONE,
    summary="Send a test event now",
)
async def ping_webhook(
    webhook_id: WebhookId,
    store: StoreDep,
    settings: SettingsDep,
    request: Request,
    _key: AdminKey,
) -> PingResult:
    """Sends a signed ``webhook.ping`` CloudEvent at once (even to a disabled endpoint) and
    answers with the outcome. Pings are not stored and not retried."""
    sub = await _subscription(store, webhook_id)
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
    responses=_ONE
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
    store: StoreDep,
    _key: AdminKey,
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
    await _subscription(store, webhook_id)
    with storage_errors():
        async with snapshot(store.engine) as conn:  # deliveries and attempts seen together
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
    webhook_id: WebhookId, delivery_id: DeliveryId, store: StoreDep, _key: AdminKey
) -> Delivery:
    """One delivery: its event, its state, every attempt with the endpoint's answer."""
    with storage_errors():
        async with snapshot(store.engine) as conn:  # the delivery and its attempts together
            delivery = await delivery_log.get_delivery(conn, webhook_id, delivery_id)
    if delivery is None:
        raise ProblemError(404, "unknown-delivery", f"no delivery {delivery_id} of {webhook_id}")
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
    request: Request,
    _key: AdminKey,
) -> Delivery:
    """Queues one more attempt, due now, with the same ``webhook-id``. A disabled endpoint's
    delivery waits until the endpoint is re-enabled."""
    now = _now()
    with storage_errors():
        async with write_transaction(store.engine) as conn:
            found = await delivery_log.requeue_delivery(conn, webhook_id, delivery_id, now)
            delivery = await delivery_log.get_delivery(conn, webhook_id, delivery_id)
    if not found or delivery is None:
        raise ProblemError(404, "unknown-delivery", f"no delivery {delivery_id} of {webhook_id}")
    _webhooks(request).wake()
    return Delivery.of(delivery)


@router.post(
    "/v1/webhooks/{webhook_id}/recover",
    operation_id="recover_webhook_deliveries",
    status_code=202,
    response_model=Recovered,
    responses=_ONE,
    summary="Re-queue every failed delivery since a time",
)
async def recover_webhook_deliveries(
    webhook_id: WebhookId,
    since: Annotated[Instant, Query(description="RFC 3339, with an offset.")],
    store: StoreDep,
    request: Request,
    _key: AdminKey,
) -> Recovered:
    """Every delivery of this subscription that failed for good since `since` is queued
    again, due now, with its original `webhook-id` (receivers deduplicate on it)."""
    await _subscription(store, webhook_id)
    with storage_errors():
        async with write_transaction(store.engine) as conn:
            count = await delivery_log.recover_failed(conn, webhook_id, since, _now())
    _webhooks(request).wake()
    return Recovered(requeued=count)
