"""Running the alembic migrations from code: the CLI's ``migrate``, ``serve`` and the tests."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["alembic_config", "is_at_head", "upgrade"]

_MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision``. Synchronous: alembic runs its own loop."""
    command.upgrade(alembic_config(url), revision)


async def is_at_head(conn: AsyncConnection, url: str) -> bool:
    heads = set(ScriptDirectory.from_config(alembic_config(url)).get_heads())

    def current(sync_conn: object) -> set[str]:
        return set(MigrationContext.configure(sync_conn).get_current_heads())  # type: ignore[arg-type]

    return await conn.run_sync(current) == heads
