"""``/v1/conflicts``: each conflict's state, its status at a time, its allegations, its story.

Every route here is a conditional read (``app.conditional``): a strong ETag from the log
position it reflects, ``Cache-Control: no-cache``, 304 for a current ``If-None-Match``, and
long-poll with ``Prefer: wait=N``.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import TypeAdapter, ValidationError

from app import reads
from app.api.events import _PROBLEMS
from app.conditional import (
    CONDITIONAL_HEADERS,
    ConditionalDep,
    ConditionalReads,
    IfNoneMatch,
    Prefer,
    conditional_responses,
)
from app.deps import ReaderKey, SettingsDep, StoreDep, reader_key
from app.direct import DirectRoute, answered_directly
from app.problems import Problem
from app.settings import Settings
from events.types import ConflictSlug, Instant
from projections.timeline import TimelineView
from projections.views import AllegationsView, ConflictSummary, StatusView

__all__ = ["router"]

router = APIRouter(tags=["conflicts"], route_class=DirectRoute)

AsOf = Annotated[
    Instant | None,
    Query(description="The state of the world at this time, by occurred_at (default: now)."),
]
KnownAt = Annotated[
    Instant | None,
    Query(description="What the log said at this time, by recorded_at (default: now)."),
]
Conflict = Annotated[ConflictSlug, Path(description="The conflict's slug.")]
_READ_PROBLEMS: dict[int | str, dict[str, Any]] = _PROBLEMS | {
    404: {"model": Problem, "content": {"application/problem+json": {}}}
}


def _documented(description: str, problems: dict[int | str, Any]) -> dict[int | str, Any]:
    return {**problems, **conditional_responses(description)}


_NEXT_LINK = {
    "Link": {
        "description": 'RFC 8288: `<…?after=slug&limit=N>; rel="next"` while more follow.',
        "schema": {"type": "string"},
    }
}


@router.get(
    "/v1/conflicts",
    operation_id="list_conflicts",
    response_model=list[ConflictSummary],
    responses=_documented("A page of the conflicts with their state at as_of.", _PROBLEMS)
    | {
        200: {
            "description": "A page of the conflicts with their state at as_of (slug order).",
            "headers": {**CONDITIONAL_HEADERS, **_NEXT_LINK},
        }
    },
    summary="Every conflict with its state (now, or at as_of), a page at a time",
)
async def get_conflicts(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    conditional: ConditionalDep,
    _key: ReaderKey,
    as_of: AsOf = None,
    known_at: KnownAt = None,
    after: Annotated[
        ConflictSlug | None,
        Query(description="The conflicts after this slug (default: from the first)."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many conflicts.")] = 100,
    if_none_match: IfNoneMatch = None,
    _prefer: Prefer = None,
) -> Response:
    """Tagged with the whole log's position: any append anywhere changes the tag. A conflict
    of which nothing was recorded by known_at is not listed. In pages of ``limit`` (and at most
    CEASEFIRE_MAX_PAGE_BYTES); the ``Link`` header names the next."""
    return await conditional.respond(
        request,
        kind="c",
        key=("conflicts", as_of, known_at, after, limit),
        channel=None,
        head=partial(reads.log_head, conditional.heads),
        compute=partial(
            reads.conflicts,
            store,
            as_of=as_of,
            known_at=known_at,
            window=settings.contested_window,
            after=after,
            limit=limit,
            max_bytes=settings.max_page_bytes,
            url=request.url,
        ),
        if_none_match=if_none_match,
    )


async def _status(
    request: Request,
    conflict: str,
    as_of: datetime | None,
    known_at: datetime | None,
    if_none_match: str | None,
) -> Response:
    conditional: ConditionalReads = request.app.state.conditional
    settings: Settings = request.app.state.settings
    return await conditional.respond(
        request,
        kind="s",
        key=("status", conflict, as_of, known_at),
        channel=conflict,
        head=partial(reads.conflict_head, conditional.heads, conflict),
        compute=partial(
            reads.status,
            request.app.state.store,
            conflict,
            as_of=as_of,
            known_at=known_at,
            window=settings.contested_window,
        ),
        if_none_match=if_none_match,
    )


_slug: TypeAdapter[str] = TypeAdapter(ConflictSlug)
_instant: TypeAdapter[datetime | None] = TypeAdapter(Instant | None)


async def _status_directly(request: Request) -> Response | None:
    """``get_status`` without FastAPI's solving (``app.direct``): the most polled route."""
    try:
        conflict = _slug.validate_python(request.path_params["conflict"])
        query = request.query_params
        as_of = _instant.validate_python(query.get("as_of"))
        known_at = _instant.validate_python(query.get("known_at"))
    except ValidationError:
        return None  # FastAPI answers: its 422, its way
    await reader_key(request)
    return await _status(request, conflict, as_of, known_at, request.headers.get("if-none-match"))


@router.get(
    "/v1/conflicts/{conflict}/status",
    operation_id="get_status",
    response_model=StatusView,
    responses=_documented("The conflict's status.", _READ_PROBLEMS),
    summary="Is the ceasefire holding, since when, and who accuses whom",
)
@answered_directly(_status_directly)
async def get_status(
    request: Request,
    conflict: Conflict,
    _key: ReaderKey,
    as_of: AsOf = None,
    known_at: KnownAt = None,
    if_none_match: IfNoneMatch = None,
    _prefer: Prefer = None,
) -> Response:
    """Poll it cheaply: send the last ETag in If-None-Match (304 while it is current) and,
    to be told of a change as it happens, `Prefer: wait=60`."""
    return await _status(request, conflict, as_of, known_at, if_none_match)


@router.get(
    "/v1/conflicts/{conflict}/allegations",
    operation_id="get_allegations",
    response_model=AllegationsView,
    responses=_documented("The conflict's allegations.", _READ_PROBLEMS),
    summary="Allegations per party, per agreement and over the whole conflict",
)
async def get_allegations(
    request: Request,
    conflict: Conflict,
    store: StoreDep,
    conditional: ConditionalDep,
    _key: ReaderKey,
    as_of: AsOf = None,
    known_at: KnownAt = None,
    if_none_match: IfNoneMatch = None,
    _prefer: Prefer = None,
) -> Response:
    return await conditional.respond(
        request,
        kind="a",
        key=("allegations", conflict, as_of, known_at),
        channel=conflict,
        head=partial(reads.conflict_head, conditional.heads, conflict),
        compute=partial(reads.allegations, store, conflict, as_of=as_of, known_at=known_at),
        if_none_match=if_none_match,
    )


@router.get(
    "/v1/conflicts/{conflict}/timeline",
    operation_id="get_timeline",
    response_model=TimelineView,
    responses=_documented("The conflict's story.", _READ_PROBLEMS),
    summary="The conflict's story in order of occurrence, each event with the state it led to",
)
async def get_timeline(
    request: Request,
    conflict: Conflict,
    store: StoreDep,
    settings: SettingsDep,
    conditional: ConditionalDep,
    _key: ReaderKey,
    as_of: AsOf = None,
    known_at: KnownAt = None,
    after: Annotated[
        int,
        Query(
            ge=0,
            le=2**63 - 1,
            description="The entries after the one at this position (`next_after`; 0: all).",
        ),
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many entries.")] = 1000,
    if_none_match: IfNoneMatch = None,
    _prefer: Prefer = None,
) -> Response:
    """Agreements and declarations, extensions, collapses, allegations, denials, missions and
    their ends in order of occurred_at, each with the state of the conflict at that moment;
    retractions and corrections appear as notes on the events they changed (with the original
    data beside the corrected). ``as_of``: only what occurred by then. ``known_at``: the story
    as the log told it then. In pages of ``limit`` entries (and at most
    CEASEFIRE_MAX_PAGE_BYTES): pass ``next_after`` as ``after`` for the next."""
    return await conditional.respond(
        request,
        kind="t",
        key=("timeline", conflict, as_of, known_at, after, limit),
        channel=conflict,
        head=partial(reads.conflict_head, conditional.heads, conflict),
        compute=partial(
            reads.timeline,
            store,
            conflict,
            as_of=as_of,
            known_at=known_at,
            window=settings.contested_window,
            after=after,
            limit=limit,
            max_bytes=settings.max_page_bytes,
        ),
        if_none_match=if_none_match,
    )
