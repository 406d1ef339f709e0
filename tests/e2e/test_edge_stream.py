"""Hostile and unlucky stream clients against a real server (issue 10, cases 4-6): clients that
stop reading hold a bounded amount of the server's memory; many streams are served by one
read per append and all get the event; a client that drops before its first event reconnects
as a browser does and loses nothing; past the caps on streams and long-polls, 503 with
Retry-After; and one address cannot take every place under them (issue 22, case 12): past its
own caps it is told 429, and another address still gets its stream or its long-poll."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from app.services.appending import Appender
from events.log.database import create_engine
from events.log.store import EventStore
from tests.e2e.conftest import EDGE_LIMITS, Keys, Server, problem_of, start_server
from tests.e2e.test_polling import agreement, allegation, post
from tests.factories import alleged, signed

pytestmark = pytest.mark.slow

PAGE_BYTES = int(EDGE_LIMITS["max_page_bytes"])


@pytest.fixture
def small(edge_server: Server) -> Server:
    """A server with a small stream buffer, small pages, a small cache and low caps."""
    return edge_server


@pytest.fixture(scope="module")
async def heavy(database_url: str) -> str:
    """A conflict of 500 events of about 9 KB each (4.5 MB): what a stream or a page reading
    them at once would hold."""
    conflict = f"heavy-{uuid.uuid4().hex[:12]}"
    store = EventStore(create_engine(database_url))
    try:
        note = "n" * 9000
        await Appender(store).append(
            [signed(conflict)] + [alleged(conflict, description=note) for _ in range(499)]
        )
    finally:
        await store.close()
    return conflict


def resident(server: Server) -> int:
    """The server's resident memory, in bytes."""
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    line = next(x for x in status.splitlines() if x.startswith("VmRSS:"))
    return int(line.split()[1]) * 1024


@dataclass
class Dispatched:
    last_event_id: str
    event: str
    data: str


class Browser:
    """What an ``EventSource`` does with the stream (WHATWG HTML, 9.2.6): fields gather until a
    blank line dispatches them; the ``id`` becomes the last event id at every dispatch, even
    one with no data (which fires no event)."""

    def __init__(self) -> None:
        self.last_event_id = ""

    async def dispatches(self, response: httpx.Response) -> AsyncIterator[Dispatched]:
        """Every dispatch, events (with data) and the rest (without) alike."""
        data: list[str] = []
        event = ""
        last_id = self.last_event_id
        async for line in response.aiter_lines():
            if line == "":
                self.last_event_id = last_id
                yield Dispatched(self.last_event_id, event or "message", "\n".join(data))
                data, event = [], ""
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "id" and "\x00" not in value:
                last_id = value
            elif name == "event":
                event = value
            elif name == "data":
                data.append(value)

    async def first_event(self, response: httpx.Response) -> Dispatched:
        async for dispatched in self.dispatches(response):
            if dispatched.data:
                return dispatched
        raise EOFError("the stream ended")

    @asynccontextmanager
    async def connect(
        self, http: httpx.AsyncClient, params: dict[str, Any]
    ) -> AsyncIterator[httpx.Response]:
        headers = {"Last-Event-ID": self.last_event_id} if self.last_event_id else {}
        async with http.stream("GET", "/v1/stream", params=params, headers=headers) as response:
            assert response.status_code == 200
            yield response


async def test_a_browser_that_drops_before_any_event_reconnects_and_loses_nothing(
    client: httpx.AsyncClient, keys: Keys, conflict: str
) -> None:
    await post(client, keys, agreement(conflict))
    browser = Browser()
    async with browser.connect(client, {"conflict": conflict}) as response:
        # "From now on": the opening message comes, and the client drops after it.
        await anext(browser.dispatches(response))
    assert browser.last_event_id != "", "the first message carries no id"
    missed = await post(client, keys, allegation(conflict))  # while it is away
    await post(client, keys, allegation(conflict, "2022-09-24T00:00:00Z"))
    async with browser.connect(client, {"conflict": conflict}) as response:
        first = await browser.first_event(response)
    assert first.event == "violation.alleged"
    assert first.last_event_id == str(missed["position"])


async def test_clients_that_stop_reading_hold_a_bounded_amount_of_memory(
    small: Server, heavy: str
) -> None:
    conflict = heavy
    address = urlsplit(small.base_url)

    async def stalled() -> socket.socket:
        """A client that reads the answer's start and one event, then nothing more."""
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        await loop.sock_connect(sock, (address.hostname, address.port))
        request = f"GET /v1/stream?conflict={conflict}&after=0 HTTP/1.1\r\nHost: x\r\n\r\n"
        await loop.sock_sendall(sock, request.encode())
        seen = b""
        while b"event: violation.alleged" not in seen:
            seen += await loop.sock_recv(sock, 4096)
        return sock

    # A few first: what serving streams costs at all (connections to the database and their
    # caches) is not what is measured.
    warm = [await stalled() for _ in range(5)]
    before = resident(small)
    clients = [await stalled() for _ in range(20)]
    try:
        grown = resident(small) - before
        async with httpx.AsyncClient(base_url=small.base_url, timeout=30) as http:
            assert (await http.get("/healthz")).status_code == 200  # not held up by them
        # Each pins at most its buffer (64 KiB) and a stream's own state: about 25 MB for the
        # twenty on SQLite, measured, its connections' caches included. Unbounded (a buffer of
        # 64 MiB), each pinned its ~4.5 MB page: 100 MB.
        assert grown < 50 * 1024 * 1024, grown
    finally:
        for sock in [*warm, *clients]:
            sock.close()


async def test_pages_and_the_cache_of_them_are_bounded_in_bytes(small: Server, heavy: str) -> None:
    """40 pages over large events, each its own cache entry: unbounded, each page was the
    4.5 MB of the 500 events, every one of them kept (180 MB)."""
    async with httpx.AsyncClient(base_url=small.base_url, timeout=30) as http:
        url = f"/v1/conflicts/{heavy}/events"
        first = await http.get(url, params={"limit": 1000})
        page = first.json()
        assert len(first.content) <= PAGE_BYTES + 10_000  # the page ends early ...
        assert 0 < len(page["events"]) < 500
        rest = await http.get(url, params={"after": page["next_after"], "limit": 1000})
        assert rest.json()["events"][0]["position"] > page["next_after"]  # ... and goes on
        before = resident(small)
        positions = [e["position"] for e in page["events"]]
        for after in positions[:40]:
            response = await http.get(url, params={"after": after, "limit": 1000})
            assert response.status_code == 200
            assert len(response.content) <= PAGE_BYTES + 10_000
        grown = resident(small) - before
        assert (await http.get("/healthz")).status_code == 200
    # 40 pages of at most 256 KiB, at most 4 MiB of them kept: ~10 MB in flight at most.
    assert grown < 50 * 1024 * 1024, grown


async def test_many_streams_get_one_append_and_the_server_answers_meanwhile(
    small: Server, keys: Keys, conflict: str
) -> None:
    async with httpx.AsyncClient(base_url=small.base_url, timeout=30) as http:
        await post(http, keys, agreement(conflict))
        streams = []
        try:
            for _ in range(20):
                request = http.build_request("GET", "/v1/stream", params={"conflict": conflict})
                response = await http.send(request, stream=True)
                assert response.status_code == 200
                streams.append(response)
            written = await post(http, keys, allegation(conflict))
            assert (await http.get("/healthz")).status_code == 200

            async def first_event(response: httpx.Response) -> str:
                async for line in response.aiter_lines():
                    if line.startswith("id:") and "event:" not in line:
                        position = line.removeprefix("id:").strip()
                        if position == str(written["position"]):
                            return position
                raise EOFError

            got = await asyncio.wait_for(
                asyncio.gather(*(first_event(r) for r in streams)), timeout=60
            )
            assert got == [str(written["position"])] * len(streams)
        finally:
            for response in streams:
                await response.aclose()


async def test_past_the_stream_cap_503_with_retry_after(small: Server) -> None:
    async with httpx.AsyncClient(base_url=small.base_url, timeout=30) as http:
        streams = []
        try:
            while True:
                response = await http.send(http.build_request("GET", "/v1/stream"), stream=True)
                if response.status_code != 200:
                    break
                streams.append(response)
                assert len(streams) <= EDGE_LIMITS["max_streams"]
            await response.aread()
            problem_of(response, 503, "over-capacity")
            assert int(response.headers["retry-after"]) > 0
        finally:
            for opened in streams:
                await opened.aclose()


async def test_past_the_long_poll_cap_503_with_retry_after(
    small: Server, keys: Keys, conflict: str
) -> None:
    async with httpx.AsyncClient(base_url=small.base_url, timeout=30) as http:
        await post(http, keys, agreement(conflict))
        url = f"/v1/conflicts/{conflict}/events"
        tag = (await http.get(url)).headers["etag"]
        wait = {"If-None-Match": tag, "Prefer": "wait=60"}
        # Three wait where two may: one is refused at once, the others wait for an append.
        polls = [asyncio.create_task(http.get(url, headers=wait)) for _ in range(3)]
        try:
            done, _ = await asyncio.wait(polls, return_when=asyncio.FIRST_COMPLETED)
            refused = done.pop().result()
            problem_of(refused, 503, "over-capacity")
            assert int(refused.headers["retry-after"]) > 0
            await post(http, keys, allegation(conflict))  # releases the two
            statuses = sorted(r.status_code for r in await asyncio.gather(*polls))
            assert statuses == [200, 200, 503]
        finally:
            for task in polls:
                task.cancel()


@pytest.fixture(scope="module")
def shared(database_url: str) -> Iterator[Server]:
    """A server whose caps per process one client could fill on its own, but for the caps per
    client: 8 streams, 3 of them per address; 8 long-polls, 2 per address."""
    with start_server(
        database_url,
        max_streams="8",
        max_streams_per_client="3",
        max_long_polls="8",
        max_long_polls_per_client="2",
    ) as server:
        yield server


def client_from(server: Server, address: str) -> httpx.AsyncClient:
    """A client whose connections come from ``address`` (any of 127.0.0.0/8 is this host)."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=server.base_url, timeout=30, transport=transport)


async def test_one_address_cannot_take_every_stream(shared: Server) -> None:
    async with (
        client_from(shared, "127.0.0.1") as greedy,
        client_from(shared, "127.0.0.2") as other,
    ):
        streams = []
        try:
            while True:
                response = await greedy.send(greedy.build_request("GET", "/v1/stream"), stream=True)
                if response.status_code != 200:
                    break
                streams.append(response)
                assert len(streams) <= 8
            await response.aread()
            problem_of(response, 429, "too-many-requests")
            assert int(response.headers["retry-after"]) > 0
            assert len(streams) == 3
            theirs = await other.send(other.build_request("GET", "/v1/stream"), stream=True)
            streams.append(theirs)
            assert theirs.status_code == 200
            opening = await anext(theirs.aiter_lines())
            assert opening.startswith("retry:")
        finally:
            for opened in streams:
                await opened.aclose()


async def test_one_address_cannot_take_every_long_poll(
    shared: Server, keys: Keys, conflict: str
) -> None:
    async with (
        client_from(shared, "127.0.0.1") as greedy,
        client_from(shared, "127.0.0.2") as other,
    ):
        await post(greedy, keys, agreement(conflict))
        url = f"/v1/conflicts/{conflict}/events"
        tag = (await greedy.get(url)).headers["etag"]
        wait = {"If-None-Match": tag, "Prefer": "wait=60"}
        # Three wait where two may from one address: one is refused at once.
        polls = [asyncio.create_task(greedy.get(url, headers=wait)) for _ in range(3)]
        theirs = asyncio.create_task(other.get(url, headers=wait))
        try:
            done, _ = await asyncio.wait(polls, timeout=20, return_when=asyncio.FIRST_COMPLETED)
            assert done, "no long-poll was refused"
            refused = done.pop().result()
            problem_of(refused, 429, "too-many-requests")
            assert int(refused.headers["retry-after"]) > 0
            assert not theirs.done()  # the other address's waits
            await post(greedy, keys, allegation(conflict))  # releases the three still waiting
            statuses = sorted(r.status_code for r in await asyncio.gather(*polls))
            assert statuses == [200, 200, 429]
            assert (await theirs).status_code == 200
        finally:
            for task in [*polls, theirs]:
                task.cancel()
