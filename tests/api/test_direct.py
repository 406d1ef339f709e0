"""The status route answered directly (``app.direct``) answers exactly as FastAPI solving it.

The same endpoint is mounted a second time under ``/solved`` on a plain ``APIRoute``, which
FastAPI solves the ordinary way; every request below goes to both and the answers must match:
status, headers and body, for valid and invalid values, known and unknown conflicts, with and
without keys, current and stale tags. The database is real (SQLite and PostgreSQL).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from app.api import conflicts
from app.appending import Appender
from app.direct import DirectRoute, answered_directly, direct_answer
from app.keys import create_key
from app.main import create_fastapi
from app.settings import Settings
from events.database import create_engine
from events.store import EventStore
from tests.factories import alleged, signed

STATUS = "/v1/conflicts/{conflict}/status"


def _solved(app: FastAPI) -> None:
    router = APIRouter()
    router.add_api_route(
        STATUS, conflicts.get_status, methods=["GET"], route_class_override=APIRoute
    )
    app.include_router(router, prefix="/solved", include_in_schema=False)


@pytest.fixture
async def client(database_url: str, request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    settings = Settings(database_url=database_url, require_read_key=request.param)
    app = create_fastapi(settings)
    _solved(app)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def _both(client: httpx.AsyncClient, path: str, **kwargs: Any) -> httpx.Response:
    direct = await client.get(path, **kwargs)
    solved = await client.get("/solved" + path, **kwargs)
    assert direct.status_code == solved.status_code, path
    headers = {k: v for k, v in direct.headers.items() if k != "content-length"}
    assert headers == {k: v for k, v in solved.headers.items() if k != "content-length"}
    if direct.headers.get("content-type", "").startswith("application/problem"):
        body, other = direct.json(), solved.json()
        other["instance"] = body.get("instance")  # the path asked, which differs by design
        assert body == other
    else:
        assert direct.content == solved.content
    return direct


async def _reader_key(database_url: str) -> str:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            _, secret = await create_key(conn, name=f"test-{uuid.uuid4().hex[:6]}", role="reader")
    finally:
        await engine.dispose()
    return secret


@pytest.mark.parametrize("client", [False], indirect=True)
async def test_status_answers_match(
    client: httpx.AsyncClient, store: EventStore, appender: Appender
) -> None:
    conflict = f"test-{uuid.uuid4().hex[:12]}"
    await appender.append([signed(conflict), alleged(conflict)])
    path = STATUS.format(conflict=conflict)
    ok = await _both(client, path)
    assert ok.status_code == 200
    tag = ok.headers["etag"]
    assert (await _both(client, path, headers={"If-None-Match": tag})).status_code == 304
    await _both(client, path, headers={"If-None-Match": f"W/{tag}"})
    await _both(client, path, headers={"If-None-Match": '"s1.0123abcd", ' + tag})
    await _both(client, path, headers={"If-None-Match": "*"})
    await _both(client, path, headers={"If-None-Match": '"nonsense"'})
    await _both(client, path, params={"as_of": "2022-09-24T00:00:00Z"})
    await _both(
        client, path, params={"as_of": "2022-09-24T00:00:00Z", "known_at": "2030-01-01T00:00:00Z"}
    )
    for bad in ("yesterday", "", "2022-09-24", "2022-09-24T00:00:00"):
        assert (await _both(client, path, params={"as_of": bad})).status_code == 422
        assert (await _both(client, path, params={"known_at": bad})).status_code == 422
    assert (await _both(client, STATUS.format(conflict="Not_A_Slug"))).status_code == 422
    assert (await _both(client, STATUS.format(conflict=f"{conflict}-none"))).status_code == 404
    await appender.append([alleged(conflict)])
    moved = await _both(client, path, headers={"If-None-Match": tag})
    assert moved.status_code == 200 and moved.headers["etag"] != tag


@pytest.mark.parametrize("client", [True], indirect=True)
async def test_status_keys_match(
    client: httpx.AsyncClient, store: EventStore, database_url: str, appender: Appender
) -> None:
    conflict = f"test-{uuid.uuid4().hex[:12]}"
    await appender.append([signed(conflict)])
    path = STATUS.format(conflict=conflict)
    assert (await _both(client, path)).status_code == 401
    assert (await _both(client, path, params={"as_of": "bad"})).status_code == 401
    bearer = {"Authorization": "Bearer cfk_unknown"}
    assert (await _both(client, path, headers=bearer)).status_code == 401
    assert (await _both(client, path, headers={"Authorization": "Basic eDp5"})).status_code == 401
    reader = {"Authorization": f"Bearer {await _reader_key(database_url)}"}
    assert (await _both(client, path, headers=reader)).status_code == 200
    assert (await _both(client, path, headers=reader, params={"as_of": "x"})).status_code == 422


def test_only_marked_endpoints_of_a_direct_route_are_answered_directly() -> None:
    async def endpoint() -> None: ...

    async def direct(_: Any) -> None:
        return None

    assert direct_answer(endpoint) is None
    assert direct_answer(answered_directly(direct)(endpoint)) is direct
    route = DirectRoute("/x", endpoint)
    assert route.get_route_handler() is not None
