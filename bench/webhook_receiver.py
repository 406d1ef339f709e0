"""The bench's webhook receiver: a bare ASGI app that notes when each delivery arrived.

``POST /<anything>`` records (arrival time, CloudEvent id, path) and answers 204;
``GET /stats`` returns the records and ``GET /count`` their number; ``GET /healthz`` is 200.
Run by ``bench/webhooks.py`` under uvicorn in a process of its own.
"""

from __future__ import annotations

import json
import time
from typing import Any

__all__ = ["app"]

_arrivals: list[tuple[float, str, str]] = []


async def _body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _answer(send: Any, status: int, body: bytes = b"") -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    if scope["method"] == "POST":
        body = await _body(receive)
        arrived = time.time()
        _arrivals.append((arrived, json.loads(body)["id"], scope["path"]))
        await _answer(send, 204)
    elif scope["path"] == "/stats":
        await _answer(send, 200, json.dumps(_arrivals).encode())
    elif scope["path"] == "/count":
        await _answer(send, 200, str(len(_arrivals)).encode())
    elif scope["path"] == "/reset":
        _arrivals.clear()
        await _answer(send, 200, b"0")
    else:
        await _answer(send, 200, b"{}")
