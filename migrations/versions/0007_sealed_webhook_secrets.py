"""Webhook secrets sealed at rest: room for a Fernet token in the secret columns.

With ``CEASEFIRE_SECRET_KEY`` set, ``webhook_subscriptions.secret`` and ``previous_secret``
hold Fernet tokens (164 characters) instead of ``whsec_…`` secrets (50); see
``app/webhooks/sealing.py``. PostgreSQL enforces VARCHAR(64), so the columns become TEXT.
SQLite enforces no VARCHAR length, and changing a type there means rebuilding the table, whose
DROP would cascade to every delivery (foreign keys are on): nothing to do there.

Existing secrets stay as they are (clear); ``ceasefire webhooks reseal`` seals them.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    for column in ("secret", "previous_secret"):
        op.alter_column(
            "webhook_subscriptions", column, type_=sa.Text(), existing_type=sa.String(64)
        )


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    for column in ("secret", "previous_secret"):  # fails while a sealed secret is stored
        op.alter_column(
            "webhook_subscriptions", column, type_=sa.String(64), existing_type=sa.Text()
        )
