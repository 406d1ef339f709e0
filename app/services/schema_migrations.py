"""Running the alembic migrations from code: the CLI's ``migrate``, ``serve`` and the tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from app.settings import Settings
from events.log.store import server_gone

__all__ = [
    "alembic_config",
    "is_at_head",
    "migrate",
    "schema_problem",
    "service_role_of",
    "upgrade",
]

_MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
#: Seconds between two tries of ``migrate(wait=…)``.
_RETRY_EVERY = 1.0


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


def migrate(
    settings: Settings,
    *,
    wait: float = 0.0,
    waiting: Callable[[BaseException], None] | None = None,
) -> None:
    """``ceasefire migrate``: as the owner role when one is configured, granting the service's.

    ``wait`` (seconds): while the server does not answer yet (nothing listening, a name not
    resolved yet, "the database system is starting up"), try again every second for up to this
    long, calling ``waiting`` with each such error; then the last error is raised. What
    retrying cannot mend (a wrong password, a missing database) is raised at once. A database
    started beside the service (compose) takes a few seconds to listen."""
    deadline = time.monotonic() + wait
    while True:
        try:
            upgrade(
                settings.migration_database_url or settings.database_url,
                service_role=service_role_of(settings),
            )
            return
        except Exception as error:
            left = deadline - time.monotonic()
            if left <= 0 or not server_gone(error):
                raise
            if waiting is not None:
                waiting(error)
            time.sleep(min(_RETRY_EVERY, left))


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
