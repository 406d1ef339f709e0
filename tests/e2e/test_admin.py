"""The admin API through a real server: the projections' state, a rebuild started over HTTP
and polled to its end while reads go on, and the problems it answers."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from app.services.appending import Appender
from events.log.database import create_engine
from events.log.store import EventStore
from projections.jobs import finish_job, start_job
from tests.e2e.conftest import Keys, make_keys, problem_of, start_server
from tests.factories import seed_events
from tests.logtools import write_old_events

CONFLICT = "armenia-azerbaijan"
STATUS = f"/v1/conflicts/{CONFLICT}/status?as_of=2022-09-24T00:00:00Z"


async def _wait_for_job(http: httpx.AsyncClient, location: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job: dict[str, Any] = (await http.get(location)).json()
        if job["state"] != "running":
            return job
        await asyncio.sleep(0.05)
    pytest.fail(f"job {location} still running after 60 s")


@asynccontextmanager
async def _served(url: str, key: str | None = None) -> AsyncIterator[httpx.AsyncClient]:
    headers = Keys.header(key) if key else {}
    with start_server(url) as server:
        async with httpx.AsyncClient(base_url=server.base_url, headers=headers) as http:
            yield http


async def _seed(url: str) -> Keys:
    store = EventStore(create_engine(url))
    appender = Appender(store)
    try:
        for event in seed_events():
            await appender.append([event])
    finally:
        await store.close()
    return await make_keys(url)


async def test_admin_routes_need_an_admin_key(fresh_database_url: str) -> None:
    keys = await make_keys(fresh_database_url)
    async with _served(fresh_database_url) as http:
        problem_of(await http.get("/v1/admin/projections"), 401, "unauthorized")
        writer = Keys.header(keys.writer)
        problem_of(await http.get("/v1/admin/projections", headers=writer), 403, "forbidden")
        problem_of(
            await http.post("/v1/admin/projections/allegations/rebuild", headers=writer),
            403,
            "forbidden",
        )


async def test_a_rebuild_over_http_while_reads_go_on(fresh_database_url: str) -> None:
    keys = await _seed(fresh_database_url)
    async with _served(fresh_database_url, keys.admin) as http:
        before = (await http.get("/v1/admin/projections")).json()
        assert [p["name"] for p in before][:3] == ["agreements", "allegations", "missions"]
        first = before[0]
        assert (first["position"], first["head"], first["lag"]) == (6, 6, 0)
        assert first["last_rebuilt_at"] is None and first["rebuilding"] is None
        status = (await http.get(STATUS)).json()

        started = await http.post("/v1/admin/projections/allegations/rebuild")
        assert started.status_code == 202, started.text
        location = started.headers["location"]
        assert location == f"/v1/admin/jobs/{started.json()['id']}"
        assert started.json()["projections"] == ["allegations"]
        while (await http.get(location)).json()["state"] == "running":  # reads are served meanwhile
            again = await http.get(STATUS)
            assert again.status_code == 200
        job = await _wait_for_job(http, location)
        assert job["state"] == "succeeded" and job["done"] == 6 and job["finished_at"]

        after = {p["name"]: p for p in (await http.get("/v1/admin/projections")).json()}
        assert after["allegations"]["last_rebuilt_at"] == job["finished_at"]
        assert after["agreements"]["last_rebuilt_at"] is None
        assert (await http.get(STATUS)).json() == status


async def test_rebuild_problems(fresh_database_url: str) -> None:
    keys = await make_keys(fresh_database_url)
    async with _served(fresh_database_url, keys.admin) as http:
        problem_of(await http.post("/v1/admin/projections/nope/rebuild"), 404, "unknown-projection")
        problem_of(await http.get(f"/v1/admin/jobs/{uuid.uuid4()}"), 404, "unknown-job")
        engine = create_engine(fresh_database_url)
        try:
            other = await start_job(engine, "verify", ["agreements"])
            body = problem_of(
                await http.post("/v1/admin/projections/missions/rebuild"), 409, "job-running"
            )
            assert body["job_id"] == str(other.id)
            await finish_job(engine, other.id, "succeeded")
        finally:
            await engine.dispose()
        assert (await http.post("/v1/admin/projections/missions/rebuild")).status_code == 202


async def test_a_version_1_log_is_served_after_a_rebuild(fresh_database_url: str) -> None:
    """A log an older release wrote (casualties as one number), rebuilt over HTTP and read."""
    engine = create_engine(fresh_database_url)
    source = {"name": "Armenian Defense Ministry"}
    await write_old_events(
        engine,
        "old-log",
        [
            {
                "type": "agreement.signed",
                "occurred_at": "2022-09-14T16:00:00Z",
                "source": source,
                "data": {"agreement_id": "cf-1", "parties": ["Armenia", "Azerbaijan"]},
            },
            {
                "type": "violation.alleged",
                "occurred_at": "2022-09-20T10:00:00Z",
                "source": source,
                "data": {"alleged_by": "Armenia", "accused": "Azerbaijan", "casualties_claimed": 5},
            },
        ],
    )
    await engine.dispose()
    keys = await make_keys(fresh_database_url)
    async with _served(fresh_database_url, keys.admin) as http:
        for name in ("agreements", "allegations"):
            started = await http.post(f"/v1/admin/projections/{name}/rebuild")
            assert (await _wait_for_job(http, started.headers["location"]))["state"] == "succeeded"
        allegations = "/v1/conflicts/old-log/allegations?as_of=2022-09-30T00:00:00Z"
        view = (await http.get(allegations)).json()
        claims = [a["casualties_claimed"] for a in view["agreements"][0]["allegations"]]
        assert claims == [{"low": 5, "best": 5, "high": 5}]
        events = (await http.get("/v1/conflicts/old-log/events")).json()["events"]
        assert events[1]["schema_version"] == 2
        assert events[1]["data"]["casualties_claimed"] == {"low": 5, "best": 5, "high": 5}
