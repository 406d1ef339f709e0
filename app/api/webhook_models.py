"""The request and answer bodies of ``/v1/webhooks`` (``app.api.webhooks``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.webhooks.store import AttemptRecord, DeliveryRecord, DeliveryStatus, Subscription
from app.webhooks.worker import message_id
from events.types import EVENT_TYPES, ConflictSlug

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


Url = Annotated[str, Field(min_length=1, max_length=2000, examples=["https://example.org/hook"])]
Description = Annotated[str, Field(max_length=500)]


def _known_types(value: list[str] | None) -> list[str] | None:
    if value is not None:
        unknown = sorted(set(value) - set(EVENT_TYPES))
        if unknown:
            raise ValueError(f"unknown event types {unknown}; known: {list(EVENT_TYPES)}")
    return value


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url
    event_types: list[str] = Field(
        default=["violation.alleged"],
        min_length=1,
        description="Event types to deliver; any type of the log may be subscribed to.",
    )
    conflicts: list[ConflictSlug] | None = Field(
        default=None,
        min_length=1,
        description="Deliver only these conflicts' events (default: all).",
    )
    description: Description | None = None

    _types = field_validator("event_types")(_known_types)


class WebhookPatch(BaseModel):
    """Only the fields given change. ``enabled: true`` re-enables a disabled endpoint and
    makes its pending deliveries due now; ``conflicts: null`` removes the filter."""

    model_config = ConfigDict(extra="forbid")

    url: Url | None = None
    event_types: list[str] | None = Field(default=None, min_length=1)
    conflicts: list[ConflictSlug] | None = Field(default=None, min_length=1)
    description: Description | None = None
    enabled: bool | None = None

    _types = field_validator("event_types")(_known_types)


class Webhook(BaseModel):
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
    secret: str = Field(description="The signing secret (whsec_…): shown here only, once.")


class WebhookList(BaseModel):
    webhooks: list[Webhook]


class SecretRotated(BaseModel):
    id: UUID
    secret: str = Field(description="The new signing secret: shown here only, once.")
    previous_secret_expires_at: datetime


class PingResult(BaseModel):
    delivered: bool = Field(description="True when the endpoint answered 2xx in time.")
    message_id: str
    status_code: int | None
    latency_ms: float
    error: str | None


class Attempt(BaseModel):
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
    deliveries: list[Delivery]
    next_before: int | None = Field(
        description="Pass as `before` for the next (older) page; null on the last page."
    )


class Recovered(BaseModel):
    requeued: int
