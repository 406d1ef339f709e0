"""Per request, outside everything else: a request id, one log line, and the HTTP metrics.

The request id is the client's ``X-Request-ID`` when it sends a sane one (letters, digits,
``._-``, at most 64), otherwise a new one; it is returned in the ``X-Request-ID`` header and is
in the request's log line, so a user's report can be matched to the server's log. The line is
written when the answer ends (for a stream: when it closes), at INFO on ``ceasefire.requests``.
It names the target as the client sent it (``%0a`` stays ``%0a``), control characters escaped
(``app.logs.escape_controls``): a request cannot forge a log line.

The metrics' labels are few whatever clients send: a method the service does not know is
``other``, a path no route matches is ``unmatched``. A request's time goes to one of three
histograms, told apart by its answer: a long-poll that waited (it says ``Preference-Applied:
wait``) and a stream (``text/event-stream``) are timed apart from the other requests, whose
latency they would drown (one 3 s wait was once the slowest "request").
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import time
from collections.abc import Iterable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.logs import escape_controls
from app.metric_families import Metrics

__all__ = ["RequestTelemetry"]

log = logging.getLogger("ceasefire.requests")
_SANE = re.compile(rb"^[A-Za-z0-9._-]{1,64}$")


def _request_ids() -> Any:
    """New request ids: a random prefix per process and a counter, unique across processes
    and restarts, at a fraction of a ``uuid4``'s cost (this runs on every poll)."""
    prefix = os.urandom(8).hex()
    return (f"{prefix}{n:016x}".encode() for n in itertools.count(1))


#: The methods labelled by name (HTTP's own, RFC 9110, and PATCH); any other is ``other``, so a
#: client inventing methods cannot grow /metrics by a series per invention.
_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
)


def _method(scope: Scope) -> str:
    method: str = scope["method"]
    return method if method in _METHODS else "other"


def _target(scope: Scope) -> str:
    """The path and query as the client sent them (still percent-encoded), on one line."""
    raw = scope.get("raw_path")
    path = raw.decode("latin-1") if isinstance(raw, bytes) else scope["path"]
    query = scope.get("query_string", b"")
    return escape_controls(path + (f"?{query.decode('latin-1')}" if query else ""))


#: Which histogram times a request, by its answer (``_timed_as``).
_REQUEST, _LONG_POLL, _STREAM = 0, 1, 2


def _timed_as(headers: Iterable[tuple[bytes, bytes]]) -> int:
    """``_LONG_POLL`` for an answer after a wait, ``_STREAM`` for an event stream, else
    ``_REQUEST``; from the answer's headers (lower-case names, as Starlette sends them)."""
    for name, value in headers:
        if name == b"preference-applied" and value.startswith(b"wait"):
            return _LONG_POLL
        if name == b"content-type" and value.startswith(b"text/event-stream"):
            return _STREAM
    return _REQUEST


def _route(scope: Scope) -> str:
    """The route template (``/v1/conflicts/{conflict}/status``), so that labels stay few."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    return "/static" if scope.get("path", "").startswith("/static/") else "unmatched"


class RequestTelemetry:
    def __init__(self, app: ASGIApp, metrics: Metrics, *, log_requests: bool = True) -> None:
        self.app = app
        self.metrics = metrics
        self.log_requests = log_requests
        self._ids = _request_ids()
        # The labelled children, looked up once per (method, route, status, histogram):
        # ``labels()`` costs a lock and a validation each time, a tenth of a status poll.
        self._children: dict[tuple[str, str, int, int], tuple[Any, Any]] = {}
        self._histograms = (
            metrics.request_seconds,
            metrics.long_poll_seconds,
            metrics.stream_seconds,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = None
        for name, value in scope["headers"]:
            if name == b"x-request-id" and _SANE.match(value):
                request_id = value
                break
        if request_id is None:
            request_id = next(self._ids)
        status = 500
        timed_as = _REQUEST
        started = time.perf_counter()

        async def sending(message: Message) -> None:
            nonlocal status, timed_as
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = message.get("headers", [])
                timed_as = _timed_as(headers)
                message["headers"] = [*headers, (b"x-request-id", request_id)]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            elapsed = time.perf_counter() - started
            method = _method(scope)
            route = _route(scope)
            children = self._children.get((method, route, status, timed_as))
            if children is None:
                children = self._children[(method, route, status, timed_as)] = (
                    self.metrics.requests.labels(method, route, str(status)),
                    self._histograms[timed_as].labels(method, route),
                )
            children[0].inc()
            children[1].observe(elapsed)
            if self.log_requests and log.isEnabledFor(logging.INFO):
                target = _target(scope)
                log.info(
                    "%s %s %d %.1f ms request_id=%s",
                    scope["method"],
                    target,
                    status,
                    elapsed * 1000,
                    request_id.decode(),
                    extra={
                        "request_id": request_id.decode(),
                        "method": scope["method"],
                        "path": target,
                        "route": route,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                    },
                )
