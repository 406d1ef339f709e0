"""Hostile reads against a real server (issue 10, cases 1, 7 and 10; issue 22, case 1): an
If-None-Match built to make a pattern backtrack, an event dated after 2286, HEAD on every
read, and one client asking for a long conflict's timeline over and over."""

from __future__ import annotations

import asyncio
import itertools
import statistics
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from app.services.appending import Appender
from events.log.database import create_engine
from events.log.store import EventStore
from tests.e2e.conftest import Keys, Server, problem_of
from tests.e2e.test_polling import agreement, allegation, post, until_waiting, waiting
from tests.factories import alleged, retracted, signed

pytestmark = pytest.mark.slow


async def test_an_if_none_match_built_to_backtrack_is_answered_at_once(
    client: httpx.AsyncClient, keys: Keys, conflict: str
) -> None:
    await post(client, keys, agreement(conflict))
    url = f"/v1/conflicts/{conflict}/status"
    hostile = {"If-None-Match": "x" + " " * 16_000 + "x"}

    async def attacks() -> list[int]:
        return [(await client.get(url, headers=hostile)).status_code for _ in range(5)]

    # With the quadratic pattern each took 12 s of the event loop, everyone waiting: five of
    # them and a health check beside them could not end within the bound below.
    statuses, health = await asyncio.wait_for(
        asyncio.gather(attacks(), client.get("/healthz")), timeout=20
    )
    assert statuses == [200] * 5
    assert health.status_code == 200
    tag = (await client.get(url)).headers["etag"]
    padded = {"If-None-Match": f'W/"x",{" " * 8000}{tag} ,"y"'}
    assert (await client.get(url, headers=padded)).status_code == 304


async def test_an_event_after_2286_leaves_tags_of_now_matchable(
    client: httpx.AsyncClient, keys: Keys, conflict: str
) -> None:
    # The instant a view of now next changes is 2299: 17 digits of microseconds in its tag.
    # (Nothing has occurred by now, so no report's age ticks the tag daily.)
    await post(client, keys, agreement(conflict, "2299-09-14T16:00:00Z"))
    await post(client, keys, agreement(conflict, "2300-01-01T00:00:00Z", agreement_id="cf-2"))
    url = f"/v1/conflicts/{conflict}/status"
    first = await client.get(url)
    assert first.status_code == 200
    until = first.headers["etag"].strip('"').split(".")[1]
    assert len(until) >= 17, first.headers["etag"]
    current = {"If-None-Match": first.headers["etag"]}
    assert (await client.get(url, headers=current)).status_code == 304
    # And a long-poll waits for a change instead of answering at once: released by one.
    before = await waiting(client)
    polling = asyncio.create_task(client.get(url, headers=current | {"Prefer": "wait=60"}))
    await until_waiting(client, before + 1)
    written = await post(client, keys, allegation(conflict))
    released = await polling
    assert released.status_code == 200
    assert released.headers["preference-applied"] == "wait=60"  # it waited, and was released
    assert f"s{written['position']}." in released.headers["etag"]


def _read_paths(openapi: dict[str, Any], conflict: str) -> list[str]:
    values = {
        "conflict": conflict,
        "webhook_id": str(uuid.uuid4()),
        "delivery_id": "1",
        "job_id": str(uuid.uuid4()),
    }
    paths = []
    for path, operations in openapi["paths"].items():
        if "get" not in operations or path == "/v1/stream":
            continue
        for name, value in values.items():
            path = path.replace("{" + name + "}", value)
        assert "{" not in path, path
        paths.append(path)
    return paths


async def test_head_answers_every_read_like_get_without_a_body(
    server: Server, client: httpx.AsyncClient, keys: Keys, conflict: str
) -> None:
    await post(client, keys, agreement(conflict))
    openapi = (await client.get("/openapi.json")).json()
    paths = _read_paths(openapi, conflict)
    assert f"/v1/conflicts/{conflict}/status" in paths
    compared = ("content-type", "content-length", "etag", "cache-control")
    for path in [*paths, "/openapi.json", "/v1/nowhere"]:
        get = await client.get(path)
        head = await client.head(path)
        assert head.status_code == get.status_code, (path, head.status_code, get.status_code)
        assert head.content == b"", path
        for name in compared:
            if path == "/metrics" and name == "content-length":
                continue  # its counters moved between the two requests
            assert head.headers.get(name) == get.headers.get(name), (path, name)
        if "etag" in get.headers:
            again = await client.head(path, headers={"If-None-Match": get.headers["etag"]})
            assert again.status_code == 304, path
    # The live stream: its headers, then the end (not an endless answer).
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        stream = await asyncio.wait_for(http.head("/v1/stream"), timeout=30)
    assert stream.status_code == 200
    assert stream.headers["content-type"].startswith("text/event-stream")
    assert stream.content == b""


async def test_the_timeline_comes_in_pages_like_the_feed(
    client: httpx.AsyncClient, keys: Keys, conflict: str
) -> None:
    await post(client, keys, agreement(conflict))
    for day in range(20, 25):
        await post(client, keys, allegation(conflict, f"2022-09-{day}T00:00:00Z"))
    url = f"/v1/conflicts/{conflict}/timeline"
    whole = (await client.get(url)).json()
    assert whole["next_after"] is None and len(whole["entries"]) == 6
    entries: list[dict[str, Any]] = []
    after = 0
    while True:
        page = (await client.get(url, params={"after": after, "limit": 4})).json()
        assert len(page["entries"]) <= 4
        entries += page["entries"]
        if page["next_after"] is None:
            break
        after = page["next_after"]
    assert entries == whole["entries"]


async def test_the_timeline_pages_link_to_the_next(
    client: httpx.AsyncClient, keys: Keys, conflict: str
) -> None:
    await post(client, keys, agreement(conflict))
    for day in range(20, 25):
        await post(client, keys, allegation(conflict, f"2022-09-{day}T00:00:00Z"))
    whole = (await client.get(f"/v1/conflicts/{conflict}/timeline")).json()["entries"]
    entries: list[dict[str, Any]] = []
    url: str | None = f"/v1/conflicts/{conflict}/timeline?limit=4&as_of=2022-09-30T00:00:00Z"
    pages = 0
    while url is not None:
        response = await client.get(url)
        page = response.json()
        entries += page["entries"]
        pages += 1
        url = response.links.get("next", {}).get("url")
        assert (url is None) == (page["next_after"] is None), (url, page["next_after"])
        if url is not None:
            assert f"after={page['next_after']}" in url and "as_of=" in url, url
    assert pages == 2 and entries == whole


async def test_the_conflicts_come_in_pages_with_a_link_to_the_next(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    for _ in range(3):
        await post(client, keys, agreement(f"test-{uuid.uuid4().hex[:12]}"))
    seen: list[str] = []
    url: str | None = "/v1/conflicts?limit=2"
    while url is not None and len(seen) < 6:
        response = await client.get(url)
        page = [summary["conflict"] for summary in response.json()]
        assert 0 < len(page) <= 2
        seen += page
        url = response.links.get("next", {}).get("url")
    assert len(seen) == 6 and seen == sorted(seen) and len(set(seen)) == 6


async def _long_conflict(database_url: str, conflict: str, size: int) -> datetime:
    """A conflict of ``size`` events, appended through the store 500 at a time: a truce, then
    allegations five hours apart, every fifth retracted a day later. Its last allegation's time."""
    start = datetime(2020, 1, 1, tzinfo=UTC)
    events = [signed(conflict, occurred_at=start)]
    when = start
    while len(events) < size:
        when = start + timedelta(days=1, hours=5 * len(events))
        events.append(alleged(conflict, occurred_at=when))
        if len(events) % 5 == 0:
            events.append(retracted(conflict, events[-1].id, occurred_at=when + timedelta(days=1)))
    store = EventStore(create_engine(database_url))
    try:
        for first in range(0, len(events), 500):
            await Appender(store).append(events[first : first + 500])
    finally:
        await store.close()
    return when


async def test_healthz_answers_while_one_client_asks_for_long_timelines(
    server: Server, conflict: str
) -> None:
    """Six requests at a time for the story of a 3,000-event conflict, each at another as_of
    (none in the cache), from one address: each used to be folded on the event loop, in time
    growing as the square of the conflict, and /healthz waited seconds behind them. Now the
    fold is linear and runs in a thread, and past CEASEFIRE_MAX_READS_PER_CLIENT (4) at once
    the client is told 429 with Retry-After (which it honours here, as it would not have to:
    a refusal costs the server next to nothing)."""
    last = await _long_conflict(server.database_url, conflict, 3000)
    url = f"/v1/conflicts/{conflict}/timeline"
    moments = (last - timedelta(minutes=i) for i in itertools.count())
    statuses: list[int] = []
    done = threading.Event()
    latencies: list[float] = []

    def probe() -> None:
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            while not done.is_set():
                started = time.perf_counter()
                assert http.get("/healthz").status_code == 200
                latencies.append(time.perf_counter() - started)
                time.sleep(0.05)

    async def ask(http: httpx.AsyncClient) -> None:
        while not done.is_set():
            response = await http.get(url, params={"as_of": next(moments).isoformat()})
            statuses.append(response.status_code)
            if response.status_code == 429:
                problem_of(response, 429, "too-many-requests")
                await asyncio.sleep(float(response.headers["retry-after"]))
            else:
                assert response.status_code == 200, response.text

    async with httpx.AsyncClient(base_url=server.base_url, timeout=120) as http:
        askers = [asyncio.create_task(ask(http)) for _ in range(6)]
        prober = asyncio.create_task(asyncio.to_thread(probe))
        await asyncio.sleep(0)
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline and not all(t.done() for t in askers):
            await asyncio.wait(askers, timeout=0.5)
        done.set()
        await asyncio.gather(*askers, prober)
    served = statuses.count(200)
    median = statistics.median(latencies)
    assert served >= 4 and 429 in statuses, statuses
    # The aim is under 50 ms; the bound is generous for a loaded 2-core machine (it was 2.6 s).
    assert median < 0.25, (median, sorted(latencies), served)
