"""Migration 0002 on every database: down and up again, and the projection rows of
``violation.alleged`` schema version 1 given the casualty range version 2 folds to."""

from __future__ import annotations

import asyncio

from alembic import command
from sqlalchemy import text

from app.services.schema_migrations import alembic_config, upgrade
from events.log.database import create_engine

ROW = (
    "INSERT INTO proj_allegations (event_id, conflict, version, agreement_id, "
    "agreement_implicit, alleged_by, accused, incidents, occurred_at, casualties_claimed, "
    "source, retracted, known_from) VALUES (:id, 'old', :v, 'cf-1', false, 'Armenia', "
    "'Azerbaijan', 1, :at, :claimed, '{}', false, :at)"
)


async def _sql(url: str, statement: str, **params: object) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(text(statement), params)
            return [tuple(r) for r in result] if result.returns_rows else []
    finally:
        await engine.dispose()


def test_0002_down_and_up_converts_version_1_casualties(fresh_database_url: str) -> None:
    from datetime import UTC, datetime
    from uuid import uuid4

    url = fresh_database_url
    command.downgrade(alembic_config(url), "0001")
    at = datetime(2022, 9, 20, tzinfo=UTC)
    if url.startswith("sqlite"):
        at = at.replace(tzinfo=None)  # type: ignore[assignment]
    for version, claimed in enumerate(["5", None, '{"low":1,"best":2,"high":3}'], start=1):
        event_id = uuid4().hex if url.startswith("sqlite") else uuid4()
        asyncio.run(_sql(url, ROW, id=event_id, v=version, at=at, claimed=claimed))
    upgrade(url)
    rows = asyncio.run(
        _sql(url, "SELECT casualties_claimed FROM proj_allegations ORDER BY version")
    )
    assert [r[0] for r in rows] == [
        '{"low":5,"best":5,"high":5}',
        None,
        '{"low":1,"best":2,"high":3}',
    ]
