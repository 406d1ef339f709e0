"""Blue/green replay on every database: identical tables, catch-up of appends made meanwhile,
interruption leaves the live tables as they were, one job at a time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from app.services.appending import Appender
from events.log.store import EventStore
from events.model.errors import ProjectionJobRunningError
from projections.driver import raw_connection
from projections.jobs import get_job, projection_jobs, running_job, start_job
from projections.queries.status import read_status
from projections.runner import (
    PROJECTIONS,
    Replayer,
    UnknownProjectionError,
    _catch_up_and_swap,
    replay,
)
from projections.scratch import Scratch
from tests.factories import alleged, collapsed, dispatched, incident_ended, seed_events, signed
from tests.logtools import dump_projections, index_names, scratch_tables


async def _history(store: EventStore, conflicts: int = 3) -> None:
    appender = Appender(store)
    for n in range(conflicts):
        conflict = f"replay-{n}"
        for event in seed_events(conflict):
            await appender.append([event])
        await appender.append([signed(conflict, "cf-9", occurred_at="2022-10-01T00:00:00Z")])
        await appender.append(
            [
                alleged(
                    conflict,
                    occurred_at="2022-10-02T00:00:00Z",
                    casualties_claimed={"low": 1, "best": 2, "high": 5},
                ),
                dispatched(conflict, "m-9", occurred_at="2022-10-03T00:00:00Z"),
                collapsed(conflict, "cf-9", occurred_at="2022-10-04T00:00:00Z"),
            ]
        )
        # A violation recorded while it goes on (its own column), and in the third conflict
        # its end learned later (a second row version of it: only the full rebuild's test has
        # three conflicts; the others count one row per allegation).
        going_on = alleged(conflict, occurred_at="2022-10-05T00:00:00Z", ongoing=True)
        await appender.append([going_on])
        if n == 2:
            await appender.append([incident_ended(conflict, going_on.id, "2022-10-09T00:00:00Z")])


async def test_replay_rebuilds_identical_tables(fresh_store: EventStore) -> None:
    await _history(fresh_store)
    before = await dump_projections(fresh_store.engine)
    indexes = await index_names(fresh_store.engine)
    stats = await replay(fresh_store, batch_size=4)
    assert stats.events == await fresh_store.head()
    assert await dump_projections(fresh_store.engine) == before
    assert await scratch_tables(fresh_store.engine) == []
    assert await index_names(fresh_store.engine) == indexes  # the migrations' names, all there


async def test_replay_of_one_projection_leaves_the_others_alone(fresh_store: EventStore) -> None:
    await _history(fresh_store, conflicts=1)
    before = await dump_projections(fresh_store.engine)
    stats = await replay(fresh_store, ["allegations"])
    assert stats.projections == ("allegations",)
    assert await dump_projections(fresh_store.engine) == before
    with pytest.raises(UnknownProjectionError):
        await replay(fresh_store, ["nope"])


async def test_events_appended_during_the_rebuild_are_caught_up_once(
    fresh_store: EventStore,
    fresh_appender: Appender,
) -> None:
    """Stop the rebuild between its unlocked pass and the locked catch-up, append there, then
    let it finish: the new events are folded exactly once, under the lock."""
    await _history(fresh_store, conflicts=1)
    scratch = Scratch("rebuild_", tuple(PROJECTIONS.values()))
    async with raw_connection(fresh_store.engine) as conn:
        await scratch.create(conn)
        replayer = Replayer(conn, scratch.rename)
        await replayer.run(await conn.head(), batch_size=3)
        await fresh_appender.append(
            [alleged("replay-0", occurred_at="2022-10-03T12:00:00Z", incidents=4)]
        )
        await fresh_appender.append([dispatched("replay-0", "m-10")])
        live = await dump_projections(fresh_store.engine)
        caught_up, _ = await _catch_up_and_swap(conn, replayer, scratch, PROJECTIONS, 3)
    assert caught_up == 2
    assert await dump_projections(fresh_store.engine) == live
    assert await scratch_tables(fresh_store.engine) == []


async def test_appends_go_on_while_a_replay_runs(
    fresh_store: EventStore, fresh_appender: Appender
) -> None:
    await _history(fresh_store, conflicts=2)
    started = asyncio.Event()

    async def writer() -> int:
        await started.wait()
        at = datetime(2022, 10, 3, 13, tzinfo=UTC)
        for i in range(20):
            await fresh_appender.append(
                [alleged("replay-1", occurred_at=at + timedelta(minutes=i))]
            )
        return 20

    task = asyncio.create_task(writer())
    await replay(fresh_store, batch_size=1, progress=lambda done, total: started.set())
    await task
    live = await dump_projections(fresh_store.engine)
    await replay(fresh_store)  # quiet now: a rebuild of the whole log must match exactly
    assert await dump_projections(fresh_store.engine) == live
    ids = [row[0] for row in live["proj_allegations"]]
    assert len(ids) == len(set(ids))  # every allegation once: none lost, none applied twice


async def test_appends_after_a_swap_land_in_the_new_tables(
    fresh_store: EventStore, fresh_appender: Appender
) -> None:
    await _history(fresh_store, conflicts=1)
    await replay(fresh_store)
    await fresh_appender.append([alleged("replay-0", occurred_at="2022-10-03T18:00:00Z")])
    async with fresh_store.engine.connect() as conn:
        status = await read_status(
            conn,
            "replay-0",
            as_of=datetime(2022, 10, 3, 19, tzinfo=UTC),
            known_at=None,
            window=timedelta(days=7),
        )
    assert status.state == "contested"
    assert status.allegations["Armenia"].made == 2


async def test_cancelling_a_replay_leaves_the_live_tables_and_no_scratch(
    fresh_store: EventStore,
) -> None:
    await _history(fresh_store, conflicts=2)
    before = await dump_projections(fresh_store.engine)

    async def run() -> None:
        task = asyncio.current_task()
        assert task is not None
        await replay(fresh_store, batch_size=2, progress=lambda done, total: task.cancel())

    with pytest.raises(asyncio.CancelledError):
        await asyncio.create_task(run())
    assert await dump_projections(fresh_store.engine) == before
    assert await scratch_tables(fresh_store.engine) == []
    async with fresh_store.engine.connect() as conn:
        assert await running_job(conn) is None


async def test_a_killed_replay_is_cleaned_up_by_the_next(fresh_store: EventStore) -> None:
    """A run killed outright leaves scratch tables and a running job that stops beating: the
    next run marks the job abandoned, drops the leftovers and starts clean."""
    await _history(fresh_store, conflicts=1)
    before = await dump_projections(fresh_store.engine)
    dead = await start_job(fresh_store.engine, "rebuild", list(PROJECTIONS))
    async with raw_connection(fresh_store.engine) as conn:
        await Scratch("rebuild_", tuple(PROJECTIONS.values())).create(conn)
    assert await scratch_tables(fresh_store.engine)
    with pytest.raises(ProjectionJobRunningError):  # it still looks alive
        await replay(fresh_store)
    async with fresh_store.engine.begin() as conn:
        await conn.execute(
            update(projection_jobs)
            .where(projection_jobs.c.id == dead.id)
            .values(updated_at=datetime.now(UTC) - timedelta(hours=1))
        )
    await replay(fresh_store)
    assert await dump_projections(fresh_store.engine) == before
    assert await scratch_tables(fresh_store.engine) == []
    async with fresh_store.engine.connect() as conn:
        job = await get_job(conn, dead.id)
    assert job is not None and job.state == "abandoned"


async def test_one_projection_job_at_a_time(fresh_store: EventStore) -> None:
    job = await start_job(fresh_store.engine, "rebuild", ["missions"])
    with pytest.raises(ProjectionJobRunningError) as caught:
        await start_job(fresh_store.engine, "verify", list(PROJECTIONS))
    assert caught.value.job_id == str(job.id)
    stats = await replay(fresh_store, ["missions"], job=job)
    async with fresh_store.engine.connect() as conn:
        finished = await get_job(conn, job.id)
    assert finished is not None and finished.state == "succeeded"
    assert finished.done == stats.events
