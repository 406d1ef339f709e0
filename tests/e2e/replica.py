"""A real PostgreSQL hot standby for the read-side tests (``.ci/replica.sh``, docs/scaling.md).

``standby_url(primary_url)`` is the same database on the standby, once the standby has replayed
its creation and migrations. ``paused_replay`` holds the standby's replay (a lagging replica
on demand); ``stopped`` stops the standby and starts it again after. The standby is found at
``CEASEFIRE_TEST_REPLICA`` (default ``postgresql://postgres@127.0.0.1:5433/postgres``); when it
cannot be reached the tests skip with the reason, except under CI, where they fail.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

__all__ = [
    "paused_replay",
    "replayed",
    "require_standby",
    "standby_url",
    "stopped",
    "tag_position",
]

STANDBY = os.environ.get("CEASEFIRE_TEST_REPLICA", "postgresql://postgres@127.0.0.1:5433/postgres")
SCRIPT = Path(__file__).parents[2] / ".ci" / "replica.sh"
_READY_SECONDS = 60.0


async def _standby_problem() -> str | None:
    try:
        conn = await asyncpg.connect(STANDBY, timeout=5)
    except Exception as error:  # any failure: the skip reason
        return f"no PostgreSQL hot standby at {STANDBY} (make replica): {error!r}"
    try:
        if not await conn.fetchval("SELECT pg_is_in_recovery()"):
            return f"{STANDBY} is not a hot standby"
    finally:
        await conn.close()
    return None


async def require_standby() -> None:
    problem = await _standby_problem()
    if problem is not None:
        if os.environ.get("CI"):
            pytest.fail(problem)
        pytest.skip(problem)


async def standby_url(primary_url: str) -> str:
    """``primary_url``'s database on the standby (an asyncpg SQLAlchemy URL), once the standby
    has its schema (it has replayed the database's creation and the migrations)."""
    name = make_url(primary_url).database
    url = make_url(STANDBY.replace("postgresql://", "postgresql+asyncpg://", 1)).set(database=name)
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    deadline = time.monotonic() + _READY_SECONDS
    while True:
        try:
            conn = await asyncpg.connect(dsn, timeout=5)
            try:
                await conn.fetchval("SELECT position FROM log_head")
                return url.render_as_string(hide_password=False)
            finally:
                await conn.close()
        except (OSError, asyncpg.PostgresError) as error:
            if time.monotonic() > deadline:
                raise AssertionError(f"the standby never replayed {name}") from error
        await asyncio.sleep(0.05)


async def replayed(standby: str, position: int) -> None:
    """Until the standby database (``standby_url``'s answer) has replayed the log to
    ``position``."""
    dsn = standby.replace("postgresql+asyncpg://", "postgresql://", 1)
    deadline = time.monotonic() + _READY_SECONDS
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        while await conn.fetchval("SELECT position FROM log_head") < position:
            assert time.monotonic() < deadline, f"the standby never replayed {position}"
            await asyncio.sleep(0.01)
    finally:
        await conn.close()


@asynccontextmanager
async def paused_replay() -> AsyncIterator[None]:
    """The standby stops replaying (it still receives WAL) until the block ends."""
    conn = await asyncpg.connect(STANDBY, timeout=5)
    try:
        await conn.execute("SELECT pg_wal_replay_pause()")
        while True:  # paused once the record being replayed is done
            if await conn.fetchval("SELECT pg_get_wal_replay_pause_state()") == "paused":
                break
            await asyncio.sleep(0.01)
        yield
    finally:
        await conn.execute("SELECT pg_wal_replay_resume()")
        await conn.close()


@asynccontextmanager
async def stopped() -> AsyncIterator[None]:
    """The standby is stopped (``.ci/replica.sh stop``) until the block ends, then started
    again and streaming."""
    await asyncio.to_thread(_script, "stop")
    try:
        yield
    finally:
        await asyncio.to_thread(_script, "start")


def _script(command: str) -> None:
    subprocess.run(["bash", str(SCRIPT), command], check=True, capture_output=True, timeout=120)


def tag_position(etag: str) -> int:
    """The log position an ETag of ours names."""
    match = re.match(r'^"[a-z]+(\d+)', etag)
    assert match is not None, etag
    return int(match[1])
