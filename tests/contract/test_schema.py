"""The tables the migrations build are the tables the code declares: columns, types,
nullability, indexes and keys, compared by alembic's own autogenerate on both databases (the
``database_url`` fixture builds its schema with ``alembic upgrade head``). A migration that
forgets a column, or a declaration that drifts from the migrations, fails here."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection

import app.services.api_keys
import app.webhooks.tables
import projections.jobs
import projections.tables
from events.log.database import create_engine
from events.log.tables import metadata

#: Importing these registers their tables in ``metadata`` (the table modules of each package).
DECLARING = (app.services.api_keys, app.webhooks.tables, projections.jobs, projections.tables)


def _differences(conn: Connection) -> list[Any]:
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def test_the_migrated_schema_is_the_declared_one(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            differences = await conn.run_sync(_differences)
    finally:
        await engine.dispose()
    assert differences == []
    assert {"events", "streams", "log_head", "proj_allegations"} <= set(metadata.tables)
