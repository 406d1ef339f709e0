"""``/v1/webhooks``: subscriptions, their secrets and pings (admin key); their delivery logs are
in ``app.api.webhook_deliveries``.

A subscription's signing secret appears in full twice only: in the answer to its creation and
in the answer to a rotation. Nothing else returns it, and no log line contains it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID, uuid4

from fastapi import APIRouter, Body, Path, Request, Response
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api.webhook_bodies import (
    PingResult,
    SecretRotated,
    Webhook,
    WebhookCreated,
    WebhookIn,
    WebhookList,
    WebhookPatch,
)
from app.deps import (
    AdminKey,
    ConnDep,
    JsonContent,
    SettingsDep,
    StoreDep,
    WebhooksDep,
    reading,
    writing,
)
from app.http.links import public_link
from app.http.openapi import links
from app.http.problems import ProblemError, problem_responses
from app.settings import Settings
from app.webhooks import subscriptions as webhook_store
from app.webhooks.cloudevents import SOURCE, ping_body
from app.webhooks.sealing import SecretBox, SecretKeyError, secret_box
from app.webhooks.ssrf import AddressPolicy, UnsafeUrlError, check_url
from app.webhooks.subscriptions import Subscription
from app.webhooks.worker import message_id

__all__ = [
    "ONE_WEBHOOK_PROBLEMS",
    "WEBHOOK_PROBLEMS",
    "WebhookId",
    "now",
    "router",
    "subscription",
]

router = APIRouter(tags=["webhooks"])

#: Every webhook route's problems: the admin key, a bad id or parameter, the database.
WEBHOOK_PROBLEMS = problem_responses(401, 403, 422, 503)
_UNKNOWN = {404: "No webhook of this id (`/problems/unknown-webhook`)."}
ONE_WEBHOOK_PROBLEMS = WEBHOOK_PROBLEMS | problem_responses(specific=_UNKNOWN)
_UNSAFE_URL = (
    "The request does not fit the schema (`/problems/validation-error`), or the URL may not be "
    "called (`/problems/unsafe-webhook-url`)."
)
_BODY = problem_responses(400, 413, 415)
_CREATE = WEBHOOK_PROBLEMS | _BODY | problem_responses(specific={422: _UNSAFE_URL})
_UPDATE = ONE_WEBHOOK_PROBLEMS | _BODY | problem_responses(specific={422: _UNSAFE_URL})

WebhookId = Annotated[UUID, Path(description="The subscription's id.")]


def now() -> datetime:
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


@contextmanager
def _secret_key_errors() -> Iterator[None]:
    """A secret the configured keys cannot open is a 503: the server's keys are wrong."""
    try:
        yield
    except SecretKeyError as error:
        raise ProblemError(503, "secret-key-unavailable", str(error)) from None


def _open(box: SecretBox, stored: str) -> str:
    with _secret_key_errors():  # not for a secret sealed a moment ago by the same box
        return box.open(stored)


def _not_found(webhook_id: UUID) -> ProblemError:
    return ProblemError(404, "unknown-webhook", f"no webhook {webhook_id}")


async def subscription(conn: AsyncConnection, webhook_id: UUID) -> Subscription:
    """The subscription of this id; ``unknown-webhook`` (404) when there is none."""
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
    webhooks: WebhooksDep,
    _key: AdminKey,
    _json: JsonContent,
) -> WebhookCreated:
    """The endpoint receives the events recorded from now on that match its filters, signed
    with the secret in this answer (the only time it is shown)."""
    await _check_url(body.url, settings)
    async with writing(store.engine) as conn:
        sub = await webhook_store.create_subscription(
            conn,
            url=body.url,
            event_types=body.event_types,
            conflicts=body.conflicts,
            description=body.description,
            now=now(),
            box=secret_box(settings),
        )
    webhooks.wake()  # a dispatcher that saw no subscription heeds appends again
    return WebhookCreated(
        **Webhook.of(sub).model_dump(), secret=_open(secret_box(settings), sub.secret)
    )


@router.get(
    "/v1/webhooks",
    operation_id="list_webhooks",
    response_model=WebhookList,
    responses=WEBHOOK_PROBLEMS,
    summary="List subscriptions",
)
async def list_webhooks(_key: AdminKey, conn: ConnDep) -> WebhookList:
    """Every subscription with its filters and state, oldest first. Secrets are not shown."""
    subs = await webhook_store.list_subscriptions(conn)
    return WebhookList(webhooks=[Webhook.of(s) for s in subs])


@router.get(
    "/v1/webhooks/{webhook_id}",
    operation_id="get_webhook",
    response_model=Webhook,
    responses=ONE_WEBHOOK_PROBLEMS,
    summary="One subscription",
)
async def get_webhook(webhook_id: WebhookId, _key: AdminKey, conn: ConnDep) -> Webhook:
    """One subscription with its filters and state. Its secret is not shown."""
    return Webhook.of(await subscription(conn, webhook_id))


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
    webhooks: WebhooksDep,
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
    async with writing(store.engine) as conn:
        sub = await webhook_store.update_subscription(conn, webhook_id, changes, now())
    if sub is None:
        raise _not_found(webhook_id)
    if changes.get("enabled"):
        webhooks.wake()
    return Webhook.of(sub)


@router.delete(
    "/v1/webhooks/{webhook_id}",
    operation_id="delete_webhook",
    status_code=204,
    response_class=Response,
    responses=ONE_WEBHOOK_PROBLEMS,
    summary="Delete a subscription and its delivery log",
)
async def delete_webhook(webhook_id: WebhookId, store: StoreDep, _key: AdminKey) -> Response:
    """The subscription and its delivery log are deleted; nothing more is sent to it."""
    async with writing(store.engine) as conn:
        deleted = await webhook_store.delete_subscription(conn, webhook_id)
    if not deleted:
        raise _not_found(webhook_id)
    return Response(status_code=204)


@router.post(
    "/v1/webhooks/{webhook_id}/rotate-secret",
    operation_id="rotate_webhook_secret",
    response_model=SecretRotated,
    responses=ONE_WEBHOOK_PROBLEMS,
    summary="Replace the signing secret",
)
async def rotate_webhook_secret(
    webhook_id: WebhookId, store: StoreDep, settings: SettingsDep, _key: AdminKey
) -> SecretRotated:
    """A new secret, shown once. The previous one stays valid for the overlap (24 hours by
    default): meanwhile each delivery carries two signatures, one per secret."""
    async with writing(store.engine) as conn:
        sub = await webhook_store.rotate_secret(
            conn, webhook_id, now(), settings.webhook_secret_overlap, secret_box(settings)
        )
    if sub is None or sub.previous_secret_expires_at is None:
        raise _not_found(webhook_id)
    return SecretRotated(
        id=sub.id,
        secret=_open(secret_box(settings), sub.secret),
        previous_secret_expires_at=sub.previous_secret_expires_at,
    )


@router.post(
    "/v1/webhooks/{webhook_id}/ping",
    operation_id="ping_webhook",
    response_model=PingResult,
    responses=ONE_WEBHOOK_PROBLEMS,
    summary="Send a test event now",
)
async def ping_webhook(
    webhook_id: WebhookId,
    store: StoreDep,
    settings: SettingsDep,
    webhooks: WebhooksDep,
    _key: AdminKey,
) -> PingResult:
    """Sends a signed ``webhook.ping`` CloudEvent at once (even to a disabled endpoint) and
    answers with the outcome. Pings are not stored and not retried."""
    # Not ConnDep: its connection would stay checked out while the endpoint is called.
    async with reading(store.engine) as conn:
        sub = await subscription(conn, webhook_id)
    ping_id = message_id(uuid4())
    with _secret_key_errors():
        secrets = sub.live_secrets(now(), secret_box(settings))
    body = ping_body(sub.id, source=public_link(settings, SOURCE))
    outcome = await webhooks.sender.send(sub.url, ping_id, body, secrets)
    return PingResult(
        delivered=outcome.ok,
        message_id=ping_id,
        status_code=outcome.status_code,
        latency_ms=outcome.latency_ms,
        error=outcome.error,
    )
