"""A PostgreSQL 15 server of a test's own, to stop and start under the service.

The suite's shared server (127.0.0.1:5432) serves every other test running beside; a test that
restarts the database restarts this one instead: ``initdb`` into a temporary directory, started
with ``pg_ctl`` on a free loopback port (and a socket in that directory), trust auth, no fsync
(its data is thrown away). PostgreSQL refuses to run as root, so as root (CI) the server runs
as the ``postgres`` user through ``runuser``.

``CEASEFIRE_TEST_PG_BIN`` names the directory of ``initdb`` and ``pg_ctl`` (default
``/usr/lib/postgresql/15/bin``). Without them the test skips, except under CI, where it fails.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.conftest import free_port

__all__ = ["PrivatePostgres", "private_postgres"]

BIN = Path(os.environ.get("CEASEFIRE_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


@dataclass
class PrivatePostgres:
    directory: Path
    port: int
    as_user: list[str]

    @property
    def url(self) -> str:
        """The ``test`` database, as the service connects to it."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/test"

    def _pg_ctl(self, *args: str) -> None:
        subprocess.run(
            [*self.as_user, str(BIN / "pg_ctl"), "-D", str(self.directory / "data"), *args],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.directory} "
            "-c fsync=off -c full_page_writes=off -c synchronous_commit=off"
        )
        self._pg_ctl("-o", options, "-l", str(self.directory / "log"), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        """``fast``: every session is cut off at once (what a restart does to the service)."""
        self._pg_ctl("-m", mode, "-w", "stop")

    def log(self) -> str:
        path = self.directory / "log"
        return path.read_text(errors="replace") if path.exists() else ""


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A running server with an empty ``test`` database; stopped and removed after."""
    if not (BIN / "initdb").exists():
        reason = f"no PostgreSQL binaries at {BIN} (CEASEFIRE_TEST_PG_BIN)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    directory = Path(tempfile.mkdtemp(prefix="ceasefire-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(directory, owner.pw_uid, owner.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    server = PrivatePostgres(directory, free_port(), as_user)
    try:
        subprocess.run(
            [
                *as_user,
                str(BIN / "initdb"),
                "-D",
                str(directory / "data"),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        server.start()
        asyncio.run(_create_database(server.port))
        yield server
    finally:
        if (directory / "data" / "postmaster.pid").exists():
            server.stop("immediate")
        shutil.rmtree(directory, ignore_errors=True)


async def _create_database(port: int) -> None:
    import asyncpg

    conn = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", timeout=10)
    try:
        await conn.execute("CREATE DATABASE test")
    finally:
        await conn.close()
