"""A pure ASGI guard on request sizes: headers over their limit are a 431 problem; a body over
the limit is a 413 problem, and the body never
reaches the app; a body that has not all arrived ``timeout`` seconds after the headers is a 408
problem (``CEASEFIRE_BODY_TIMEOUT``), and the connection is closed. A NUL character anywhere
in the path, the query or a JSON body (``\u0000``) is a 422 validation problem naming where:
PostgreSQL text cannot hold one, so it is refused at the door on every database alike,
whatever field it is in.

It checks ``Content-Length`` up front and counts the bytes of chunked bodies as they arrive,
so a client cannot get around the limit by leaving the length out. It must wrap the whole app:
inside FastAPI, an error raised while the body is read would turn into a 400.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.http.problems import PROBLEM_JSON

__all__ = ["DRAIN_BYTES", "BodyLimit"]

#: A body refused for its size is still read, and thrown away, up to this many bytes before the
#: 413 is sent. Ordinary clients (httpx, requests) send the whole body before they read an
#: answer: a server that answers and closes mid-body leaves them a reset connection, not the 413.
#: Past this, or when the client asked ``Expect: 100-continue``, the answer goes at once.
DRAIN_BYTES = 8 * 1024 * 1024


async def _drain(receive: Receive, budget: int) -> None:
    while budget > 0:
        message = await receive()
        if message["type"] != "http.request":
            return  # the client went away
        budget -= len(message.get("body", b""))
        if not message.get("more_body", False):
            return


#: ``\u0000`` in JSON text: the escape itself, not an escaped backslash followed by "u0000".
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def _nul_places(scope: Scope, body: bytes = b"") -> list[list[str]]:
    """Where the request holds a NUL: ``["path"]``, ``["query"]``, or the path of each JSON
    string (or key) that does, under ``"body"``, as validation errors name their places."""
    places: list[list[str]] = []
    path = scope.get("raw_path") or scope.get("path", "").encode()
    if b"\x00" in path or b"%00" in path:
        places.append(["path"])
    query = scope.get("query_string", b"")
    if b"\x00" in query or b"%00" in query:
        pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
        names = dict.fromkeys(name for name, value in pairs if "\x00" in name + value)
        places.extend(["query", name] for name in names)
    if b"\\u0000" in body and _JSON_NUL.search(body) is not None:
        try:
            document = json.loads(body)
        except ValueError:  # not JSON after all: the app says so
            return places
        places.extend(_strings_with_nul(document, ["body"]))
    return places


def _strings_with_nul(value: Any, at: list[str]) -> list[list[str]]:
    if isinstance(value, str):
        return [at] if "\x00" in value else []
    if isinstance(value, dict):
        found = [[*at, key] for key in value if "\x00" in key]
        for key, item in value.items():
            found.extend(_strings_with_nul(item, [*at, key]))
        return found
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in _strings_with_nul(item, [*at, str(i)])]
    return []


class _Gone(Exception):
    """The client went away before its body was all read."""


def _header_bytes(scope: Scope) -> int:
    """The size of a request's target and headers, each header's name, value and separators
    counted (``: `` and CRLF), as they came on the wire give or take the request line's
    method and version."""
    size = len(scope.get("raw_path") or b"") + len(scope.get("query_string", b"")) + 1
    for name, value in scope.get("headers", ()):
        size += len(name) + len(value) + 4
    return size


class BodyLimit:
    """``max_header_bytes``: a request whose target and headers are larger is a 431 problem,
    and the connection is closed. The HTTP server sees them first: uvicorn's h11 parser bounds
    what it buffers of headers still arriving (``app.http.edge``), but takes whole a header block
    that arrived in one read; this is the exact bound on what reaches the app."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        *,
        timeout: float = 30.0,
        max_header_bytes: int | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.max_header_bytes = max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.max_header_bytes is not None and _header_bytes(scope) > self.max_header_bytes:
            await self._answer(
                send,
                431,
                {
                    "type": "/problems/headers-too-large",
                    "title": "Request Header Fields Too Large",
                    "status": 431,
                    "detail": f"the request's headers are over {self.max_header_bytes} bytes",
                    "instance": scope.get("path", ""),
                },
            )
            return
        headers = dict(scope.get("headers", ()))
        if b"content-length" not in headers and b"transfer-encoding" not in headers:
            # No body (RFC 9112, 6.3): nothing to wait for or count, only the path and query to
            # look at. Every poll comes this way.
            places = _nul_places(scope)
            if places:
                await self._refuse_nul(scope, send, places)
                return
            await self.app(scope, receive, send)
            return
        try:
            declared = int(headers.get(b"content-length", b""))
        except ValueError:
            declared = None
        if declared is not None and declared > self.max_bytes:
            if declared <= DRAIN_BYTES and headers.get(b"expect") != b"100-continue":
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.timeout):
                        await _drain(receive, DRAIN_BYTES)
            await self._reject(scope, send)
            return
        # Bodies here are small (64 KiB by default): read the whole body first, refuse it whole
        # if it is too large or too slow, and hand the app a replay of what was read.
        try:
            async with asyncio.timeout(self.timeout):
                body = await self._read(receive)
        except TimeoutError:
            await self._answer(
                send,
                408,
                {
                    "type": "/problems/body-timeout",
                    "title": "Request Timeout",
                    "status": 408,
                    "detail": f"the request body did not arrive within {self.timeout:g} s",
                    "instance": scope.get("path", ""),
                },
            )
            return
        except _Gone:
            return  # nobody to answer
        if body is None:
            await self._reject(scope, send)
            return
        places = _nul_places(scope, body)
        if places:
            await self._refuse_nul(scope, send, places)
            return
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _read(self, receive: Receive) -> bytes | None:
        """The whole body; None when it is too large (what followed it is drained)."""
        chunks: list[bytes] = []
        received = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                raise _Gone
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.max_bytes:
                if message.get("more_body", False):
                    await _drain(receive, DRAIN_BYTES - received)
                return None
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)

    async def _refuse_nul(self, scope: Scope, send: Send, places: list[list[str]]) -> None:
        await self._answer(
            send,
            422,
            {
                "type": "/problems/validation-error",
                "title": "Unprocessable Content",
                "status": 422,
                "detail": "the request is not valid",
                "instance": scope.get("path", ""),
                "errors": [
                    {"loc": loc, "msg": "must not contain NUL characters", "type": "nul"}
                    for loc in places
                ],
            },
            close=False,
        )

    async def _reject(self, scope: Scope, send: Send) -> None:
        body: dict[str, Any] = {
            "type": "/problems/body-too-large",
            "title": "Content Too Large",
            "status": 413,
            "detail": f"the request body is over {self.max_bytes} bytes",
            "instance": scope.get("path", ""),
        }
        await self._answer(send, 413, body)

    async def _answer(
        self, send: Send, status: int, body: dict[str, Any], *, close: bool = True
    ) -> None:
        """The problem, closing the connection unless the whole body was read (``close``)."""
        payload = json.dumps(body).encode()
        headers = [
            (b"content-type", PROBLEM_JSON.encode()),
            (b"content-length", str(len(payload)).encode()),
        ]
        if close:
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
