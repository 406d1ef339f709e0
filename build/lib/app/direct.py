"""Routes that answer ordinary requests without FastAPI's per-request parameter solving.

FastAPI solves a route's parameters and dependencies anew on every request: with the version
we run, each optional query or header parameter costs tens of microseconds and each
dependency a solving pass (a third of a status poll's server time in the bench/status.py
profile, more than the head lookup). A route polled thousands of times a second can pay less.

A ``DirectRoute`` keeps its endpoint exactly as FastAPI sees it: the signature still makes the
OpenAPI document and still validates. An endpoint marked with ``answered_directly(direct)``
also has ``direct``, a function that reads the request itself and builds the same answer.
``direct`` returns None whenever any value it reads does not validate, and FastAPI's own
handler answers instead (with its 422 problem), so the two paths cannot disagree on what is
valid or on how a refusal looks. Exceptions raised by ``direct`` (a 401, a 404, a 503) go to
the app's problem handlers as an endpoint's would.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from fastapi import Request, Response
from fastapi.routing import APIRoute

__all__ = ["Direct", "DirectRoute", "answered_directly", "direct_answer"]

#: Reads the request itself: its answer, or None to leave the request to FastAPI.
Direct = Callable[[Request], Awaitable[Response | None]]

_Endpoint = TypeVar("_Endpoint", bound=Callable[..., Any])
_MARK = "__direct_answer__"


def answered_directly(direct: Direct) -> Callable[[_Endpoint], _Endpoint]:
    """Mark an endpoint as answered by ``direct`` where it can (under ``@router.get``)."""

    def mark(endpoint: _Endpoint) -> _Endpoint:
        setattr(endpoint, _MARK, direct)
        return endpoint

    return mark


def direct_answer(endpoint: Callable[..., Any]) -> Direct | None:
    """The ``direct`` function an endpoint was marked with, if any."""
    direct: Direct | None = getattr(endpoint, _MARK, None)
    return direct


class DirectRoute(APIRoute):
    """An ``APIRoute`` whose marked endpoint is tried directly before FastAPI solves it."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        solved = super().get_route_handler()
        direct = direct_answer(self.endpoint)
        if direct is None:
            return solved

        async def handler(request: Request) -> Response:
            response = await direct(request)
            return response if response is not None else await solved(request)

        return handler
