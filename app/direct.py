"""Routes that answer ordinary requests without FastAPI's per-request parameter solving.

FastAPI solves a route's parameters and dependencies anew on every request: with the version
we run, each optional query or header parameter costs tens of microseconds and each
dependency a solving pass (a third of a status poll's server time in the bench/status.py
profile, more than the head lookup). A route polled thousands of times a second can pay less.

An endpoint marked ``@answered_directly`` on a ``DirectRoute`` keeps its signature exactly as
FastAPI sees it: the signature still makes the OpenAPI document and still validates. At start-up
the route also builds, from the same declaration (FastAPI's ``Dependant``), a plan that reads
each declared parameter from the request under the keys FastAPI reads it by (its
``_get_param_aliases``), validates it with the parameter's own field (``ModelField.validate``,
what FastAPI calls) and calls each dependency in FastAPI's order, then calls the endpoint.
Nothing is copied by hand, so a parameter added to the endpoint is read on both paths. (FastAPI's
``request_params_to_args`` does the same per request, looking up what the plan works out once:
a third of a status read's time.)

The plan returns None, and FastAPI's own handler answers instead (with its 422 problem),
whenever a value does not validate, so the two paths cannot disagree on what is valid or on
how a refusal looks. Exceptions raised by a dependency or the endpoint (a 401, a 404, a 503) go
to the app's problem handlers as they would from FastAPI's handler. A declaration the plan
cannot follow (a body, cookies, a list, JSON or model parameter, a sync or generator dependency,
an endpoint that does not return a ``Response``…) raises ``UnsupportedDirectRoute`` when the
route is built, at start-up: the fast path refuses to exist rather than drift.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from copy import deepcopy
from typing import Any, TypeVar

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi._compat import ModelField, field_annotation_is_sequence
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import (
    _get_param_aliases,
    _get_param_model,
    _is_json_field,
    get_typed_return_annotation,
)
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import Receive, Scope, Send

__all__ = [
    "DirectDoor",
    "DirectRoute",
    "UnsupportedDirectRoute",
    "answered_directly",
    "is_answered_directly",
]

_Endpoint = TypeVar("_Endpoint", bound=Callable[..., Any])
_MARK = "__answered_directly__"

#: Solves one dependant for one request: its keyword arguments, or None (leave it to FastAPI).
_Plan = Callable[[Request, dict[Any, Any]], Awaitable[dict[str, Any] | None]]


class UnsupportedDirectRoute(TypeError):
    """A route marked ``@answered_directly`` declares something the direct path cannot read."""


def answered_directly(endpoint: _Endpoint) -> _Endpoint:
    """Mark an endpoint as answered directly where it can (under ``@router.get``)."""
    setattr(endpoint, _MARK, True)
    return endpoint


def is_answered_directly(endpoint: Callable[..., Any]) -> bool:
    return bool(getattr(endpoint, _MARK, False))


def _refuse(where: str, what: str) -> UnsupportedDirectRoute:
    return UnsupportedDirectRoute(f"{where}: {what}; the direct path cannot read it")


def _plan(dependant: Dependant, where: str) -> _Plan:
    """The plan of ``dependant``: checked once, here, for what it may declare."""
    for what, declared in (
        ("a body", dependant.body_params),
        ("cookies", dependant.cookie_params),
        ("a websocket", dependant.websocket_param_name),
        ("a Response to change", dependant.response_param_name),
        ("background tasks", dependant.background_tasks_param_name),
        ("security scopes", dependant.security_scopes_param_name),
    ):
        if declared:
            raise _refuse(where, f"it declares {what}")
    subs: list[tuple[str, Any, Callable[..., Awaitable[Any]], _Plan]] = []
    for sub in dependant.dependencies:
        call = sub.call
        name = sub.name
        if call is None or name is None:
            raise _refuse(where, "a dependency without a callable or a name")
        target = call if inspect.isroutine(call) else getattr(call, "__call__", None)  # noqa: B004
        if not inspect.iscoroutinefunction(target):
            raise _refuse(where, f"dependency {name!r} is not an async function")
        key = (call, tuple(sorted(sub.own_oauth_scopes or ()))) if sub.use_cache else None
        subs.append((name, key, call, _plan(sub, f"{where} -> {name}")))
    readers = [
        (source, _reader(field, source, where))
        for fields, source in (
            (dependant.path_params, "path_params"),
            (dependant.query_params, "query_params"),
            (dependant.header_params, "headers"),
        )
        for field in fields
    ]
    # The request, as itself or as the HTTP connection it is (security schemes ask for that).
    request_names = [
        name
        for name in (dependant.request_param_name, dependant.http_connection_param_name)
        if name is not None
    ]

    async def solve(request: Request, cache: dict[Any, Any]) -> dict[str, Any] | None:
        values: dict[str, Any] = {}
        # FastAPI's order: dependencies first (so a 401 comes before a 422), then parameters.
        for name, key, call, plan in subs:
            if key is not None and key in cache:
                values[name] = cache[key]
                continue
            arguments = await plan(request, cache)
            if arguments is None:
                return None
            value = await call(**arguments)
            if key is not None:
                cache[key] = value
            values[name] = value
        for source, read in readers:
            if not read(getattr(request, source), values):
                return None
        for name in request_names:
            values[name] = request
        return values

    return solve


#: Reads one parameter into the values; False when it is missing or does not validate.
_Reader = Callable[[Any, dict[str, Any]], bool]


def _reader(field: ModelField, source: str, where: str) -> _Reader:
    """How FastAPI reads ``field`` (``request_params_to_args``), worked out once: the request
    keys it looks under, in its order, and what stands for a value that is not there."""
    if (
        _get_param_model(field) is not None
        or field_annotation_is_sequence(field.field_info.annotation)
        or _is_json_field(field)
    ):
        raise _refuse(where, f"parameter {field.name!r} is a list, JSON or a model")
    convert = source == "headers" and getattr(field.field_info, "convert_underscores", True)
    keys = [key for _, key in _get_param_aliases(field, convert_underscores=convert)]
    place = field.field_info.in_.value  # type: ignore[attr-defined]
    name = field.name
    required = field.field_info.is_required()
    default = field.default
    immutable = default is None or isinstance(default, str | int | float | bool)
    validate_default = bool(field.field_info.validate_default)

    def read(received: Any, values: dict[str, Any]) -> bool:
        for key in keys:
            raw = received.get(key)
            if raw is not None:
                value, errors = field.validate(raw, values, loc=(place, key))
                break
        else:
            if required:
                return False
            value = default if immutable else deepcopy(default)
            errors = None
            if validate_default:
                value, errors = field.validate(value, values, loc=(place, keys[0]))
        if errors:
            return False
        values[name] = value
        return True

    return read


def _returns_a_response(endpoint: Callable[..., Any], where: str) -> None:
    returned = get_typed_return_annotation(endpoint)  # as FastAPI resolves it
    if not (inspect.isclass(returned) and issubclass(returned, Response)):
        raise _refuse(where, "it does not return a Response (its answer needs serialising)")


class DirectRoute(APIRoute):
    """An ``APIRoute`` whose marked endpoint is tried directly before FastAPI solves it."""

    #: The plan of a marked endpoint (None: not marked), made when the route is.
    direct_plan: _Plan | None = None

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        solved = super().get_route_handler()
        if not is_answered_directly(self.endpoint):
            return solved
        where = f"{self.path} ({self.endpoint.__name__})"
        _returns_a_response(self.endpoint, where)
        plan = self.direct_plan = _plan(self.dependant, where)
        endpoint = self.endpoint

        async def handler(request: Request) -> Response:
            arguments = await plan(request, {})
            if arguments is None:
                return await solved(request)
            response: Response = await endpoint(**arguments)
            return response

        return handler


#: A route template's segments; a ``{…:path}`` parameter ends it (it takes the rest).
_PATH_REST = "{path}"


def _segments(path: str) -> list[str | None]:
    """``/v1/conflicts/{conflict}/status`` as ``["v1", "conflicts", None, "status"]``: None
    for a segment holding a parameter (it matches any text), ``_PATH_REST`` for a path one."""
    found: list[str | None] = []
    for segment in path.strip("/").split("/"):
        if ":path}" in segment:
            found.append(_PATH_REST)
            break
        found.append(None if "{" in segment else segment)
    return found


def _may_overlap(other: list[str | None], direct: list[str | None], *, prefix: bool) -> bool:
    """Whether a path of the direct route's could also be one of ``other``'s (``prefix``: any
    path under ``other``, as a mount's)."""
    for mine, theirs in zip(direct, other, strict=False):
        if theirs == _PATH_REST:
            return True
        if mine is not None and theirs is not None and mine != theirs:
            return False
    return len(other) <= len(direct) if prefix else len(other) == len(direct)


class DirectDoor:
    """Sends a GET of a route answered directly to its plan and endpoint at once, outside
    FastAPI's middleware and router; everything else goes to FastAPI.

    What it skips, FastAPI's error, telemetry and body middleware and its router, came to a
    fifth of a status poll's server time (bench/status.py, FastAPI 0.165), as much as the
    bare endpoint's whole route. What those layers do for such a request is done here the
    same way: the scope gets the ``app``, ``route``, ``endpoint`` and ``path_params`` FastAPI
    would set; an exception goes to the app's handler for it (a ``HTTPException`` to its
    status's first, as Starlette does); a request the plan cannot read (a value that does not
    validate) goes to FastAPI whole, which answers it as it always does.

    A direct route only takes the paths no other route of the app could match: the door is
    given the routers the app includes, and refuses (``UnsupportedDirectRoute``) to be built
    over a direct route whose template could match a path of another GET route or mount,
    whatever their order, so it cannot take a request FastAPI would route elsewhere.
    """

    def __init__(self, app: FastAPI, routers: Sequence[APIRouter]) -> None:
        self.app = app
        routes: list[BaseRoute] = [r for router in routers for r in router.routes]
        routes += [r for r in app.router.routes if isinstance(r, Route | Mount)]
        self._direct: list[tuple[DirectRoute, _Plan]] = []
        for route in routes:
            if not isinstance(route, DirectRoute) or route.direct_plan is None:
                continue
            if "GET" not in (route.methods or ()):
                raise _refuse(route.path, "a direct route must answer GET")
            shape = _segments(route.path)
            for other in routes:
                if other is route:
                    continue
                if isinstance(other, Mount):
                    clash = _may_overlap(_segments(other.path), shape, prefix=True)
                elif isinstance(other, Route) and "GET" in (other.methods or ()):
                    clash = _may_overlap(_segments(other.path), shape, prefix=False)
                else:
                    continue
                if clash:
                    raise _refuse(route.path, f"its paths may be {other.path!r}'s too")
            self._direct.append((route, route.direct_plan))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and not scope.get("root_path"):
            path = scope["path"]
            for route, plan in self._direct:
                matched = route.path_regex.match(path)
                if matched is not None:
                    await self._answer(route, plan, matched, scope, receive, send)
                    return
        await self.app(scope, receive, send)

    async def _answer(
        self,
        route: DirectRoute,
        plan: _Plan,
        matched: re.Match[str],
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        convertors = route.param_convertors
        # In place, as FastAPI's router does: the request's telemetry reads the route from it.
        scope.update(
            app=self.app,
            router=self.app.router,
            route=route,
            endpoint=route.endpoint,
            path_params={k: convertors[k].convert(v) for k, v in matched.groupdict().items()},
        )
        request = Request(scope, receive, send)
        try:
            arguments = await plan(request, {})
            if arguments is None:  # FastAPI answers it, with its own validation problem
                await self.app(scope, receive, send)
                return
            response: Response = await route.endpoint(**arguments)
        except Exception as error:
            handler = self._handler(error)
            if handler is None:
                raise
            handled = handler(request, error)
            response = await handled if inspect.isawaitable(handled) else handled
        await response(scope, receive, send)

    def _handler(self, error: Exception) -> Callable[[Request, Exception], Any] | None:
        handlers = self.app.exception_handlers
        if isinstance(error, StarletteHTTPException) and error.status_code in handlers:
            return handlers[error.status_code]
        for kind in type(error).__mro__:
            if kind in handlers:
                return handlers[kind]
        return None
