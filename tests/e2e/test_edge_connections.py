"""Hostile connections against ``ceasefire serve`` (issue 10, case 3), bounded by uvicorn's
documented settings (``app.http.edge``) and the ASGI guard (``app.http.limits``): headers too
large are a 431 and never buffered (an endless header: h11's 400), a body too slow is 408, an idle
keep-alive connection is closed, and past the connection cap a request is answered 503. What
uvicorn does not bound is held here as the guarantee it is: half-sent requests keep their
connections (a reverse proxy bounds those, README "Facing the internet") while another client
is still answered.

Raw sockets on loopback, so the requests can be as broken as an attacker makes them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.e2e.conftest import Server, start_server

pytestmark = pytest.mark.slow

MAX_CONNECTIONS = 12
KEEP_ALIVE_SECONDS = 1


@pytest.fixture
def guarded(edge_server: Server) -> Server:
    return edge_server


@pytest.fixture(scope="module")
def capped(database_url: str) -> Iterator[Server]:
    """Few connections, and a short keep-alive timeout."""
    with start_server(
        database_url,
        serve=True,
        keep_alive_timeout=str(KEEP_ALIVE_SECONDS),
        max_connections=str(MAX_CONNECTIONS),
    ) as server:
        yield server


@asynccontextmanager
async def connection(server: Server) -> AsyncIterator[tuple[asyncio.StreamReader, Any]]:
    address = urlsplit(server.base_url)
    reader, writer = await asyncio.open_connection(address.hostname, address.port)
    try:
        yield reader, writer
    finally:
        writer.close()


async def answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """The response the server wrote before closing: status, headers, body (read to EOF)."""
    raw = await asyncio.wait_for(reader.read(), timeout=30)
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body


def assert_problem(status: int, headers: dict[str, str], body: bytes, code: int, slug: str) -> None:
    assert status == code, (status, body)
    assert headers["content-type"] == "application/problem+json"
    problem = json.loads(body)
    assert problem["status"] == code and problem["type"] == f"/problems/{slug}"


async def healthy(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        response = await http.get("/healthz")
        assert response.status_code == 200


async def test_headers_over_the_limit_are_refused_and_never_buffered(guarded: Server) -> None:
    async with connection(guarded) as (reader, writer):
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n")
        assert_problem(*await answer(reader), 431, "headers-too-large")
    # An endless header: uvicorn's h11 parser refuses it (a plain 400) and closes the
    # connection long before 8 MiB are sent.
    async with connection(guarded) as (reader, writer):
        writer.write(b"GET /healthz HTTP/1.1\r\nX-Endless: ")
        sent = 0
        with pytest.raises(ConnectionError):
            while sent < 8 * 1024 * 1024:
                writer.write(b"a" * 65536)
                await writer.drain()
                sent += 65536
        assert sent < 8 * 1024 * 1024
    await healthy(guarded)


async def test_half_sent_requests_hold_their_connections_and_nobody_else(
    guarded: Server,
) -> None:
    """uvicorn has no deadline on a request's headers: these are held until their clients go
    away (the guarantee a reverse proxy adds), and meanwhile the server answers others."""
    address = urlsplit(guarded.base_url)
    slow = []
    for n in range(11):
        opened = await asyncio.open_connection(address.hostname, address.port)
        if n:  # ten send half a request; one sends nothing at all
            opened[1].write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            await opened[1].drain()
        slow.append(opened)
    try:
        await healthy(guarded)  # answered while they hang
        for reader, _ in slow:
            assert not reader.at_eof()
    finally:
        for _, writer in slow:
            writer.close()
    await healthy(guarded)


async def test_an_idle_keep_alive_connection_is_closed(capped: Server) -> None:
    async with connection(capped) as (reader, writer):
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        line = await asyncio.wait_for(reader.readline(), timeout=30)
        assert line.startswith(b"HTTP/1.1 200"), line
        # Then nothing from the client: the server closes it (EOF) after its keep-alive timeout.
        await asyncio.wait_for(reader.read(), timeout=30)
        assert reader.at_eof()


async def test_a_body_too_slow_is_408(guarded: Server) -> None:
    async with connection(guarded) as (reader, writer):
        writer.write(
            b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"type": '
        )
        status, headers, body = await answer(reader)
        assert_problem(status, headers, body, 408, "body-timeout")


async def test_past_the_connection_cap_a_request_is_answered_503(capped: Server) -> None:
    async with (
        httpx.AsyncClient(base_url=capped.base_url, timeout=30) as http,
        connection(capped) as (reader, writer),
    ):
        # A half-sent request, then live connections up to the cap: streams, each holding its
        # connection (uvicorn refuses at ``connections >= cap``, counting the newcomer).
        writer.write(b"GET /healthz HTTP/1.1\r\n")
        streams = []
        for _ in range(MAX_CONNECTIONS - 2):
            response = await http.send(http.build_request("GET", "/v1/stream"), stream=True)
            assert response.status_code == 200
            streams.append(response)
        try:
            async with connection(capped) as (refused, refused_writer):
                refused_writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                status, headers, _ = await answer(refused)
                assert status == 503 and headers["connection"] == "close"
            assert not reader.at_eof()  # the half-sent request still holds its connection
        finally:
            for response in streams:
                await response.aclose()
    await healthy(capped)  # room again once they are gone
