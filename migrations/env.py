"""Alembic's entry point. Runs the migrations over an async engine for the configured URL."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from events.log.tables import metadata

config = context.config
target_metadata = metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from app.settings import Settings

    return Settings().database_url


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    role = _service_role()
    if role and connection.dialect.name == "postgresql":
        # After every upgrade, so the tables later migrations add are granted too (0006).
        connection.execute(text("SELECT ceasefire_grant_service(:role)"), {"role": role})


def _service_role() -> str | None:
    """The role the service runs as, when it is not the one migrating (PostgreSQL): from
    ``app.services.schema_migrations.upgrade`` or ``alembic -x service_role=NAME upgrade head``."""
    role = config.attributes.get("service_role") or context.get_x_argument(as_dictionary=True).get(
        "service_role"
    )
    return str(role) if role else None


async def _run_async() -> None:
    engine = create_async_engine(_url(), poolclass=NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_async())
