"""The read side on a real PostgreSQL hot standby (``.ci/replica.sh``): a server whose reads go
to the standby keeps read-your-writes with ``min_position``, never skips in the feed while
the standby lags, wakes long-polls and streams on an append to the primary, and reads the
primary while the standby is stopped, then the standby again once it is back.

The standby lags on demand: its replay is paused (``pg_wal_replay_pause``) while the primary
commits. A read that reflects less than the primary has was answered by the standby."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.conftest import make_database
from tests.e2e.conftest import Keys, Server, make_keys, problem_of, start_server
from tests.e2e.replica import (
    paused_replay,
    replayed,
    require_standby,
    standby_url,
    stopped,
    tag_position,
)
from tests.e2e.test_polling import agreement, allegation, post
from tests.e2e.test_stream import stream

pytestmark = pytest.mark.slow

#: A failure guard for conditions that come true on their own (replay resumes, a standby is
#: retried), not a measure: the conditions are waited on.
_PATIENCE = 60.0


@pytest.fixture(scope="module")
def primary_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    asyncio.run(require_standby())
    yield from make_database("postgresql", Path(tmp_path_factory.mktemp("replica")))


@pytest.fixture(scope="module")
async def read_url(primary_url: str) -> str:
    return await standby_url(primary_url)


@pytest.fixture(scope="module")
async def replicated(primary_url: str, read_url: str) -> AsyncIterator[tuple[Server, Keys]]:
    """A server on the primary whose reads go to the standby (short waits, to keep it quick)."""
    keys = await make_keys(primary_url)
    with start_server(
        primary_url, read_database_url=read_url, replica_catch_up="0.3", replica_retry="0.3"
    ) as server:
        yield server, keys


@pytest.fixture
async def http(replicated: tuple[Server, Keys]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=replicated[0].base_url, timeout=60) as client:
        yield client


async def until(condition: Callable[[], Awaitable[bool]]) -> None:
    deadline = time.monotonic() + _PATIENCE
    while not await condition():
        assert time.monotonic() < deadline, "the condition never came true"
        await asyncio.sleep(0.02)


async def test_read_your_writes_with_min_position(
    http: httpx.AsyncClient, replicated: tuple[Server, Keys], read_url: str, conflict: str
) -> None:
    keys = replicated[1]
    url = f"/v1/conflicts/{conflict}/status"
    signed = await post(http, keys, agreement(conflict))
    first = await http.get(url, params={"min_position": signed["position"]})
    assert first.status_code == 200, first.text
    assert tag_position(first.headers["etag"]) == signed["position"]
    assert int(first.headers["log-position"]) >= signed["position"]
    await replayed(read_url, signed["position"])  # the lag below starts after the agreement
    async with paused_replay():
        alleged = await post(http, keys, allegation(conflict))
        lagging = await http.get(url)
        assert lagging.status_code == 200
        assert tag_position(lagging.headers["etag"]) == signed["position"]  # the standby's
        assert "log-position" not in lagging.headers

        mine = await http.get(url, params={"min_position": alleged["position"]})
        assert mine.status_code == 200, mine.text
        assert tag_position(mine.headers["etag"]) == alleged["position"]
        assert mine.json()["position"] == alleged["position"]
        assert int(mine.headers["log-position"]) >= alleged["position"]
        # A client that holds the newer tag is never answered the older state.
        held = await http.get(url, headers={"If-None-Match": mine.headers["etag"]})
        assert held.status_code == 304

        for path in (url, "/v1/events", f"/v1/conflicts/{conflict}/allegations"):
            beyond = await http.get(path, params={"min_position": alleged["position"] + 1000})
            body = problem_of(beyond, 409, "position-not-reached")
            assert body["min_position"] == alleged["position"] + 1000

    async def caught_up() -> bool:
        response = await http.get(url)
        return tag_position(response.headers["etag"]) == alleged["position"]

    await until(caught_up)


async def test_the_feed_never_skips_while_the_standby_lags(
    http: httpx.AsyncClient, replicated: tuple[Server, Keys], conflict: str
) -> None:
    keys = replicated[1]
    conflicts = [f"{conflict}-{i}" for i in range(4)]
    for name in conflicts:
        await post(http, keys, agreement(name))
    acknowledged: list[int] = []
    seen: list[int] = []
    done = asyncio.Event()

    async def write(name: str) -> None:
        for _ in range(8):
            acknowledged.append((await post(http, keys, allegation(name)))["position"])

    async def lag() -> None:
        while not done.is_set():
            async with paused_replay():
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.05)

    async def read() -> None:
        after = 0
        while True:
            response = await http.get("/v1/events", params={"after": after, "limit": 7})
            assert response.status_code == 200, response.text
            page = response.json()
            positions = [event["position"] for event in page["events"]]
            # Each page starts right after the last position seen: nothing skipped, nothing twice.
            assert positions == list(range(after + 1, after + 1 + len(positions))), (after, page)
            seen.extend(positions)
            after = page["next_after"]
            if done.is_set() and after >= max(acknowledged):
                return
            await asyncio.sleep(0.005)

    lagging = asyncio.ensure_future(lag())
    reading = asyncio.ensure_future(read())
    await asyncio.gather(*(write(name) for name in conflicts))
    done.set()
    await lagging
    await asyncio.wait_for(reading, _PATIENCE)
    assert len(seen) == len(set(seen))
    assert set(acknowledged) <= set(seen)


async def test_long_polls_and_streams_wake_on_an_append_to_the_primary(
    http: httpx.AsyncClient, replicated: tuple[Server, Keys], conflict: str
) -> None:
    """Standbys get no NOTIFY: the process listens on the primary and reads where the append
    was replayed, the standby (streaming) or the primary (the standby paused)."""
    keys = replicated[1]
    url = f"/v1/conflicts/{conflict}/status"
    signed = await post(http, keys, agreement(conflict))
    tag = (await http.get(url, params={"min_position": signed["position"]})).headers["etag"]
    async with stream(http, {"conflict": conflict, "after": signed["position"]}) as events:
        for paused in (False, True):
            async with paused_replay() if paused else nullcontext():
                poll = asyncio.ensure_future(
                    http.get(url, headers={"If-None-Match": tag, "Prefer": "wait=50"})
                )
                alleged = await post(http, keys, allegation(conflict))
                answered = await poll
                assert answered.status_code == 200, (paused, answered.status_code)
                assert tag_position(answered.headers["etag"]) == alleged["position"]
                assert answered.json()["position"] == alleged["position"]
                message = await asyncio.wait_for(events.next(), _PATIENCE)
                assert message.id == str(alleged["position"]), paused
                tag = answered.headers["etag"]


async def test_a_stopped_standby_sends_reads_to_the_primary_until_it_is_back(
    http: httpx.AsyncClient, replicated: tuple[Server, Keys], read_url: str, conflict: str
) -> None:
    keys = replicated[1]
    url = f"/v1/conflicts/{conflict}/status"
    await post(http, keys, agreement(conflict))
    async with stopped():
        alleged = await post(http, keys, allegation(conflict))
        for _ in range(3):  # the first read may find the standby gone under it: still answered
            answered = await http.get(url)
            assert answered.status_code == 200, answered.text
            assert tag_position(answered.headers["etag"]) == alleged["position"]
        feed = await http.get("/v1/events", params={"min_position": alleged["position"]})
        assert feed.status_code == 200
        assert feed.json()["events"][-1]["position"] == alleged["position"]

    await replayed(read_url, alleged["position"])  # back, and as far as the primary was
    async with paused_replay():
        later = await post(http, keys, allegation(conflict))

        async def from_the_standby() -> bool:  # it lags: only it can answer less than `later`
            # A view of its own each time (``as_of`` to the microsecond): a read made while the
            # standby was still left alone was answered by the primary, and the representation
            # cache rightly keeps serving that newer answer for the same view, so polling one
            # view could not show where reads go.
            as_of = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
            response = await http.get(url, params={"as_of": as_of})
            assert response.status_code == 200, response.text
            return tag_position(response.headers["etag"]) < later["position"]

        await until(from_the_standby)
