"""The status route answered directly (``app.direct``) answers exactly as FastAPI solving it.

The app is served through the door (``DirectDoor``), as ``create_app`` serves it, so the status
route is answered outside FastAPI's middleware and router. The same endpoint is mounted a second
time under ``/solved`` on a plain ``APIRoute``, which FastAPI routes and solves the ordinary
way; every request below goes to both and the answers must match:
status, headers and body, for valid and invalid values, known and unknown conflicts, with and
without keys, current and stale tags. The database is real (SQLite and PostgreSQL).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

import fastapi.routing
import httpx
import pytest
from fastapi import APIRouter, Cookie, Depends, FastAPI, Header, Path, Request, Response
from fastapi.routing import APIRoute

from app.api import conflicts
from app.direct import DirectDoor, DirectRoute, UnsupportedDirectRoute, answered_directly
from app.main import ROUTERS, create_fastapi
from app.services.appending import Appender
from app.settings import Settings
from events.log.store import EventStore
from tests.conftest import make_key
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
        transport = httpx.ASGITransport(app=DirectDoor(app, ROUTERS))
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
    reader = {"Authorization": f"Bearer {await make_key(database_url, 'reader')}"}
    assert (await _both(client, path, headers=reader)).status_code == 200
    assert (await _both(client, path, headers=reader, params={"as_of": "x"})).status_code == 422


def _counting_solver(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the requests FastAPI solves itself (a spy: the solving still happens)."""
    solved: list[int] = []
    original = fastapi.routing.solve_dependencies

    async def counting(*args: Any, **kwargs: Any) -> Any:
        solved.append(1)
        return await original(*args, **kwargs)

    monkeypatch.setattr(fastapi.routing, "solve_dependencies", counting)
    return solved


async def _get(app: FastAPI, path: str, **kwargs: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(path, **kwargs)


_CALLERS: list[str] = []


async def caller(request: Request) -> str:
    """A dependency of the endpoint below (at module level, where FastAPI resolves it)."""
    _CALLERS.append("dependency")
    return request.headers.get("x-caller", "anonymous")


async def test_a_marked_endpoint_is_answered_without_fastapis_solving(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every declared parameter reaches the endpoint on the direct path, read from the same
    declaration (a parameter added later is read too); a value that does not validate goes to
    FastAPI, which answers its 422."""
    solved = _counting_solver(monkeypatch)
    seen = _CALLERS
    seen.clear()
    router = APIRouter(route_class=DirectRoute)

    @router.get("/things/{thing}")
    @answered_directly
    async def thing(
        request: Request,
        thing: Annotated[int, Path()],
        who: Annotated[str, Depends(caller)],
        n: int = 1,
        tag: Annotated[str | None, Header(alias="X-Tag")] = None,
    ) -> Response:
        return Response(f"{thing} {n} {tag} {who} {request.url.path}")

    app = FastAPI()
    app.include_router(router)
    answer = await _get(
        app, "/things/7", params={"n": "5"}, headers={"X-Tag": "t", "X-Caller": "c"}
    )
    assert (answer.status_code, answer.text) == (200, "7 5 t c /things/7")
    assert solved == [] and seen == ["dependency"]
    assert (await _get(app, "/things/7")).text == "7 1 None anonymous /things/7"
    assert solved == []
    refused = await _get(app, "/things/7", params={"n": "many"})
    assert refused.status_code == 422 and solved == [1]
    # Through the door (outside FastAPI's router), the same answers, path parameters converted.
    door = DirectDoor(app, [router])
    answer = await _get(door, "/things/7", params={"n": "5"}, headers={"X-Tag": "t"})  # type: ignore[arg-type]
    assert (answer.status_code, answer.text) == (200, "7 5 t anonymous /things/7")
    assert solved == [1]
    refused = await _get(door, "/things/seven")  # type: ignore[arg-type]
    assert refused.status_code == 422 and solved == [1, 1]


def test_the_door_refuses_a_direct_route_whose_paths_another_route_may_take() -> None:
    """A direct route the door would take a request for that FastAPI might route elsewhere
    (another GET route or a mount whose template matches some of its paths, in any order) is
    refused when the door is built; routes that only share a prefix are not."""
    direct = APIRouter(route_class=DirectRoute)

    @direct.get("/things/{thing}/status")
    @answered_directly
    async def status(thing: str) -> Response:
        return Response(thing)

    async def other() -> Response:
        return Response()

    for clash in ("/things/special/{part}", "/things/{a}/{b}", "/{any:path}", "/things/{x}/status"):
        app, others = FastAPI(), APIRouter()
        others.get(clash)(other)
        with pytest.raises(UnsupportedDirectRoute, match="may be"):
            DirectDoor(app, [others, direct])
    app = FastAPI()
    app.mount("/things", app=FastAPI())
    with pytest.raises(UnsupportedDirectRoute, match="may be '/things'"):
        DirectDoor(app, [direct])
    for apart in ("/things/{thing}", "/things/{thing}/status/{more}", "/other/{x}/status"):
        app, others = FastAPI(), APIRouter()
        others.get(apart)(other)
        others.post("/things/{thing}/status")(other)  # not a GET: never FastAPI's pick over it
        DirectDoor(app, [others, direct])


def sync_dependency() -> str:
    return "x"


def test_a_route_it_cannot_read_refuses_to_start() -> None:
    """A marked endpoint declaring what the direct path cannot read fails when the route is
    built (at start-up), instead of being answered without it."""
    router = APIRouter(route_class=DirectRoute)

    async def cookie(session: Annotated[str | None, Cookie()] = None) -> Response:
        return Response(session)

    async def with_sync(value: Annotated[str, Depends(sync_dependency)]) -> Response:
        return Response(value)

    async def serialised() -> dict[str, str]:
        return {}

    for endpoint, reason in (
        (cookie, "declares cookies"),
        (with_sync, "'value' is not an async function"),
        (serialised, "does not return a Response"),
    ):
        with pytest.raises(UnsupportedDirectRoute, match=reason):
            router.get("/refused")(answered_directly(endpoint))

    async def unmarked(session: Annotated[str | None, Cookie()] = None) -> Response:
        return Response(session)

    router.get("/plain")(unmarked)  # FastAPI solves it, as any route
