"""The bodies of ``/v1/webhooks``: a subscription as an admin sends it (new, or a patch) and
as the service shows it, its deliveries with their attempts, the outcome of a ping.

A subscription's secret is a member of two answers only (``WebhookCreated``, ``SecretRotated``);
``Webhook`` itself has none, so no other answer can carry it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictBool
from pydantic.json_schema import SkipJsonSchema

from app.webhooks.deliveries import AttemptRecord, DeliveryRecord
from app.webhooks.subscriptions import DeliveryStatus, Subscription
from app.webhooks.worker import message_id
from events.log.tables import record_of
from events.model.types import EventType
from events.model.values import NO_NUL, ConflictSlug

__all__ = [
    "Attempt",
    "Delivery",
    "DeliveryPage",
    "PingResult",
    "Recovered",
    "SecretRotated",
    "Webhook",
    "WebhookCreated",
    "WebhookIn",
    "WebhookList",
    "WebhookPatch",
]


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
        return cls.model_validate(sub, from_attributes=True)


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
        return record_of(cls, attempt, at=attempt.started_at, response=attempt.response_body)


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
        shown = {name: getattr(delivery, name) for name in _AS_RECORDED}
        attempts = [Attempt.of(a) for a in delivery.attempts]
        return cls(**shown, message_id=message_id(delivery.id), attempts=attempts)


#: The fields of a delivery's view that its record holds under the same name.
_AS_RECORDED = tuple(
    name for name in Delivery.model_fields if name not in {"message_id", "attempts"}
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
