"""``/metrics`` of a real server, read with prometheus_client's parser: each family issue 19
added moves when what it counts happens. Long-polls and streams are timed apart from the
request latency; appends by another process (the CLI) move the log's head and the appends
counter; the build and the process describe themselves; a running replay shows its progress."""

from __future__ import annotations

import asyncio
import platform
import subprocess

import httpx
from prometheus_client.parser import text_string_to_metric_families

from events.log.database import create_engine
from projections.jobs import finish_job, heartbeat, start_job
from tests.e2e.conftest import Keys, Server, gauge
from tests.e2e.test_operate_cli import CEASEFIRE, _env
from tests.e2e.test_polling import agreement, allegation, post
from tests.factories import alleged, signed
from tests.webhooks.receiver import eventually

Labels = tuple[tuple[str, str], ...]
Samples = dict[tuple[str, Labels], float]

STATUS = "/v1/conflicts/{conflict}/status"


async def scrape(http: httpx.AsyncClient) -> Samples:
    response = await http.get("/metrics")
    assert response.status_code == 200, response.text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def labelled(samples: Samples, name: str) -> dict[Labels, float]:
    return {labels: v for (sample, labels), v in samples.items() if sample == name}


async def test_long_polls_and_streams_are_timed_apart(
    client: httpx.AsyncClient, keys: Keys, conflict: str
) -> None:
    await post(client, keys, agreement(conflict))
    status = f"/v1/conflicts/{conflict}/status"
    before = await scrape(client)

    first = await client.get(status)
    assert first.status_code == 200
    waiting = asyncio.create_task(
        client.get(status, headers={"If-None-Match": first.headers["etag"], "Prefer": "wait=30"})
    )
    await eventually(lambda: gauge(client, "ceasefire_long_polls_waiting"))
    await post(client, keys, allegation(conflict))
    woken = await waiting
    assert woken.status_code == 200 and woken.headers["preference-applied"] == "wait=30"

    async with client.stream("GET", "/v1/stream", headers={"Accept": "text/event-stream"}) as s:
        assert s.headers["content-type"].startswith("text/event-stream")
        async for line in s.aiter_lines():
            if line.startswith("id:"):
                break  # the first message: the stream is open

    stream = {"method": "GET", "route": "/v1/stream"}

    async def stream_timed() -> bool:
        now = await scrape(client)
        return moved(before, now, "ceasefire_http_stream_seconds_count", **stream) == 1

    await eventually(stream_timed)  # once the server has seen the client go
    after = await scrape(client)

    read = {"method": "GET", "route": STATUS}
    # Both reads counted; only the one that did not wait in the request latency.
    assert moved(before, after, "ceasefire_http_requests_total", status="200", **read) == 2
    assert moved(before, after, "ceasefire_http_request_seconds_count", **read) == 1
    assert moved(before, after, "ceasefire_http_long_poll_seconds_count", **read) == 1
    assert moved(before, after, "ceasefire_http_long_poll_seconds_sum", **read) > 0
    assert moved(before, after, "ceasefire_http_request_seconds_count", **stream) == 0
    assert moved(before, after, "ceasefire_http_requests_total", status="200", **stream) == 1


def _load(database_url: str, lines: list[str]) -> None:
    done = subprocess.run(
        [CEASEFIRE, "load", "-"],
        input="\n".join(lines),
        env=_env(database_url),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


async def test_appends_by_another_process_are_counted(
    server: Server, client: httpx.AsyncClient, conflict: str
) -> None:
    """The issue's case: a CLI load moved the head and the API's counter stayed put."""
    before = await scrape(client)
    events = [signed(conflict)] + [
        alleged(conflict, occurred_at=f"2022-09-23T0{hour}:00:00Z") for hour in range(5)
    ]
    _load(server.database_url, [e.model_dump_json(exclude_none=True) for e in events])
    after = await scrape(client)

    assert moved(before, after, "ceasefire_log_head_position") == 6
    assert moved(before, after, "ceasefire_log_appended_events_total") == 6
    # This process's API appended none of them.
    appends = "ceasefire_appends_total"
    assert labelled(after, appends) == labelled(before, appends)


async def test_build_and_process(client: httpx.AsyncClient, db_kind: str) -> None:
    samples = await scrape(client)
    [(labels, one)] = labelled(samples, "ceasefire_build_info").items()
    version = (await client.get("/openapi.json")).json()["info"]["version"]
    assert dict(labels) == {
        "version": version,
        "python": platform.python_version(),  # the server runs this interpreter
        "database": db_kind,
    }
    assert one == 1
    for name in ("process_resident_memory_bytes", "process_open_fds", "process_start_time_seconds"):
        assert value(samples, name) > 0, name

    async def cpu_moved() -> bool:
        for _ in range(20):
            await client.get("/metrics")
        return value(await scrape(client), "process_cpu_seconds_total") > value(
            samples, "process_cpu_seconds_total"
        )

    await eventually(cpu_moved)


async def test_replay_progress(server: Server, client: httpx.AsyncClient) -> None:
    """What a replay's heartbeat writes (a rebuild from the API or the CLI, in any process)
    is what ``/metrics`` shows while it runs, and nothing once it is over."""
    idle = await scrape(client)
    assert labelled(idle, "ceasefire_replay_folded_events") == {}
    engine = create_engine(server.database_url)
    try:
        job = await start_job(engine, "rebuild", ["agreements"])
        try:
            async with engine.begin() as conn:
                await heartbeat(conn, job.id, 40, 100)
            running = await scrape(client)
            assert labelled(running, "ceasefire_replay_folded_events") == {
                (("kind", "rebuild"),): 40
            }
            assert labelled(running, "ceasefire_replay_total_events") == {
                (("kind", "rebuild"),): 100
            }
            async with engine.begin() as conn:
                await heartbeat(conn, job.id, 90, 120)
            later = await scrape(client)
            assert value(later, "ceasefire_replay_folded_events", kind="rebuild") == 90
            assert value(later, "ceasefire_replay_total_events", kind="rebuild") == 120
        finally:
            await finish_job(engine, job.id, "cancelled")  # no rebuild recorded as done
    finally:
        await engine.dispose()
    done = await scrape(client)
    assert labelled(done, "ceasefire_replay_folded_events") == {}
    assert labelled(done, "ceasefire_replay_total_events") == {}
