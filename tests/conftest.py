"""Shared fixtures: the databases every contract test runs against.

``database_url`` is parametrised over SQLite and PostgreSQL. Each test session creates fresh
databases (a temporary SQLite file; a PostgreSQL database with a unique name, dropped at the
end). The schema is built with ``alembic upgrade head``, so the migrations are tested too: once
per test process and kind, into a template that every fresh database at ``head`` is a copy of
(a file copy; PostgreSQL's ``CREATE DATABASE … TEMPLATE``), which costs a fraction of running
fifteen migrations again for each of the suite's hundreds of fresh databases.

PostgreSQL is found at ``CEASEFIRE_TEST_POSTGRES`` (default
``postgresql://postgres@127.0.0.1:5432/test``). When it cannot be reached the PostgreSQL cases
skip with the reason, except under CI (``CI`` set), where they fail.
``CEASEFIRE_TEST_DATABASES=sqlite`` (or ``postgresql``) narrows a local run to one database.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import sqlite3
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from app.services.appending import Appender
from app.services.schema_migrations import upgrade
from events.log.database import create_engine
from events.log.store import EventStore

ADMIN_URL = os.environ.get("CEASEFIRE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
SELECTED = [
    d.strip()
    for d in os.environ.get("CEASEFIRE_TEST_DATABASES", "sqlite,postgresql").split(",")
    if d.strip()
]
SEED = Path(__file__).parent / "fixtures" / "armenia-azerbaijan-2022-09.ndjson"


async def _admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(ADMIN_URL, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _postgres_reachable() -> str | None:
    try:
        asyncio.run(_admin("SELECT 1"))
    except Exception as error:  # any failure: report it as the skip reason
        return f"PostgreSQL not reachable at {ADMIN_URL}: {error!r}"
    return None


_PG_PROBLEM: str | None = None
_PG_PROBED = False


def _require_postgres() -> None:
    global _PG_PROBLEM, _PG_PROBED
    if not _PG_PROBED:
        _PG_PROBLEM, _PG_PROBED = _postgres_reachable(), True
    if _PG_PROBLEM is not None:
        if os.environ.get("CI"):
            pytest.fail(_PG_PROBLEM)
        pytest.skip(_PG_PROBLEM)


#: Per kind, the database at ``head`` this process copies fresh ones from (``_template``).
_TEMPLATES: dict[str, str] = {}


def _template(kind: str) -> str:
    """This process's template of ``kind`` at ``head``: a SQLite file or a PostgreSQL database
    name, migrated on first use and removed when the process exits."""
    if kind in _TEMPLATES:
        return _TEMPLATES[kind]
    if kind == "sqlite":
        folder = tempfile.mkdtemp(prefix="ceasefire-template-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        path = os.path.join(folder, "template.db")
        upgrade(f"sqlite+aiosqlite:///{path}", "head")
        # Everything in the main file, the WAL empty: a copy of the file is the whole database.
        conn = sqlite3.connect(path)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            conn.close()
        _TEMPLATES[kind] = path
        return path
    name = f"ceasefire_template_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    atexit.register(lambda: asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')))
    upgrade(f"{_pg_base()}/{name}", "head")
    _TEMPLATES[kind] = name
    return name


def _pg_base() -> str:
    return ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)


def _create_from_template(name: str, template: str) -> None:
    """``CREATE DATABASE`` copying ``template``, which must have no session open: the
    migration's connections may take a moment to go after its engine is disposed."""
    import asyncpg

    deadline = time.monotonic() + 10
    while True:
        try:
            asyncio.run(_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
            return
        except asyncpg.ObjectInUseError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def make_database(kind: str, tmp_dir: Path, revision: str | None = "head") -> Iterator[str]:
    """Create a fresh database of ``kind`` migrated to ``revision`` (None: not at all, an
    empty file or database); yield its async URL; drop it. At ``head`` it is a copy of this
    process's template (``_template``), migrated the same way."""
    if kind == "sqlite":
        path = tmp_dir / f"ceasefire-{uuid.uuid4().hex[:8]}.db"
        url = f"sqlite+aiosqlite:///{path}"
        if revision is None:
            path.touch()
        elif revision == "head":
            shutil.copyfile(_template(kind), path)
        else:
            upgrade(url, revision)
        yield url
        return
    _require_postgres()
    name = f"ceasefire_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    if revision == "head":
        _create_from_template(name, _template(kind))
    else:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    url = f"{_pg_base()}/{name}"
    try:
        if revision not in (None, "head"):
            upgrade(url, revision)
        yield url
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db_kind" in metafunc.fixturenames:
        metafunc.parametrize("db_kind", SELECTED, scope="session")


@pytest.fixture(scope="session")
def database_url(db_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database shared by the whole session: tests keep apart by using their own conflicts."""
    yield from make_database(db_kind, tmp_path_factory.mktemp(db_kind))


@pytest.fixture
def fresh_database_url(db_kind: str, tmp_path: Path) -> Iterator[str]:
    """A database of this test's own, for tests that need the whole log to themselves."""
    yield from make_database(db_kind, tmp_path)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[EventStore]:
    store = EventStore(create_engine(database_url))
    yield store
    await store.close()


@pytest.fixture
async def fresh_store(fresh_database_url: str) -> AsyncIterator[EventStore]:
    store = EventStore(create_engine(fresh_database_url))
    yield store
    await store.close()


@pytest.fixture
def appender(store: EventStore) -> Appender:
    """The append service over ``store``."""
    return Appender(store)


@pytest.fixture
def fresh_appender(fresh_store: EventStore) -> Appender:
    return Appender(fresh_store)


async def make_key(database_url: str, role: str, name: str = "test") -> str:
    """A new API key with ``role`` in that database; its secret."""
    from app.services.api_keys import create_key

    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            _, secret = await create_key(conn, name=name, role=role)  # type: ignore[arg-type]  # a Role
    finally:
        await engine.dispose()
    return secret


@pytest.fixture
def conflict() -> str:
    """A conflict slug no other test uses."""
    return f"test-{uuid.uuid4().hex[:12]}"
