"""The webhook tables, described to SQLAlchemy (migration 0004 creates them).

- ``webhook_subscriptions``: an endpoint, its filters and secrets. ``from_position`` is where
  its events start: the log's head (or the dispatcher's checkpoint, if later) at its creation.
- ``webhook_deliveries``: one row per (subscription, event), made by the dispatcher; unique on
  that pair, and its id is the stable ``webhook-id`` every attempt carries. ``lease_until`` and
  ``lease_token`` mark a claim by a worker.
- ``webhook_attempts``: one row per attempt: when, status code, latency, error, response.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
)

from events.log.tables import UtcDateTime, metadata

__all__ = ["attempts", "deliveries", "subscriptions"]

#: A secret as stored: ``whsec_…`` (50 characters) or a Fernet token of it (164). Migration
#: 0007 widens PostgreSQL's VARCHAR(64) to TEXT. SQLite does not enforce a VARCHAR's length,
#: and changing a column's type there means rebuilding the table, whose DROP would cascade
#: to the deliveries: it keeps the declaration it was created with.
_SECRET = String(64).with_variant(Text(), "postgresql")

subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("url", Text, nullable=False),
    Column("event_types", Text, nullable=False),
    Column("conflicts", Text, nullable=True),
    Column("description", Text, nullable=True),
    Column("enabled", Boolean, nullable=False),
    Column("disabled_reason", Text, nullable=True),
    Column("disabled_at", UtcDateTime, nullable=True),
    Column("secret", _SECRET, nullable=False),
    Column("previous_secret", _SECRET, nullable=True),
    Column("previous_secret_expires_at", UtcDateTime, nullable=True),
    Column("from_position", BigInteger, nullable=False),
    Column("failing_since", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column(
        "subscription_id",
        Uuid,
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("event_id", Uuid, nullable=False),
    Column("position", BigInteger, nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("conflict", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=True),
    Column("lease_until", UtcDateTime, nullable=True),
    Column("lease_token", Uuid, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_attempt_at", UtcDateTime, nullable=True),
    Column("completed_at", UtcDateTime, nullable=True),
    UniqueConstraint("subscription_id", "event_id", name="uq_webhook_deliveries_event"),
)
Index(
    "ix_webhook_deliveries_due",
    deliveries.c.next_attempt_at,
    postgresql_where=deliveries.c.status == "pending",
    sqlite_where=deliveries.c.status == "pending",
)
Index("ix_webhook_deliveries_subscription", deliveries.c.subscription_id, deliveries.c.position)

attempts = Table(
    "webhook_attempts",
    metadata,
    Column(
        "delivery_id",
        Uuid,
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("number", Integer, primary_key=True),
    Column("started_at", UtcDateTime, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("latency_ms", Float, nullable=True),
    Column("error", Text, nullable=True),
    Column("response_body", Text, nullable=True),
    Column("worker", String(128), nullable=False),
)
