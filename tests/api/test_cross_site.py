"""What other sites may do with the answers (``app.http.cross_site``), in process: the rules of
CORS request by request, for a list of origins and for ``*``, and none without the setting.
Only what needs no database is asked here (preflights, paths no route matches, a write refused
for want of a key); a real server and a real browser read across origins in
``tests/pages/test_cross_origin.py``, and every kind of answer's headers are checked on a real
server in ``tests/e2e/test_cross_site.py``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from app.http.cross_site import EXPOSED
from app.main import create_app
from app.settings import Settings

NEWS = "https://news.example"
OTHER = "https://other.example"
STATUS = "/v1/conflicts/some-conflict/status"
#: Under an open read's path, answered 404 by the router without a database.
NOT_A_READ = "/v1/conflicts/some-conflict/nothing"


@asynccontextmanager
async def _client(origins: tuple[str, ...]) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(database_url="sqlite+aiosqlite:///unused.db", cors_origins=origins)
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
async def listed() -> AsyncIterator[httpx.AsyncClient]:
    async with _client((NEWS,)) as client:
        yield client


@pytest.fixture
async def anyone() -> AsyncIterator[httpx.AsyncClient]:
    async with _client(("*",)) as client:
        yield client


@pytest.fixture
async def nobody() -> AsyncIterator[httpx.AsyncClient]:
    async with _client(()) as client:
        yield client


def _preflight(origin: str, method: str = "GET", headers: str | None = None) -> dict[str, str]:
    asked = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers is not None:
        asked["Access-Control-Request-Headers"] = headers
    return asked


@pytest.mark.parametrize(
    "path",
    [
        STATUS,
        "/v1/conflicts",
        "/v1/events",
        "/v1/log/head",
        "/v1/stream",
        "/v1/conflicts/x/feed.atom",
    ],
)
async def test_a_listed_origin_may_read(listed: httpx.AsyncClient, path: str) -> None:
    asked = _preflight(NEWS, headers="if-none-match, prefer, last-event-id")
    answer = await listed.options(path, headers=asked)
    assert answer.status_code == 200, answer.text
    assert answer.headers["access-control-allow-origin"] == NEWS
    assert set(answer.headers["access-control-allow-methods"].split(", ")) == {"GET", "HEAD"}
    assert "access-control-allow-credentials" not in answer.headers
    assert "Origin" in answer.headers["vary"]


async def test_a_listed_origin_reads_and_sees_the_headers_it_needs(
    listed: httpx.AsyncClient,
) -> None:
    answer = await listed.get(NOT_A_READ, headers={"Origin": NEWS})
    assert answer.status_code == 404
    assert answer.headers["access-control-allow-origin"] == NEWS
    assert set(answer.headers["access-control-expose-headers"].split(", ")) == set(EXPOSED)
    assert "Origin" in answer.headers["vary"]
    assert "access-control-allow-credentials" not in answer.headers


async def test_another_origin_is_refused_and_told_nothing(listed: httpx.AsyncClient) -> None:
    refused = await listed.options(STATUS, headers=_preflight(OTHER))
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers
    read = await listed.get(NOT_A_READ, headers={"Origin": OTHER})
    assert "access-control-allow-origin" not in read.headers
    # the answer varies with Origin: a shared cache must not hand it to a listed origin
    assert "Origin" in read.headers["vary"]


@pytest.mark.parametrize("origins", [(NEWS,), ("*",)])
async def test_no_key_crosses_and_no_write_nor_admin_route_is_open(
    origins: tuple[str, ...],
) -> None:
    async with _client(origins) as http:
        await _no_key_nor_write_crosses(http, NEWS)


async def _no_key_nor_write_crosses(http: httpx.AsyncClient, origin: str) -> None:
    with_key = await http.options(STATUS, headers=_preflight(origin, headers="authorization"))
    assert with_key.status_code == 400
    assert "authorization" not in with_key.headers.get("access-control-allow-headers", "").lower()
    write = await http.options("/v1/events", headers=_preflight(origin, "POST", "content-type"))
    assert write.status_code == 400 and "Disallowed CORS method" in write.text
    # (without the app's lifespan, in process, the write fails: whatever its answer, another
    # site's page may not read it)
    posted = await http.post("/v1/events", json={}, headers={"Origin": origin})
    assert "access-control-allow-origin" not in posted.headers
    for path in ("/v1/admin/projections", "/v1/admin/keys", "/v1/webhooks", "/metrics"):
        preflight = await http.options(path, headers=_preflight(origin))
        assert preflight.status_code == 405, (path, preflight.text)
        assert "access-control-allow-origin" not in preflight.headers, path


async def test_any_origin_is_star_without_credentials(anyone: httpx.AsyncClient) -> None:
    preflight = await anyone.options(STATUS, headers=_preflight(OTHER, "HEAD"))
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    read = await anyone.get(NOT_A_READ, headers={"Origin": OTHER, "Cookie": "session=1"})
    assert read.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in read.headers


async def test_without_the_setting_nothing_crosses(nobody: httpx.AsyncClient) -> None:
    preflight = await nobody.options(STATUS, headers=_preflight(NEWS))
    assert preflight.status_code == 405
    read = await nobody.get(NOT_A_READ, headers={"Origin": NEWS})
    assert not [name for name in read.headers if name.startswith("access-control-")]


@pytest.mark.parametrize("origins", [(NEWS,), ()])
async def test_every_answer_says_nosniff_and_no_referrer(origins: tuple[str, ...]) -> None:
    async with _client(origins) as http:
        answers = [
            await http.get(NOT_A_READ),
            await http.post("/v1/events", json={}),
            await http.options(STATUS, headers=_preflight(NEWS)),
            await http.get("/docs"),
        ]
    for answer in answers:
        assert answer.headers["x-content-type-options"] == "nosniff", answer.request.url
        assert answer.headers["referrer-policy"] == "no-referrer", answer.request.url
