"""A real server for end-to-end tests: uvicorn in a subprocess on a free loopback port.

``server`` is one process per database kind, shared by the session (tests keep apart by
conflict slug). ``start_server(url, **env)`` starts another one, for a test that needs a
database of its own or other settings (``CEASEFIRE_REQUIRE_READ_KEY=true``…), or a second
process on the same database. ``keys`` holds a reader, a writer and an admin key of the shared
database; ``make_keys(url)`` makes them for another one.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.services.api_keys import create_key
from events.log.database import create_engine
from tests.conftest import make_database

__all__ = [
    "EDGE_LIMITS",
    "Keys",
    "OwnServer",
    "Server",
    "gauge",
    "make_keys",
    "start_server",
    "start_servers",
]

_STARTUP_SECONDS = 20.0


@dataclass(frozen=True)
class Server:
    base_url: str
    database_url: str
    process: subprocess.Popen[bytes]
    log_path: str

    def log(self) -> str:
        """What the server wrote so far (stdout and stderr), to explain a failure."""
        with open(self.log_path, errors="replace") as handle:
            return handle.read()


@dataclass(frozen=True)
class Keys:
    reader: str
    writer: str
    admin: str

    @staticmethod
    def header(key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def start_server(database_url: str, *, serve: bool = False, **settings: str) -> Iterator[Server]:
    """Run ``uvicorn app.main:create_app --factory`` against ``database_url`` (already
    migrated) with extra ``CEASEFIRE_*`` settings given as keyword arguments
    (``require_read_key="true"``); yield once ``/healthz`` answers; stop it after.
    ``serve=True`` runs ``ceasefire serve --no-migrate`` instead: the connection guard of
    ``app.http.edge`` in place, and its log at ``info``."""
    with start_servers(database_url, 1, serve=serve, **settings) as [server]:
        yield server


@contextmanager
def start_servers(
    database_url: str, count: int, *, serve: bool = False, **settings: str
) -> Iterator[list[Server]]:
    """``count`` servers as ``start_server`` runs one, started at the same time: on a loaded
    machine each takes seconds to import."""
    servers: list[Server] = []
    try:
        for _ in range(count):
            servers.append(_launch(database_url, settings, serve=serve))
        for server in servers:
            # Started together, they share the machine's cores while they import.
            _wait_healthy(server, _STARTUP_SECONDS * count)
        yield servers
    finally:
        for server in servers:
            server.process.terminate()
        for server in servers:
            try:
                server.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait()
            os.unlink(server.log_path)


def _launch(database_url: str, settings: dict[str, str], *, serve: bool = False) -> Server:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CEASEFIRE_")}
    env["CEASEFIRE_DATABASE_URL"] = database_url
    # A line per request would only slow the suite's busiest servers; the tests of the lines
    # (tests/pages/test_request_log.py) turn them on.
    env["CEASEFIRE_LOG_REQUESTS"] = "false"
    env.update({f"CEASEFIRE_{name.upper()}": value for name, value in settings.items()})
    port = free_port()
    address = ["--host", "127.0.0.1", "--port", str(port)]
    command = [sys.executable, "-m", "app.cli.ceasefire", "serve", "--no-migrate", *address]
    if not serve:
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "app.main:create_app",
            "--factory",
            *address,
            "--log-level",
            "warning",
            "--no-access-log",
            # uvicorn closes a connection idle for 5 s; a test that pauses longer on a loaded
            # machine would then race the close (httpx.ReadError) instead of testing us.
            "--timeout-keep-alive",
            "120",
        ]
    with tempfile.NamedTemporaryFile(prefix="uvicorn-", suffix=".log", delete=False) as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    return Server(f"http://127.0.0.1:{port}", database_url, process, log.name)


def _wait_healthy(server: Server, seconds: float = _STARTUP_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"the server exited with {server.process.returncode}:\n{server.log()}")
        try:
            if httpx.get(f"{server.base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    pytest.fail(f"the server did not answer /healthz in {seconds}s:\n{server.log()}")


async def make_keys(database_url: str) -> Keys:
    """A reader, a writer and an admin key in the database at ``database_url``."""
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            secrets = {}
            for role in ("reader", "writer", "admin"):
                _, secrets[role] = await create_key(conn, name=f"e2e {role}", role=role)
    finally:
        await engine.dispose()
    return Keys(**secrets)


@dataclass(frozen=True)
class OwnServer:
    server: Server
    keys: Keys


@pytest.fixture(scope="module")
def own_server(db_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnServer]:
    """A server on a database of the module's own: for tests that read the site-wide views
    (the conflict list, the page) at many moments, whose cost on the shared database would grow
    with every conflict the rest of the session wrote."""
    for url in make_database(db_kind, tmp_path_factory.mktemp(f"own-{db_kind}")):
        keys = asyncio.run(make_keys(url))
        with start_server(url) as running:
            yield OwnServer(running, keys)


@pytest.fixture(scope="session")
def server(database_url: str) -> Iterator[Server]:
    """One server per database kind for the whole session, on the shared test database."""
    with start_server(database_url) as running:
        yield running


#: The limits of ``edge_server``, small enough for a test to pass them quickly.
EDGE_LIMITS = {
    "body_timeout": 1.5,
    "max_header_bytes": 16 * 1024,
    "stream_buffer_bytes": 64 * 1024,
    "max_page_bytes": 256 * 1024,
    "representation_cache_bytes": 4 * 1024 * 1024,
    "max_streams": 64,
    "max_long_polls": 2,
    # The caps above are the process's; one client (every test's is 127.0.0.1) may reach them.
    "max_streams_per_client": 64,
}


@pytest.fixture(scope="session")
def edge_server(database_url: str) -> Iterator[Server]:
    """``ceasefire serve`` (its connection guard, its log) with the small ``EDGE_LIMITS``, for
    the tests of hostile clients; webhooks to loopback may be created, and none is sent."""
    with start_server(
        database_url,
        serve=True,
        log_requests="true",  # a log line per request: what must hold no secret
        webhook_worker="false",
        webhook_allow_http="true",
        webhook_allowed_subnets="127.0.0.0/8",
        **{name: str(value) for name, value in EDGE_LIMITS.items()},
    ) as server:
        yield server


@pytest.fixture(scope="session")
async def keys(database_url: str) -> Keys:
    return await make_keys(database_url)


@pytest.fixture
async def client(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        yield http


def problem_of(response: httpx.Response, status: int, type_: str) -> dict[str, Any]:
    """Assert ``response`` is a clean problem: the status, the problem media type, the stable
    ``type``, and nothing in the body that looks like a driver message or a traceback."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json"), (
        response.headers,
        response.text,
    )
    body: dict[str, Any] = response.json()
    assert body["type"] == f"/problems/{type_}", body
    assert body["status"] == status, body
    assert isinstance(body["title"], str) and body["title"], body
    lowered = response.text.lower()
    for leak in ("traceback", "sqlalchemy", "asyncpg", "sqlite3", "psycopg", 'file "', "[sql:"):
        assert leak not in lowered, f"{leak!r} leaked into {response.text}"
    return body


async def gauge(http: httpx.AsyncClient, name: str) -> float:
    """The value of the unlabelled gauge ``name`` in the server's ``/metrics`` now: what a test
    waits on instead of a fixed sleep (``ceasefire_long_polls_waiting``,
    ``ceasefire_streams_open``: requests the server holds)."""
    response = await http.get("/metrics")
    assert response.status_code == 200, response.text
    for family in text_string_to_metric_families(response.text):
        if family.name == name:
            value: float = family.samples[0].value
            return value
    raise AssertionError(f"no {name} in /metrics:\n{response.text}")
