"""Actors: every name a conflict's events give resolves to one actor (``actor.registered``).

- ``proj_actors`` (new): one row version per actor of a conflict (its canonical name, kind,
  aliases, since when it appears), bitemporal like the other projection tables.
- ``proj_missions.organizations``: the other organizations running a mission (a JSON list).

The names already in a log become actors here, as the fold makes them
(``events.model.actors``, ``events.model.evolve``): the parties, mediators and declarers of its
agreements and declarations and the organizations of its missions, in log order, each one
actor whatever its case or accents, since the earliest occurred_at that names it. (No
``actor.registered`` can be in a log older than this migration.) The log is not touched: the
events keep the names they were recorded with.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "proj_actors",
        sa.Column("conflict", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=True),
        sa.Column("aliases", sa.Text, nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("registered", sa.Boolean, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("event_id", sa.Uuid, nullable=False),
        sa.Column("known_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("known_until", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_proj_actors_key", "proj_actors", ["conflict", "name"])
    with op.batch_alter_table("proj_missions") as batch:
        batch.add_column(sa.Column("organizations", sa.Text, nullable=True))
    _existing_actors()


def _key(name: str) -> str:
    """``events.model.actors.name_key``, frozen here as this migration applies it."""
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _names(event_type: str, data: dict[str, Any]) -> list[str]:
    if event_type == "agreement.signed":
        return [*data.get("parties", ()), *data.get("mediators", ())]
    if event_type == "ceasefire.declared":
        return [data["declared_by"], *data.get("toward", ())]
    if event_type == "mission.dispatched":
        return [data["organization"], *(data.get("organizations") or ())]
    return []


def _existing_actors() -> None:
    """Fold the names of the log's agreements, declarations and missions (and of corrections
    of them, as of the corrected event's occurred_at) into actor row versions."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT id, conflict, type, version, occurred_at, recorded_at, data FROM events "
            "WHERE type IN ('agreement.signed', 'ceasefire.declared', 'mission.dispatched', "
            "'event.corrected') ORDER BY position"
        )
    ).all()
    occurred: dict[UUID, Any] = {}  # event id -> occurred_at, for corrections
    # conflict -> key -> the actor's current row (a dict), in the order made
    found: dict[str, dict[str, dict[str, Any]]] = {}
    versions: list[dict[str, Any]] = []
    for event_id, conflict, event_type, version, occurred_at, recorded_at, data in rows:
        payload = json.loads(data)
        occurred[UUID(str(event_id))] = occurred_at  # SQLite gives the id as 32 hex digits
        at = occurred_at
        if event_type == "event.corrected":
            at = occurred.get(UUID(payload["event_id"]))
            if at is None:
                continue
            names = [
                n
                for n in _names(payload["event_type"], payload["data"])
                if payload["event_type"] != "agreement.signed"
                or n in payload["data"].get("mediators", ())
            ]
        else:
            names = _names(event_type, payload)
        actors = found.setdefault(conflict, {})
        for name in names:
            current = actors.get(_key(name))
            if current is not None and current["since"] <= at:
                continue
            if current is not None:
                current["known_until"] = recorded_at
            row = {
                "conflict": conflict,
                "name": name if current is None else current["name"],
                "kind": None,
                "aliases": "[]",
                "since": at,
                "registered": False,
                "version": version,
                "event_id": UUID(str(event_id)),
                "known_from": recorded_at,
                "known_until": None,
            }
            actors[_key(name)] = row
            versions.append(row)
    if versions:
        table = sa.table(
            "proj_actors",
            sa.column("conflict"),
            sa.column("name"),
            sa.column("kind"),
            sa.column("aliases"),
            sa.column("since"),
            sa.column("registered", sa.Boolean),
            sa.column("version"),
            sa.column("event_id", sa.Uuid),
            sa.column("known_from"),
            sa.column("known_until"),
        )
        bind.execute(table.insert(), versions)


def downgrade() -> None:
    with op.batch_alter_table("proj_missions") as batch:
        batch.drop_column("organizations")
    op.drop_table("proj_actors")
