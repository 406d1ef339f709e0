"""``/v1/admin``: the projections' state, and rebuilding one while the API keeps serving.

A rebuild runs in this process as a background task and is recorded as a projection job, so
any process can answer ``GET /v1/admin/jobs/{id}``. Only one projection job runs at a time
(409 otherwise). Stopping the server cancels a running rebuild: the live tables stay as they
were and the job is marked ``cancelled``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, FastAPI, Path, Response
from pydantic import BaseModel, Field

from app.deps import AdminKey, AppenderDep, ConnDep, RebuildsDep, StoreDep
from app.http.problems import ProblemError, problem_responses
from app.services.appending import Appender
from events.log.store import EventStore
from projections.jobs import Job, get_job, last_rebuilt, projection_positions, start_job
from projections.runner import PROJECTIONS, replay

__all__ = ["jobs_running", "router"]

router = APIRouter(tags=["admin"])
log = logging.getLogger("ceasefire.admin")


class ProjectionView(BaseModel):
    """A projection: how far it has folded the log, and its last rebuild."""

    name: str
    table: str
    checkpoint: str = Field(description="The checkpoint this projection advances with.")
    position: int = Field(description="The last log position folded into the projection.")
    head: int = Field(description="The log's newest position.")
    lag: int = Field(description="Events in the log not yet folded into the projection.")
    last_rebuilt_at: datetime | None = Field(
        description="When a rebuild of this projection last succeeded."
    )
    rebuilding: UUID | None = Field(description="The running rebuild job, if any.")


class JobView(BaseModel):
    """A projection job (a rebuild) and its progress."""

    id: UUID
    kind: str
    projections: list[str]
    state: str = Field(description="running, succeeded, failed, cancelled or abandoned")
    done: int = Field(description="Events folded so far.")
    total: int = Field(description="The log's head when last reported.")
    error: str | None = None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None = Field(default=None, description="When it ended, if it has.")

    @classmethod
    def of(cls, job: Job) -> JobView:
        return cls.model_validate(job, from_attributes=True)


_ADMIN_PROBLEMS = problem_responses(401, 403, 503)


@router.get(
    "/v1/admin/projections",
    operation_id="list_projections",
    response_model=list[ProjectionView],
    responses=_ADMIN_PROBLEMS,
    summary="Each projection's checkpoint, lag behind the log and last rebuild",
)
async def list_projections(conn: ConnDep, _key: AdminKey) -> list[ProjectionView]:
    """How far each projection has folded the log (its lag), and when it was last rebuilt."""
    positions = await projection_positions(conn)
    rebuilt = await last_rebuilt(conn)
    running = positions.running
    return [
        ProjectionView(
            name=name,
            table=table,
            checkpoint=positions.checkpoint,
            position=positions.position,
            head=positions.head,
            lag=max(positions.head - positions.position, 0),
            last_rebuilt_at=rebuilt.get(name),
            rebuilding=(
                running.id
                if running is not None and running.kind == "rebuild" and name in running.projections
                else None
            ),
        )
        for name, table in PROJECTIONS.items()
    ]


@router.post(
    "/v1/admin/projections/{name}/rebuild",
    operation_id="rebuild_projection",
    status_code=202,
    response_model=JobView,
    responses=_ADMIN_PROBLEMS
    | problem_responses(
        422,
        specific={
            404: "No projection of this name (`/problems/unknown-projection`).",
            409: "A projection job is running already (`/problems/job-running`).",
        },
    ),
    summary="Start rebuilding a projection from the log (blue/green); poll the job",
)
async def rebuild_projection(
    name: Annotated[str, Path(description="A projection's name, as listed.")],
    response: Response,
    store: StoreDep,
    appender: AppenderDep,
    tasks: RebuildsDep,
    _key: AdminKey,
) -> JobView:
    """Rebuilds the projection from the log into new tables beside the live ones, then swaps
    them in; reads keep being served meanwhile. Answers at once with the job (202, `Location`
    its URL). One projection job runs at a time."""
    if name not in PROJECTIONS:
        raise ProblemError(
            404,
            "unknown-projection",
            f"no projection {name!r}; there are: {', '.join(PROJECTIONS)}",
        )
    job = await start_job(store.engine, "rebuild", [name])
    task = asyncio.create_task(
        _rebuild(store, appender, name, job), name=f"rebuild {name} {job.id}"
    )
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    response.headers["Location"] = f"/v1/admin/jobs/{job.id}"
    return JobView.of(job)


async def _rebuild(store: EventStore, appender: Appender, name: str, job: Job) -> None:
    try:
        await replay(store, [name], job=job)
        appender.forget_all()  # the states cached for appends came from the old tables
    except asyncio.CancelledError:
        raise
    except Exception:  # recorded in the job row by replay(); the log keeps the traceback
        log.exception("rebuild of %s failed (job %s)", name, job.id)


@router.get(
    "/v1/admin/jobs/{job_id}",
    operation_id="get_job",
    response_model=JobView,
    responses=_ADMIN_PROBLEMS
    | problem_responses(422, specific={404: "No job of this id (`/problems/unknown-job`)."}),
    summary="A projection job: its state and progress",
)
async def read_job(
    job_id: Annotated[UUID, Path(description="The job's id.")], conn: ConnDep, _key: AdminKey
) -> JobView:
    """The job's state (running, succeeded, failed, cancelled, abandoned) and progress."""
    job = await get_job(conn, job_id)
    if job is None:
        raise ProblemError(404, "unknown-job", f"no job {job_id}")
    return JobView.of(job)


@asynccontextmanager
async def jobs_running(app: FastAPI) -> AsyncIterator[None]:
    """For the app's lifespan: rebuilds started here are cancelled when it stops."""
    app.state.rebuilds = set()
    try:
        yield
    finally:
        tasks: set[asyncio.Task[None]] = app.state.rebuilds
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
