"""``/v1/events``: append an event; page through the log in global order."""

from __future__ import annotations

import json
import time
from collections.abc import Hashable
from typing import Annotated

from fastapi import APIRouter, Body, Response

from app.api.event_bodies import Appended, EventIn, EventPage, LogHeadView, event_of
from app.api.parameters import (
    POSITIONED_CONFLICT_READ_PROBLEMS,
    POSITIONED_READ_PROBLEMS,
    READ_PROBLEMS,
    After,
    ConditionalRead,
    ConditionalReadDep,
    Conflict,
    Limit,
    MinPosition,
    conditional_responses,
)
from app.deps import (
    AppenderDep,
    JsonContent,
    MetricsDep,
    WriterKey,
    reading,
)
from app.http.openapi import OPEN_READ, links
from app.http.problems import problem_responses
from app.reads.entity_tags import Representation, Validator
from app.reads.view_bytes import fitting
from events.log.audit import appended_by
from events.log.chain import read_log_head as read_log_head_row
from events.log.routing import ReadDatabase
from events.log.store import read_events
from events.model.errors import (
    ConcurrencyError,
    DomainRuleError,
    DuplicateEventError,
)
from events.model.types import Event

__all__ = ["router"]

router = APIRouter(tags=["events"])


_APPENDED_LINKS = links(
    "conflict",
    "$response.body#/conflict",
    "get_status",
    "get_allegations",
    "get_timeline",
    "list_conflict_events",
)


@router.post(
    "/v1/events",
    operation_id="append_event",
    status_code=201,
    response_model=Appended,
    responses={
        **problem_responses(
            400,
            401,
            403,
            413,
            415,
            422,
            503,
            specific={
                409: "`expected_version` is not the conflict's version "
                "(`/problems/version-conflict`), or an event with this `id` and other content "
                "is stored (`/problems/idempotency-conflict`).",
                422: "The event does not fit the schema (`/problems/validation-error`), "
                "breaks a rule of the domain (`/problems/domain-rule`, with `rule`), or is an "
                "allegation or a denial naming no actor of the conflict "
                "(`/problems/unknown-actor`, with `did_you_mean`).",
            },
        ),
        200: {"model": Appended, "description": "Already stored: nothing written."},
        201: {"description": "Recorded.", "links": _APPENDED_LINKS},
    },
    summary="Record an event",
)
async def append_event(
    metrics: MetricsDep,
    body: Annotated[EventIn, Body()],
    appender: AppenderDep,
    key: WriterKey,
    _json: JsonContent,
) -> Response:
    """Append one event to its conflict's stream. Sending the same event (same ``id``, same
    content) again returns the stored one with 200 and writes nothing. The event records the
    id of the key that appended it (``events.log.audit``)."""
    # The body was validated once, by FastAPI, as the event's class (event_of), and the answer
    # is serialised once, here: FastAPI hands a Response through without validating it again.
    event: Event = event_of(body)
    outcome = "failed"
    started = time.perf_counter()
    try:
        result = await appender.append(
            [event],
            expected_version=body.expected_version,
            key_id=None if key is None else str(key.id),
        )
        outcome = "created" if result.created else "duplicate"
    except (ConcurrencyError, DomainRuleError, DuplicateEventError):
        outcome = "refused"
        raise
    finally:
        metrics.appends.labels(event.type, outcome).inc()
        metrics.append_seconds.labels(outcome).observe(time.perf_counter() - started)
    stored = result.events[0]
    return Response(
        Appended.model_validate(stored, from_attributes=True).model_dump_json(),
        status_code=201 if result.created else 200,
        media_type="application/json",
    )


async def _page(
    database: ReadDatabase,
    head: int,
    *,
    after: int,
    limit: int,
    max_bytes: int,
    conflict: str | None = None,
    audited: bool = False,
) -> Representation:
    """The page as of ``head``: none of the events committed after it, so the body is
    exactly what the tag (``head``) says; it ends early rather than pass ``max_bytes``
    (``next_after`` says where the next begins). ``audited`` (an admin asks): each event also
    says ``key_id``, the id of the key that appended it."""
    events = await read_events(
        database.engine, after=after, limit=limit + 1, conflict=conflict, until=head
    )
    parts = [event.model_dump_json().encode() for event in events[:limit]]
    count = fitting(parts, max_bytes)
    next_after = events[count - 1].position if count else after
    more = b"true" if len(events) > count else b"false"
    body = b'{"events":[%s],"next_after":%d,"has_more":%s}' % (
        b",".join(parts[:count]),
        next_after,
        more,
    )
    if not audited:
        return Representation(body, Validator(head))
    events = events[:count]
    authors = await appended_by(database.engine, [e.id for e in events])
    page = json.loads(body)
    for event, shown in zip(events, page["events"], strict=True):
        shown["key_id"] = authors.get(event.id)
    return Representation(json.dumps(page, separators=(",", ":")).encode(), Validator(head))


async def _respond_page(
    read: ConditionalRead,
    conflict: str | None,
    *,
    after: int,
    limit: int,
    min_position: int | None,
) -> Response:
    """A page of the log (``conflict`` None) or of one conflict's events, tagged with that
    head. Asked with an admin key, each event also says ``key_id`` (the page is then tagged
    and cached apart)."""
    audited = read.key is not None and read.key.allows("admin")

    async def compute(database: ReadDatabase) -> Representation:
        heads = database.heads
        return await _page(
            database,
            await (heads.log() if conflict is None else heads.stream(conflict)),
            after=after,
            limit=limit,
            max_bytes=read.settings.max_page_bytes,
            conflict=conflict,
            audited=audited,
        )

    kind: str
    key: Hashable
    if conflict is None:
        kind, key = "e", ("events", after, limit, audited)
    else:
        kind, key = "ce", ("conflict-events", conflict, after, limit, audited)
    return await read.respond(
        kind=f"{kind}a" if audited else kind,
        key=key,
        conflict=conflict,
        compute=compute,
        min_position=min_position,
    )


@router.get(
    "/v1/events",
    operation_id="list_events",
    response_model=EventPage,
    responses={**POSITIONED_READ_PROBLEMS, **conditional_responses("A page of the log.")},
    summary="Page through the log in global order",
    openapi_extra=OPEN_READ,
)
async def list_events(
    read: ConditionalReadDep,
    after: After = 0,
    limit: Limit = 100,
    min_position: MinPosition = None,
) -> Response:
    """Every committed event exactly once, in position order: a consumer that pages with
    ``after=next_after`` never skips one, even while writers commit concurrently. Tagged with
    the log's head: with its ETag and ``Prefer: wait=N`` the request waits for the next
    append anywhere. Asked with an admin key, each event also says ``key_id``: the id of the
    API key that appended it (``cli``: an operator's command; null: recorded before keys
    were)."""
    return await _respond_page(read, None, after=after, limit=limit, min_position=min_position)


@router.get(
    "/v1/log/head",
    operation_id="read_log_head",
    response_model=LogHeadView,
    responses={**READ_PROBLEMS, **conditional_responses("The log's head.")},
    summary="The log's newest position and chain hash, to pin the history",
    openapi_extra=OPEN_READ,
)
async def read_log_head(read: ConditionalReadDep) -> Response:
    """Whoever notes this pair can later prove that nobody, not even someone with full
    access to the database, rewrote the log up to it (`ceasefire verify --expect`). As cheap
    as the other conditional reads: the ETag is the position, a 304 costs one indexed lookup,
    and `Prefer: wait=N` waits for the next append."""

    async def compute(database: ReadDatabase) -> Representation:
        async with reading(database.engine) as conn:
            head = await read_log_head_row(conn)
        view = LogHeadView(position=head.position, hash=head.hash.hex())
        return Representation(view.model_dump_json().encode(), Validator(head.position))

    return await read.respond(
        kind="lh",
        key=("log-head",),
        conflict=None,
        compute=compute,
    )


@router.get(
    "/v1/conflicts/{conflict}/events",
    operation_id="list_conflict_events",
    response_model=EventPage,
    responses={
        **POSITIONED_CONFLICT_READ_PROBLEMS,
        **conditional_responses("A page of the conflict's events."),
    },
    summary="Page through one conflict's events",
    openapi_extra=OPEN_READ,
)
async def list_conflict_events(
    conflict: Conflict,
    read: ConditionalReadDep,
    after: After = 0,
    limit: Limit = 100,
    min_position: MinPosition = None,
) -> Response:
    """Tagged with the conflict's newest position: with its ETag and ``Prefer: wait=N`` the
    request waits for the conflict's next event. With an admin key, each event also says
    ``key_id``, as in ``GET /v1/events``."""
    return await _respond_page(read, conflict, after=after, limit=limit, min_position=min_position)
