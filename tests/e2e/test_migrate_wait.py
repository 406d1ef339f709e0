"""``ceasefire migrate --wait SECONDS``: started before its database server listens (compose
starts them side by side), it waits for the server and migrates; bounded, and never waiting
through what waiting cannot mend. Through the real command, against a PostgreSQL of the test's
own that is down, then started."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ADMIN_URL, SELECTED, _require_postgres
from tests.e2e.conftest import free_port
from tests.e2e.test_operate_cli import CEASEFIRE, _ceasefire, _env
from tests.private_postgres import PrivatePostgres, private_postgres

WAITING = "waiting up to"


@pytest.fixture
def pg() -> Iterator[PrivatePostgres]:
    """An empty PostgreSQL of this test's own, which the test stops and starts."""
    if "postgresql" not in SELECTED:
        pytest.skip("CEASEFIRE_TEST_DATABASES leaves PostgreSQL out")
    with private_postgres() as server:
        yield server


async def _schema_version(url: str) -> str:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"), timeout=10)
    try:
        return str(await conn.fetchval("SELECT version_num FROM alembic_version"))
    finally:
        await conn.close()


def test_migrate_waits_for_a_server_that_starts_after_it(pg: PrivatePostgres) -> None:
    pg.stop()
    process = subprocess.Popen(
        [CEASEFIRE, "migrate", "--wait", "120"],
        env=_env(pg.url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        said = []
        # The condition: the command has found no server and said it waits.
        while not said or WAITING not in said[-1]:
            line = process.stderr.readline()
            assert line, f"exited {process.wait()} without waiting: {''.join(said)}"
            said.append(line)
        pg.start()
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, "".join(said) + err
    assert "database is at the latest schema version" in out
    assert asyncio.run(_schema_version(pg.url))


def test_the_wait_is_bounded() -> None:
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nothing"
    done = _ceasefire(url, "migrate", "--wait", "1")
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 2, done.stderr
    assert lines[0].startswith(WAITING), done.stderr
    assert lines[1].startswith("error: cannot use the database "), done.stderr
    assert "CEASEFIRE_DATABASE_URL" in lines[1] and "Traceback" not in done.stderr


def test_what_waiting_cannot_mend_fails_at_once() -> None:
    """A database that does not exist on a server that answers: no waiting (the subprocess's
    own timeout, far below the wait asked for, would end the test otherwise)."""
    if "postgresql" not in SELECTED:
        pytest.skip("CEASEFIRE_TEST_DATABASES leaves PostgreSQL out")
    _require_postgres()  # an unreachable server would be waited for
    base = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    done = _ceasefire(f"{base}/ceasefire_no_such_database", "migrate", "--wait", "3600")
    assert done.returncode == 1
    assert WAITING not in done.stderr, done.stderr
    assert "does not exist" in done.stderr


def test_sqlite_migrates_at_once_with_a_wait(tmp_path: Path) -> None:
    done = _ceasefire(f"sqlite+aiosqlite:///{tmp_path / 'new.db'}", "migrate", "--wait", "3600")
    assert done.returncode == 0, done.stderr
    assert WAITING not in done.stderr
    assert "database is at the latest schema version" in done.stdout
