"""The live stream against a real server with a real SSE client (httpx streaming): catch-up,
live events, a disconnect mid-stream, events written meanwhile by another process, a resume
with Last-Event-ID that loses and repeats nothing; heartbeats and in-band notices."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Keys, Server, gauge, make_keys, problem_of, start_server
from tests.e2e.test_polling import agreement, allegation, post
from tests.webhooks.receiver import eventually

pytestmark = pytest.mark.slow


@dataclass
class Message:
    id: str | None = None
    event: str | None = None
    data: str = ""
    comments: list[str] = field(default_factory=list)

    def json(self) -> Any:
        return json.loads(self.data)


class Sse:
    """A minimal SSE parser (the WHATWG rules this stream uses): fields until a blank line."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()

    async def next(self, *, comments: bool = False) -> Message:
        message = Message()
        async for line in self._lines:
            if line == "":
                if message.event is not None or message.data or (comments and message.comments):
                    return message
                continue
            if line.startswith(":"):
                message.comments.append(line[1:].strip())
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "id":
                message.id = value
            elif name == "event":
                message.event = value
            elif name == "data":
                message.data = f"{message.data}\n{value}" if message.data else value
        raise EOFError("the stream ended")


@asynccontextmanager
async def stream(
    http: httpx.AsyncClient, params: dict[str, Any], last_event_id: str | None = None
) -> AsyncIterator[Sse]:
    headers = {"Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    async with http.stream("GET", "/v1/stream", params=params, headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        yield Sse(response)


async def test_disconnect_append_elsewhere_reconnect_and_compare(
    server: Server, client: httpx.AsyncClient, keys: Keys, conflict: str
) -> None:
    written = [await post(client, keys, agreement(conflict))]
    written.append(await post(client, keys, allegation(conflict)))
    received: list[Message] = []
    with start_server(server.database_url, webhook_worker="false") as other:
        async with httpx.AsyncClient(base_url=other.base_url, timeout=30) as elsewhere:
            async with stream(client, {"conflict": conflict, "after": 0}) as sse:
                received += [await sse.next(), await sse.next()]  # the catch-up
                written.append(await post(client, keys, allegation(conflict)))  # live, here
                received.append(await sse.next())
                written.append(await post(elsewhere, keys, allegation(conflict)))  # live, there
                received.append(await sse.next())
            # disconnected mid-stream: three more events while away, two from the other process
            written.append(await post(elsewhere, keys, allegation(conflict)))
            written.append(await post(client, keys, allegation(conflict)))
            written.append(await post(elsewhere, keys, allegation(conflict)))
            async with stream(client, {"conflict": conflict}, received[-1].id) as sse:
                received += [await sse.next() for _ in range(3)]
                written.append(await post(elsewhere, keys, allegation(conflict)))
                received.append(await sse.next())
    assert [int(m.id or 0) for m in received] == [w["position"] for w in written]
    assert [m.json()["id"] for m in received] == [w["id"] for w in written]
    assert [m.event for m in received] == [
        "agreement.signed",
        *["violation.alleged"] * (len(written) - 1),
    ]
    page = (await client.get(f"/v1/conflicts/{conflict}/events")).json()["events"]
    assert [m.json() for m in received] == page  # the same JSON as the feed


async def test_filters_by_type_and_the_whole_log(
    client: httpx.AsyncClient, keys: Keys, conflict: str
) -> None:
    first = await post(client, keys, agreement(conflict))
    after = first["position"] - 1
    alleged = await post(client, keys, allegation(conflict))
    params = {"types": "violation.alleged,allegation.retracted", "after": after}
    async with stream(client, params) as sse:
        message = await sse.next()
        assert (message.id, message.event) == (str(alleged["position"]), "violation.alleged")
    async with stream(client, {"after": after}) as sse:  # every conflict
        assert (await sse.next()).id == str(first["position"])


async def test_follows_several_conflicts_and_only_them(
    client: httpx.AsyncClient, keys: Keys, conflict: str
) -> None:
    """What a page showing several conflicts asks: ``conflict`` repeated; another conflict's
    events, before and while it follows, never reach it."""
    first, second, other = f"{conflict}-a", f"{conflict}-b", f"{conflict}-x"
    start = (await post(client, keys, agreement(other)))["position"] - 1
    wanted = [await post(client, keys, agreement(first))]
    await post(client, keys, allegation(other))
    wanted.append(await post(client, keys, agreement(second)))
    params = {"conflict": [second, first], "after": start}
    async with stream(client, params) as sse:
        received = [await sse.next(), await sse.next()]  # the catch-up
        await post(client, keys, allegation(other))
        wanted.append(await post(client, keys, allegation(first)))
        received.append(await sse.next())  # live: the other's allegation was left out
    assert [int(m.id or 0) for m in received] == [w["position"] for w in wanted]
    too_many = await client.get("/v1/stream", params={"conflict": [f"c{i}" for i in range(101)]})
    problem_of(too_many, 422, "validation-error")


async def test_bad_resume_points_and_types_are_problems(client: httpx.AsyncClient) -> None:
    bad_id = await client.get("/v1/stream", headers={"Last-Event-ID": "yesterday"})
    problem_of(bad_id, 400, "invalid-last-event-id")
    bad_type = await client.get("/v1/stream", params={"types": "violation.alleged,nope"})
    problem_of(bad_type, 422, "validation-error")


async def test_a_resume_point_past_the_head_is_told_in_band(
    client: httpx.AsyncClient, keys: Keys, conflict: str
) -> None:
    head = (await post(client, keys, agreement(conflict)))["position"]
    async with stream(client, {"conflict": conflict}, str(head + 1_000_000)) as sse:
        notice = await sse.next()
        assert notice.event == "position-unknown"
        assert int(notice.id or 0) >= head
        assert notice.json()["last_event_id"] == head + 1_000_000


@pytest.fixture
async def own_database(fresh_database_url: str) -> tuple[str, Keys]:
    return fresh_database_url, await make_keys(fresh_database_url)


async def test_heartbeats_and_a_position_too_old_are_told_in_band(
    own_database: tuple[str, Keys], conflict: str
) -> None:
    url, keys = own_database
    with start_server(url, stream_heartbeat="0.2", stream_replay_limit="2") as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
            written = [await post(http, keys, agreement(conflict))]
            written += [await post(http, keys, allegation(conflict)) for _ in range(4)]
            async with stream(http, {}, "0") as sse:
                notice = await sse.next()
                assert notice.event == "position-too-old"
                assert notice.id == "3"  # the head (5) less the limit (2)
                body = notice.json()
                assert (body["last_event_id"], body["resumed_after"]) == (0, 3)
                assert "/v1/events?after=0" in body["detail"]
                assert [(await sse.next()).id for _ in range(2)] == ["4", "5"]
                idle = await sse.next(comments=True)
                assert idle.comments == ["heartbeat"] and idle.event is None
            assert [w["position"] for w in written] == [1, 2, 3, 4, 5]


async def until_held(http: httpx.AsyncClient) -> None:
    """Until the server (a process of the test's own) holds a stream and a long-poll."""

    async def held() -> bool:
        streams = await gauge(http, "ceasefire_streams_open")
        return streams >= 1 and await gauge(http, "ceasefire_long_polls_waiting") >= 1

    await eventually(held)


async def test_a_stopping_server_ends_its_streams_and_long_polls(
    server: Server, keys: Keys, conflict: str
) -> None:
    """uvicorn waits for open responses before it stops: streams and long-polls must end when
    it is asked to stop, or the process would hang on them."""
    with start_server(server.database_url, webhook_worker="false") as doomed:
        async with httpx.AsyncClient(base_url=doomed.base_url, timeout=30) as http:
            await post(http, keys, agreement(conflict))
            status = f"/v1/conflicts/{conflict}/status"
            tag = (await http.get(status)).headers["etag"]
            async with stream(http, {"conflict": conflict}) as sse:
                polling = asyncio.create_task(
                    http.get(status, headers={"If-None-Match": tag, "Prefer": "wait=60"})
                )
                await until_held(http)  # both are waiting on the server
                doomed.process.terminate()
                with pytest.raises(EOFError):
                    await sse.next()
                assert (await polling).status_code == 304
            await asyncio.to_thread(doomed.process.wait, 30)
