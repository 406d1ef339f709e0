"""Which histogram times a request, told by its answer: a long-poll that waited
(``Preference-Applied: wait``) and a stream (``text/event-stream``) apart from the latency of
the other requests. Driven through the middleware itself, around answers of known headers."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from app.http.telemetry import RequestTelemetry
from app.metric_families import Metrics

HISTOGRAMS = (
    "ceasefire_http_request_seconds_count",
    "ceasefire_http_long_poll_seconds_count",
    "ceasefire_http_stream_seconds_count",
)


def _answering(headers: list[tuple[bytes, bytes]], status: int = 200) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    return app


async def _timed_in(headers: list[tuple[bytes, bytes]], status: int = 200) -> list[float]:
    metrics = Metrics()
    telemetry = RequestTelemetry(_answering(headers, status), metrics, log_requests=False)
    scope = {"type": "http", "method": "GET", "path": "/v1/x", "headers": []}
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await telemetry(scope, receive, send)
    assert b"x-request-id" in dict(sent[0]["headers"])
    labels = {"method": "GET", "route": "unmatched"}
    counted = metrics.registry.get_sample_value(
        "ceasefire_http_requests_total", {**labels, "status": str(status)}
    )
    assert counted == 1  # every request is counted, whichever histogram times it
    return [metrics.registry.get_sample_value(name, labels) or 0.0 for name in HISTOGRAMS]


@pytest.mark.parametrize(
    ("headers", "status", "timed"),
    [
        ([(b"content-type", b"application/json")], 200, [1, 0, 0]),
        ([(b"etag", b'"x"')], 304, [1, 0, 0]),
        ([(b"preference-applied", b"wait=30"), (b"etag", b'"x"')], 304, [0, 1, 0]),
        (
            [(b"content-type", b"application/json"), (b"preference-applied", b"wait=5")],
            200,
            [0, 1, 0],
        ),
        ([(b"content-type", b"text/event-stream; charset=utf-8")], 200, [0, 0, 1]),
        ([(b"preference-applied", b"return=minimal")], 200, [1, 0, 0]),
    ],
)
async def test_timed_apart(
    headers: list[tuple[bytes, bytes]], status: int, timed: list[int]
) -> None:
    assert await _timed_in(headers, status) == timed
