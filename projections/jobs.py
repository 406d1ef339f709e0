"""Projection jobs: every rebuild and verification of the projections, one at a time.

A job is a row, so the process that polls it (``GET /v1/admin/jobs/{id}``, another API worker)
need not be the one running it. Only one job runs at a time: a partial unique index on
``state = 'running'`` (migration 0002) makes a second start fail, and scratch tables left by a
killed run can then be dropped without fear of pulling them from under a live one. A running
job writes a heartbeat with its progress after every batch; one silent for ``STALE_AFTER`` is
taken for dead (its process was killed) and marked ``abandoned`` by the next start.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from uuid import UUID, uuid4

from sqlalchemy import (
    Row,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from events.log.database import WRITE
from events.log.positions import checkpoint_position, log_position
from events.log.tables import record_of
from events.model.errors import ProjectionJobRunningError
from projections.tables import projection_jobs

__all__ = [
    "STALE_AFTER",
    "Job",
    "JobKind",
    "JobState",
    "Positions",
    "finish_job",
    "get_job",
    "heartbeat",
    "heartbeat_every",
    "last_rebuilt",
    "projection_jobs",
    "projection_positions",
    "running_job",
    "start_job",
]

JobKind = Literal["rebuild", "verify"]
JobState = Literal["running", "succeeded", "failed", "cancelled", "abandoned"]

#: A running job that has not written a heartbeat for this long is taken for dead.
STALE_AFTER = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class Job:
    id: UUID
    kind: JobKind
    projections: tuple[str, ...]
    state: JobState
    done: int
    total: int
    error: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


def _now() -> datetime:
    return datetime.now(UTC)


def _job(row: Row[Any]) -> Job:
    return record_of(
        Job,
        row,
        projections=tuple(p for p in row.projections.split(",") if p),
        done=int(row.done),
        total=int(row.total),
    )


async def running_job(conn: AsyncConnection) -> Job | None:
    row = (
        await conn.execute(select(projection_jobs).where(projection_jobs.c.state == "running"))
    ).one_or_none()
    return None if row is None else _job(row)


async def start_job(engine: AsyncEngine, kind: JobKind, projections: Sequence[str]) -> Job:
    """Record a new running job; ``ProjectionJobRunningError`` when one is running already.
    A running job gone silent for ``STALE_AFTER`` is marked abandoned first."""
    now = _now()
    job_id = uuid4()
    try:
        async with engine.connect() as plain:
            conn = await plain.execution_options(**WRITE)
            async with conn.begin():
                await conn.execute(
                    update(projection_jobs)
                    .where(
                        projection_jobs.c.state == "running",
                        projection_jobs.c.updated_at < now - STALE_AFTER,
                    )
                    .values(state="abandoned", finished_at=now)
                )
                await conn.execute(
                    projection_jobs.insert().values(
                        id=job_id,
                        kind=kind,
                        projections=",".join(projections),
                        state="running",
                        done=0,
                        total=0,
                        created_at=now,
                        updated_at=now,
                    )
                )
    except IntegrityError:
        async with engine.connect() as conn:
            running = await running_job(conn)
        raise ProjectionJobRunningError(
            str(running.id) if running else "unknown", running.kind if running else kind
        ) from None
    async with engine.connect() as conn:
        job = await get_job(conn, job_id)
    assert job is not None
    return job


async def heartbeat(conn: AsyncConnection, job_id: UUID, done: int, total: int) -> None:
    """Progress of a running job, written inside the caller's transaction."""
    await conn.execute(
        update(projection_jobs)
        .where(projection_jobs.c.id == job_id)
        .values(done=done, total=total, updated_at=_now())
    )


def heartbeat_every(
    engine: AsyncEngine, job_id: UUID, seconds: float
) -> Callable[[int, int], Awaitable[None]]:
    """A ``beat(done, total)`` that writes the job's heartbeat at most every ``seconds``, in a
    transaction of its own."""
    last = float("-inf")

    async def beat(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last < seconds:
            return
        last = now
        async with engine.connect() as plain:
            conn = await plain.execution_options(**WRITE)
            async with conn.begin():
                await heartbeat(conn, job_id, done, total)

    return beat


async def finish_job(
    engine: AsyncEngine,
    job_id: UUID,
    state: JobState,
    *,
    done: int | None = None,
    total: int | None = None,
    error: str | None = None,
) -> None:
    now = _now()
    values: dict[str, object] = {"state": state, "updated_at": now, "finished_at": now}
    if done is not None:
        values["done"] = done
    if total is not None:
        values["total"] = total
    if error is not None:
        values["error"] = error[:2000]
    async with engine.connect() as plain:
        conn = await plain.execution_options(**WRITE)
        async with conn.begin():
            await conn.execute(
                update(projection_jobs)
                .where(projection_jobs.c.id == job_id, projection_jobs.c.state == "running")
                .values(**values)
            )


async def get_job(conn: AsyncConnection, job_id: UUID) -> Job | None:
    row = (
        await conn.execute(select(projection_jobs).where(projection_jobs.c.id == job_id))
    ).one_or_none()
    return None if row is None else _job(row)


async def last_rebuilt(conn: AsyncConnection) -> dict[str, datetime]:
    """When each projection was last rebuilt by a job that succeeded."""
    rows = await conn.execute(
        select(projection_jobs.c.projections, projection_jobs.c.finished_at)
        .where(projection_jobs.c.kind == "rebuild", projection_jobs.c.state == "succeeded")
        .order_by(projection_jobs.c.finished_at)
    )
    out: dict[str, datetime] = {}
    for projections, finished_at in rows:
        for name in projections.split(","):
            out[name] = finished_at
    return out


@dataclass(frozen=True, slots=True)
class Positions:
    """Where the projections stand: their checkpoint's position, the log's head, and the
    projection job running, if any."""

    checkpoint: str
    position: int
    head: int
    running: Job | None


async def projection_positions(conn: AsyncConnection) -> Positions:
    from projections.inline import CHECKPOINT  # the inline projections' one checkpoint

    head = await log_position(conn)
    position = await checkpoint_position(conn, CHECKPOINT)
    return Positions(CHECKPOINT, position, head, await running_job(conn))
