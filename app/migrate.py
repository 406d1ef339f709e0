"""Running the alembic migrations from code: the CLI's ``migrate``, ``serve`` and the tests."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from app.settings import Settings

__all__ = [
    "alembic_config",
    "is_at_head",
    "migrate",
    "schema_problem",
    "service_role_of",
    "upgrade",
]

_MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str, *, service_role: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if service_role:
        config.attributes["service_role"] = service_role
    return config


def upgrade(url: str, revision: str = "head", *, service_role: str | None = None) -> None:
    """Bring the database at ``url`` to ``revision``. Synchronous: alembic runs its own loop.

    ``service_role`` (PostgreSQL): the role the service connects as, when it is not the one at
    ``url``; it is granted reading and appending only (migration 0006)."""
    command.upgrade(alembic_config(url, service_role=service_role), revision)


def service_role_of(settings: Settings) -> str | None:
    """The role to grant: the user of ``CEASEFIRE_DATABASE_URL`` when migrations run as another
    (``CEASEFIRE_MIGRATION_DATABASE_URL``); None with one URL (the embedded and dev default)."""
    owner = settings.migration_database_url
    if owner is None or not settings.database_url.startswith("postgresql"):
        return None
    service = make_url(settings.database_url).username
    return service if service and service != make_url(owner).username else None


def migrate(settings: Settings) -> None:
    """``ceasefire migrate``: as the owner role when one is configured, granting the service's."""
    upgrade(
        settings.migration_database_url or settings.database_url,
        service_role=service_role_of(settings),
    )


async def is_at_head(conn: AsyncConnection, url: str) -> bool:
    return await schema_problem(conn, url) is None


async def schema_problem(conn: AsyncConnection, url: str) -> str | None:
    """Why the database behind ``conn`` is not at this release's latest schema, in an
    operator's words (``has no schema``…); None when it is."""
    script = ScriptDirectory.from_config(alembic_config(url))
    heads = set(script.get_heads())

    def current(sync_conn: object) -> set[str]:
        return set(MigrationContext.configure(sync_conn).get_current_heads())  # type: ignore[arg-type]

    found = await conn.run_sync(current)
    if found == heads:
        return None
    if not found:
        return "has no schema"
    known = {revision.revision for revision in script.walk_revisions()}
    if not found <= known:
        return (
            f"is at schema revision {', '.join(sorted(found))}, which this release does not "
            "know: a newer release migrated it"
        )
    latest = ", ".join(sorted(heads))
    return f"is at schema revision {', '.join(sorted(found))}, not the latest ({latest})"
