"""``HEAD`` on every read (RFC 9110, 9.3.2): answered as the GET would be, headers and all
(``ETag``, ``Content-Length``, a 304 for a current ``If-None-Match``), without the body.

FastAPI routes a GET route for GET only. This guard hands the app a HEAD request as a GET and
keeps the body from the client: the first body message is sent empty and final, and the app is
told the client went away, so an endless response (``/v1/stream``) stops there.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["HeadAsGet"]

_DISCONNECT: Message = {"type": "http.disconnect"}


class HeadAsGet:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        answered = asyncio.Event()

        async def send_head(message: Message) -> None:
            if answered.is_set():
                return
            if message["type"] == "http.response.body":
                answered.set()
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        async def receive_head() -> Message:
            if answered.is_set():
                return _DISCONNECT
            received = asyncio.ensure_future(receive())
            ended = asyncio.ensure_future(answered.wait())
            await asyncio.wait({received, ended}, return_when=asyncio.FIRST_COMPLETED)
            ended.cancel()
            if received.done():
                return received.result()
            received.cancel()
            return _DISCONNECT

        await self.app({**scope, "method": "GET"}, receive_head, send_head)
