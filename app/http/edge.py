"""The HTTP connection guard of ``ceasefire serve``: what a hostile client may hold of a process
before it has sent a whole request.

uvicorn reads a request's headers with no size limit and no deadline, and keeps any number of
connections: a client could fill memory with one unfinished header, or hold every socket with
requests it never finishes. ``edge_protocol(settings)`` is uvicorn's own httptools protocol with
three bounds added where only the protocol can see them:

- **Header size** (``CEASEFIRE_MAX_HEADER_BYTES``): the bytes of a request still in its header
  part are counted as they arrive; past the limit the answer is a 431 problem and the
  connection is closed, so at most the limit plus one read is ever buffered.
- **Header deadline** (``CEASEFIRE_HEADER_TIMEOUT``): a connection that has not finished its
  request's headers this long after it opened (or after the request's first byte) is answered
  408 and closed, within a quarter of the deadline more (one sweep of the connections still in
  their headers does it for all of them: a timer per request cost a status poll a tenth of its
  time). A connection that sends nothing at all is closed the same way.
- **Connection cap** (``CEASEFIRE_MAX_CONNECTIONS``): past it, the connection waiting longest
  for its headers (a half-sent request) is closed with a 408 to make room; when every
  connection is a live one, the newcomer is answered 503 with ``Retry-After``.

Under a plain uvicorn command line, ``--http app.http.edge:SettingsProtocol`` puts the same guard
in place. The body's deadline is the ASGI guard's (``app.http.limits.BodyLimit``), which reads
every body
before the app sees it.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, ClassVar

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.http.capacity import RETRY_AFTER_SECONDS
from app.http.problems import PROBLEM_JSON
from app.settings import Settings, get_settings

__all__ = ["SettingsProtocol", "edge_protocol", "problem_bytes", "serving_options"]

_REASONS = {
    408: b"Request Timeout",
    431: b"Request Header Fields Too Large",
    503: b"Service Unavailable",
}


def problem_bytes(status: int, slug: str, title: str, detail: str) -> bytes:
    """An RFC 9457 problem body, for the guards that answer below the app."""
    body = {"type": f"/problems/{slug}", "title": title, "status": status, "detail": detail}
    return json.dumps(body).encode()


def _raw_problem(status: int, slug: str, detail: str) -> bytes:
    """A whole HTTP/1.1 response that closes the connection: written by the protocol itself,
    for a request the app never saw."""
    reason = _REASONS[status]
    body = problem_bytes(status, slug, reason.decode(), detail)
    head = (
        b"HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
        % (status, reason, PROBLEM_JSON.encode(), len(body))
    )
    return head + body


def _answering(status: int, slug: str, detail: str, *, retry_after: bool = False) -> ASGIApp:
    """An app that answers every request with this problem and closes the connection: given
    to a request, in the app's place, that the process refuses once its headers are read."""
    title = _REASONS[status].decode()
    body = problem_bytes(status, slug, title, detail)
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    if retry_after:
        headers.append((b"retry-after", str(RETRY_AFTER_SECONDS).encode()))

    async def answer(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return answer


_OVER_CAPACITY = _answering(
    503,
    "over-capacity",
    "this process holds as many connections as it may; try again later",
    retry_after=True,
)


class _Guarded(HttpToolsProtocol):
    """uvicorn's httptools protocol with the bounds above (set by ``edge_protocol``)."""

    max_header_bytes = 16 * 1024
    header_timeout = 10.0
    max_connections = 1024
    #: The connections of this server still reading a request's headers, oldest first, with
    #: the loop time their header phase began.
    in_headers: ClassVar[dict[_Guarded, float]]
    #: The sweep of ``in_headers`` to come, while there is anything in it.
    sweep: ClassVar[asyncio.TimerHandle | None] = None
    sweep_loop: ClassVar[asyncio.AbstractEventLoop | None] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_bytes = 0  # raw bytes since the request's first, while in its headers
        self._in_body = False

    # -- the header phase: from the connection (or a request's first byte) to its last header

    def _start_headers(self) -> None:
        if self not in self.in_headers:
            self._header_bytes = 0
            self.in_headers[self] = self.loop.time()
            cls = type(self)
            # (A sweep of another loop is one a closed loop will never run.)
            if cls.sweep is None or cls.sweep_loop is not self.loop:
                cls.sweep_loop = self.loop
                cls.sweep = self.loop.call_later(cls._sweep_seconds(), cls._sweep, self.loop)

    def _end_headers(self) -> None:
        self.in_headers.pop(self, None)

    @classmethod
    def _sweep_seconds(cls) -> float:
        return max(0.01, min(1.0, cls.header_timeout / 4))

    @classmethod
    def _sweep(cls, loop: asyncio.AbstractEventLoop) -> None:
        """Close the connections whose headers are overdue: the oldest come first, so the
        sweep stops at the first that is not."""
        if cls.sweep_loop is not loop:
            return  # a newer loop sweeps now
        cls.sweep = None
        now = loop.time()
        while cls.in_headers:
            oldest, started = next(iter(cls.in_headers.items()))
            if now - started < cls.header_timeout:
                break
            oldest._too_slow()  # leaves in_headers
        if cls.in_headers:
            cls.sweep = loop.call_later(cls._sweep_seconds(), cls._sweep, loop)

    def _refuse(self, status: int, slug: str, detail: str) -> None:
        self._end_headers()
        self.connections.discard(self)  # it counts no more, though its close comes later
        if not self.transport.is_closing():
            self.transport.write(_raw_problem(status, slug, detail))
            self.transport.close()

    def _too_slow(self) -> None:
        self._refuse(
            408,
            "header-timeout",
            f"the request's headers did not arrive within {self.header_timeout:g} s",
        )

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_headers()
        if len(self.connections) > self.max_connections and len(self.in_headers) > 1:
            oldest = next(iter(self.in_headers))
            if oldest is not self:
                oldest._refuse(
                    408, "header-timeout", "closed to make room: the headers came too slowly"
                )

    def connection_lost(self, exc: Exception | None) -> None:
        self._end_headers()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._in_body:
            super().data_received(data)  # the body's deadline is BodyLimit's
            return
        # A request's first byte: its header phase starts (uvicorn's keep-alive timer stops).
        self._start_headers()
        self._header_bytes += len(data)
        super().data_received(data)
        if self in self.in_headers and self._header_bytes > self.max_header_bytes:
            self._refuse(431, "headers-too-large", self._too_large_detail())

    def _too_large_detail(self) -> str:
        return f"the request's headers are over {self.max_header_bytes} bytes"

    def on_headers_complete(self) -> None:
        """Headers that came whole in one read are measured here, exactly: the request line's
        target and each header's name, value and separators."""
        self._end_headers()
        self._in_body = True
        size = len(self.url)
        for name, value in self.headers:
            size += len(name) + len(value) + 4
        refusal: ASGIApp | None = None
        if size > self.max_header_bytes:
            refusal = _answering(431, "headers-too-large", self._too_large_detail())
        elif len(self.connections) > self.max_connections:
            refusal = _OVER_CAPACITY
        if refusal is None:
            super().on_headers_complete()
            return
        app, self.app = self.app, refusal
        try:
            super().on_headers_complete()
        finally:
            self.app = app

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_body = False
        # The bytes after this message belong to the next request, whose header phase starts
        # with its first byte (not now: waiting for our answer is no fault of the client's).
        self._header_bytes = 0


def edge_protocol(settings: Settings) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol bounded by ``settings`` (see the module's docstring)."""
    return type(
        "EdgeProtocol",
        (_Guarded,),
        {
            "max_header_bytes": settings.max_header_bytes,
            "header_timeout": settings.header_timeout.total_seconds(),
            "max_connections": settings.max_connections,
            "in_headers": {},
            "sweep": None,
            "sweep_loop": None,
        },
    )


class SettingsProtocol(_Guarded):
    """The guard bounded by the environment's settings, for a plain uvicorn command line:
    ``uvicorn app.main:create_app --factory --http app.http.edge:SettingsProtocol``."""

    in_headers: ClassVar[dict[_Guarded, float]] = {}
    sweep: ClassVar[asyncio.TimerHandle | None] = None
    sweep_loop: ClassVar[asyncio.AbstractEventLoop | None] = None
    _bounded = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        cls = type(self)
        if not cls._bounded:
            settings = get_settings()
            cls.max_header_bytes = settings.max_header_bytes
            cls.header_timeout = settings.header_timeout.total_seconds()
            cls.max_connections = settings.max_connections
            cls._bounded = True
        super().__init__(*args, **kwargs)


def serving_options(settings: Settings) -> dict[str, Any]:
    """The ``uvicorn.run`` keyword arguments that put the guard in place."""
    return {"http": edge_protocol(settings), "timeout_keep_alive": 5}
