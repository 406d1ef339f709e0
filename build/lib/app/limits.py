"""A pure ASGI guard on request bodies: over the limit is a 413 problem, and the body never
reaches the app.

It checks ``Content-Length`` up front and counts the bytes of chunked bodies as they arrive,
so a client cannot get around the limit by leaving the length out. It must wrap the whole app:
inside FastAPI, an error raised while the body is read would turn into a 400.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.problems import PROBLEM_JSON

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


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", ()))
        try:
            declared = int(headers.get(b"content-length", b""))
        except ValueError:
            declared = None
        if declared is not None and declared > self.max_bytes:
            if declared <= DRAIN_BYTES and headers.get(b"expect") != b"100-continue":
                await _drain(receive, DRAIN_BYTES)
            await self._reject(scope, send)
            return
        # Bodies here are small (64 KiB by default): read the whole body first, refuse it whole
        # if it is too large, and hand the app a replay of what was read.
        chunks: list[bytes] = []
        received = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client went away
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.max_bytes:
                if message.get("more_body", False):
                    await _drain(receive, DRAIN_BYTES - received)
                await self._reject(scope, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _reject(self, scope: Scope, send: Send) -> None:
        body: dict[str, Any] = {
            "type": "/problems/body-too-large",
            "title": "Content Too Large",
            "status": 413,
            "detail": f"the request body is over {self.max_bytes} bytes",
            "instance": scope.get("path", ""),
        }
        payload = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(payload)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})
