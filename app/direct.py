"""Routes that answer ordinary requests without FastAPI's per-request parameter solving.

FastAPI solves a route's parameters and dependencies anew on every request: with the version
we run, each optional query or header parameter costs tens of microseconds and each
dependency a solving pass (a third of a status poll's server time in the bench/status.py
profile, more than the head lookup). A route polled thousands of times a second can pay less.

An endpoint marked ``@answered_directly`` on a ``DirectRoute`` keeps its signature exactly as
FastAPI sees it: the signature still makes the OpenAPI document and still validates. At start-up
the route also builds, from the same declaration (FastAPI's ``Dependant``), a plan that reads
each declared parameter from the request with FastAPI's own function
(``request_params_to_args``) and calls each dependency in FastAPI's order, then calls the
endpoint. Nothing is copied by hand, so a parameter added to the endpoint is read on both paths.

The plan returns None, and FastAPI's own handler answers instead (with its 422 problem),
whenever a value does not validate, so the two paths cannot disagree on what is valid or on
how a refusal looks. Exceptions raised by a dependency or the endpoint (a 401, a 404, a 503) go
to the app's problem handlers as they would from FastAPI's handler. A declaration the plan
cannot follow (a body, cookies, a sync or generator dependency, an endpoint that does not return
a ``Response``…) raises ``UnsupportedDirectRoute`` when the route is built, at start-up: the
fast path refuses to exist rather than drift.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_typed_return_annotation, request_params_to_args
from fastapi.routing import APIRoute

__all__ = ["DirectRoute", "UnsupportedDirectRoute", "answered_directly", "is_answered_directly"]

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
    sources = [
        (fields, source)
        for fields, source in (
            (dependant.path_params, "path_params"),
            (dependant.query_params, "query_params"),
            (dependant.header_params, "headers"),
        )
        if fields
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
        for fields, source in sources:
            read, errors = request_params_to_args(fields, getattr(request, source))
            if errors:
                return None
            values.update(read)
        for name in request_names:
            values[name] = request
        return values

    return solve


def _returns_a_response(endpoint: Callable[..., Any], where: str) -> None:
    returned = get_typed_return_annotation(endpoint)  # as FastAPI resolves it
    if not (inspect.isclass(returned) and issubclass(returned, Response)):
        raise _refuse(where, "it does not return a Response (its answer needs serialising)")


class DirectRoute(APIRoute):
    """An ``APIRoute`` whose marked endpoint is tried directly before FastAPI solves it."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        solved = super().get_route_handler()
        if not is_answered_directly(self.endpoint):
            return solved
        where = f"{self.path} ({self.endpoint.__name__})"
        _returns_a_response(self.endpoint, where)
        plan = _plan(self.dependant, where)
        endpoint = self.endpoint

        async def handler(request: Request) -> Response:
            arguments = await plan(request, {})
            if arguments is None:
                return await solved(request)
            response: Response = await endpoint(**arguments)
            return response

        return handler
