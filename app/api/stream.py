"""``/v1/stream``: the log as Server-Sent Events, live, resumable with ``Last-Event-ID``.

Each event is one message: ``id:`` its position, ``event:`` its type, ``data:`` the event as
``/v1/events`` shows it. Positions commit in order, so resuming after the last id received
gives every later event exactly once, whichever process wrote it and whether or not it was
written while the client was away. An idle stream sends a comment line every
``CEASEFIRE_STREAM_HEARTBEAT`` (15 s). A resume from further back than
``CEASEFIRE_STREAM_REPLAY_LIMIT`` events (when set) is told in-band, never by silence.

The first message carries the position the stream starts after (``id:``), so a reconnect
from any moment loses nothing. Waiting for the next append holds no database connection, and
one read per append serves every stream with the same filter (``app.reads.streaming``); what a
stream holds for a client that stops reading is bounded (``CEASEFIRE_STREAM_BUFFER_BYTES``). At most
``CEASEFIRE_MAX_STREAMS`` streams per process: past that, 503 with ``Retry-After``; and at most
``CEASEFIRE_MAX_STREAMS_PER_CLIENT`` per client address, so no one client takes them all: past
that, 429 with ``Retry-After`` for that client.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from app.api.parameters import After
from app.deps import (
    MetricsDep,
    ReaderKey,
    SettingsDep,
    StreamCountDep,
    StreamHubDep,
    StreamsPerClientDep,
)
from app.http.capacity import client_of
from app.http.openapi import OPEN_READ, SERVER_SENT_EVENTS
from app.http.problems import ProblemError, problem_responses
from app.metric_families import Metrics
from app.reads.conditional import ConditionalDep
from events.model.types import EVENT_TYPES
from events.model.values import ConflictSlug

__all__ = ["router"]

router = APIRouter(tags=["events"])


class EventStreamResponse(StreamingResponse):
    """Holds its places under the stream caps (the process's, the client's) until it ends,
    however it ends."""

    media_type = "text/event-stream"

    def __init__(
        self,
        content: AsyncIterator[str],
        status_code: int = 200,  # read by FastAPI for the OpenAPI document
        *,
        headers: dict[str, str],
        release: Callable[[], None],
    ) -> None:
        super().__init__(content, status_code, headers=headers)
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


async def _opened(start: int, notices: list[str], follow: AsyncIterator[str]) -> AsyncIterator[str]:
    """The stream's first message says where it starts (``id:``, no data: a browser's
    EventSource takes the id without firing an event), so a client that drops before any
    event reconnects with ``Last-Event-ID`` and loses nothing written meanwhile. A notice
    (which carries its own id) comes first instead, when there is one."""
    yield "retry: 3000\n\n" if notices else f"retry: 3000\nid: {start}\n\n"
    for notice in notices:
        yield notice
    async for message in follow:
        yield message


_EXAMPLE = (
    "retry: 3000\nid: 6\n\n"
    "id: 7\nevent: violation.alleged\n"
    'data: {"id": "0b6c…", "type": "violation.alleged", "position": 7, …}\n\n'
    ": heartbeat\n\n"
)


@router.get(
    "/v1/stream",
    operation_id="stream_events",
    response_class=EventStreamResponse,
    responses={
        **problem_responses(
            401,
            422,
            429,
            503,
            specific={
                400: "Last-Event-ID is not a position (`/problems/invalid-last-event-id`).",
                422: "An unknown event type, or a query parameter out of range "
                "(`/problems/validation-error`).",
                429: "This client already has as many streams open as one client may "
                "(`/problems/too-many-requests`, CEASEFIRE_MAX_STREAMS_PER_CLIENT; see "
                "Retry-After).",
                503: "The database is not reachable, or the process holds as many streams as "
                "it may (`/problems/over-capacity`, CEASEFIRE_MAX_STREAMS; see Retry-After).",
            },
        ),
        200: {
            "description": "An endless text/event-stream. First `retry:` and `id:` the "
            "position it starts after (no data: it fires no event, but a reconnect sends it "
            "as Last-Event-ID). Each event: `id:` its position, "
            "`event:` its type, `data:` the event JSON. A comment line (`: heartbeat`) when "
            "idle. In-band notices: `event: position-too-old` (the resume point is further "
            "back than the replay limit: the stream resumes at the limit, its `id:`, and "
            "`data` says which positions to page through /v1/events for) and "
            "`event: position-unknown` (the resume point is past the log's head). It never "
            "ends: read it with an SSE client (httpx-sse, a browser's EventSource), not one "
            "that waits for the whole body; `x-server-sent-events` describes its messages.",
            "content": {"text/event-stream": {"schema": {"type": "string"}, "example": _EXAMPLE}},
            "headers": {
                "Cache-Control": {"description": "`no-cache`.", "schema": {"type": "string"}},
            },
        },
    },
    summary="Follow the log live (Server-Sent Events), resumable with Last-Event-ID",
    openapi_extra={**OPEN_READ, **SERVER_SENT_EVENTS},
)
async def stream_events(
    request: Request,
    settings: SettingsDep,
    conditional: ConditionalDep,
    hub: StreamHubDep,
    streams: StreamCountDep,
    per_client: StreamsPerClientDep,
    metrics: MetricsDep,
    _key: ReaderKey,
    conflict: Annotated[
        list[ConflictSlug] | None,
        Query(
            max_length=100,
            description="Only this conflict's events (repeat it for several, up to 100).",
        ),
    ] = None,
    types: Annotated[
        list[str] | None,
        Query(description="Only these event types (repeat it, or separate them by commas)."),
    ] = None,
    after: Annotated[
        After | None,
        Query(description="Start after this position (default: from now on; Last-Event-ID wins)."),
    ] = None,
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            description="The id of the last event received: resume right after it.",
        ),
    ] = None,
) -> EventStreamResponse:
    """Every event after the resume point, then each new one as it is committed, in position
    order. Reconnect with `Last-Event-ID` (browsers' `EventSource` does it by itself) to get
    every later event exactly once. Filters (`conflict`, `types`) apply to both."""
    wanted = _types(types)
    head = await conditional.router.primary.heads.log()
    start = _resume_point(last_event_id, after, head)
    notices: list[str] = []
    limit = settings.stream_replay_limit
    if start > head:
        notices.append(
            _message(
                "position-unknown",
                head,
                {
                    "type": "/problems/position-unknown",
                    "detail": f"position {start} is past the log's head ({head}); resuming at "
                    "the head",
                    "last_event_id": start,
                    "resumed_after": head,
                },
            )
        )
        start = head
    elif limit is not None and head - start > limit:
        oldest = head - limit
        notices.append(
            _message(
                "position-too-old",
                oldest,
                {
                    "type": "/problems/position-too-old",
                    "detail": f"position {start} is more than {limit} events behind the head; "
                    f"resuming after {oldest}: page through /v1/events?after={start} for the "
                    "events in between",
                    "last_event_id": start,
                    "resumed_after": oldest,
                    "replay_limit": limit,
                },
            )
        )
        start = oldest
    client = client_of(request)
    streams.acquire()  # the process's cap first: when it is full, that is the answer (503)
    try:
        per_client.acquire(client)
    except BaseException:
        streams.release()
        raise

    def release() -> None:
        streams.release()
        per_client.release(client)

    return EventStreamResponse(
        _counted(
            metrics,
            _opened(
                start,
                notices,
                hub.follow(
                    start, _conflicts(conflict), wanted, settings.stream_heartbeat.total_seconds()
                ),
            ),
        ),
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        release=release,
    )


async def _counted(metrics: Metrics, messages: AsyncIterator[str]) -> AsyncIterator[str]:
    """The stream's messages, counted in ``ceasefire_streams_open`` while it is open."""
    metrics.streams.inc()
    try:
        async for message in messages:
            yield message
    finally:
        metrics.streams.dec()


def _conflicts(values: list[str] | None) -> str | tuple[str, ...] | None:
    """The conflicts asked for: one as itself (the filter it always was), several in order."""
    if not values:
        return None
    named = tuple(sorted(set(values)))
    return named[0] if len(named) == 1 else named


def _types(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    wanted = [t.strip() for value in values for t in value.split(",") if t.strip()]
    unknown = [t for t in wanted if t not in EVENT_TYPES]
    if unknown:
        raise ProblemError(
            422,
            "validation-error",
            f"unknown event type(s): {', '.join(unknown)}",
            errors=[
                {"loc": ["query", "types"], "msg": f"not an event type: {t}", "type": "enum"}
                for t in unknown
            ],
        )
    return wanted or None


def _resume_point(last_event_id: str | None, after: int | None, head: int) -> int:
    if last_event_id is not None:
        text = last_event_id.strip()
        if not text.isdigit() or len(text) > 19:
            raise ProblemError(
                400,
                "invalid-last-event-id",
                "Last-Event-ID must be a position this stream sent (a non-negative integer)",
            )
        return int(text)
    return head if after is None else after


def _message(event: str, position: int, data: Any) -> str:
    return f"id: {position}\nevent: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"
