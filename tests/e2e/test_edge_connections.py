"""Hostile connections against ``ceasefire serve`` (issue 10, case 3): headers too large (431),
headers or a body too slow (408), more connections than the process may hold (the slowest
half-sent request is closed to make room; else 503 with Retry-After). Meanwhile another client
is answered.

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


@pytest.fixture
def guarded(edge_server: Server) -> Server:
    return edge_server


@pytest.fixture(scope="module")
def capped(database_url: str) -> Iterator[Server]:
    """Few connections, and a header deadline long enough that none passes in the test."""
    with start_server(
        database_url, serve=True, header_timeout="60", max_connections=str(MAX_CONNECTIONS)
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


async def test_headers_over_the_limit_are_431_and_never_buffered(guarded: Server) -> None:
    async with connection(guarded) as (reader, writer):
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n")
        assert_problem(*await answer(reader), 431, "headers-too-large")
    # An endless header: the server closes long before 8 MiB are sent.
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


async def test_half_sent_requests_are_closed_with_408_and_hold_nobody_meanwhile(
    guarded: Server,
) -> None:
    address = urlsplit(guarded.base_url)
    slow = []
    for n in range(11):
        opened = await asyncio.open_connection(address.hostname, address.port)
        if n:  # ten send half a request; one sends nothing at all
            opened[1].write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        slow.append(opened)
    try:
        await healthy(guarded)  # answered while they hang
        answers = await asyncio.gather(*(answer(reader) for reader, _ in slow))
    finally:
        for _, writer in slow:
            writer.close()
    for status, headers, body in answers:
        assert_problem(status, headers, body, 408, "header-timeout")


async def test_a_body_too_slow_is_408(guarded: Server) -> None:
    async with connection(guarded) as (reader, writer):
        writer.write(
            b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"type": '
        )
        status, headers, body = await answer(reader)
        assert_problem(status, headers, body, 408, "body-timeout")


async def test_past_the_connection_cap_half_sent_requests_make_room_then_503(
    capped: Server,
) -> None:
    async with (
        httpx.AsyncClient(base_url=capped.base_url, timeout=30) as http,
        connection(capped) as (reader, writer),
    ):
        # A half-sent request first (connections are accepted in the order they came) ...
        writer.write(b"GET /healthz HTTP/1.1\r\n")
        # ... then live connections up to the cap: streams, each holding its connection.
        streams = []
        for _ in range(MAX_CONNECTIONS - 1):
            response = await http.send(http.build_request("GET", "/v1/stream"), stream=True)
            assert response.status_code == 200
            streams.append(response)
        try:
            # A newcomer past the cap: the half-sent request is closed to make room for it.
            async with connection(capped) as (newcomer, newcomer_writer):
                newcomer_writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                line = await asyncio.wait_for(newcomer.readline(), timeout=30)
                assert line.startswith(b"HTTP/1.1 200"), line
                status, headers, body = await answer(reader)
                assert_problem(status, headers, body, 408, "header-timeout")
                assert b"make room" in body
                # Now every connection is live: the next one is refused, cleanly.
                async with connection(capped) as (refused, refused_writer):
                    refused_writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                    status, headers, body = await answer(refused)
                    assert_problem(status, headers, body, 503, "over-capacity")
                    assert int(headers["retry-after"]) > 0
        finally:
            for response in streams:
                await response.aclose()
    await healthy(capped)
