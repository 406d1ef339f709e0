"""``/v1/conflicts``: each conflict's state, its status at a time, its allegations, its story,
its actors.

Every route here is a conditional read (``app.reads.conditional``): a strong ETag from the log
position it reflects, a ``Cache-Control`` shared caches can use, 304 for a current
``If-None-Match``, long-poll with ``Prefer: wait=N``, and read-your-writes with
``min_position`` (the position an append answered) when reads go to hot standbys.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from app.api.parameters import (
    CONDITIONAL_HEADERS,
    POSITIONED_CONFLICT_READ_PROBLEMS,
    POSITIONED_READ_PROBLEMS,
    ConditionalReadDep,
    Conflict,
    MinPosition,
    conditional_responses,
)
from app.http.links import request_link
from app.http.openapi import OPEN_READ
from app.http.problems import ProblemError
from app.reads import view_bytes
from events.model.values import ConflictSlug, Instant
from projections.queries.shared import Period
from projections.views import ActorsView, AllegationsView, ConflictSummary, StatusView, TimelineView

__all__ = ["router"]

router = APIRouter(tags=["conflicts"])

AsOf = Annotated[
    Instant | None,
    Query(description="The state of the world at this time, by occurred_at (default: now)."),
]
KnownAt = Annotated[
    Instant | None,
    Query(description="What the log said at this time, by recorded_at (default: now)."),
]


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
    responses=_documented(
        "A page of the conflicts with their state at as_of.", POSITIONED_READ_PROBLEMS
    )
    | {
        200: {
            "description": "A page of the conflicts with their state at as_of (slug order).",
            "headers": {**CONDITIONAL_HEADERS, **_NEXT_LINK},
        }
    },
    summary="Every conflict with its state (now, or at as_of), a page at a time",
    openapi_extra=OPEN_READ,
)
async def get_conflicts(
    read: ConditionalReadDep,
    as_of: AsOf = None,
    known_at: KnownAt = None,
    after: Annotated[
        ConflictSlug | None,
        Query(description="The conflicts after this slug (default: from the first)."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many conflicts.")] = 100,
    min_position: MinPosition = None,
) -> Response:
    """Tagged with the whole log's position: any append anywhere changes the tag. A conflict
    of which nothing was recorded by known_at is not listed. In pages of ``limit`` (and at most
    CEASEFIRE_MAX_PAGE_BYTES); the ``Link`` header names the next."""
    return await read.respond(
        kind="c",
        key=("conflicts", as_of, known_at, after, limit),
        conflict=None,
        compute=lambda db: view_bytes.conflicts(
            db.engine,
            as_of=as_of,
            known_at=known_at,
            window=read.settings.contested_window,
            after=after,
            limit=limit,
            max_bytes=read.settings.max_page_bytes,
            url=request_link(read.request),
            stale_after=read.settings.stale_after,
        ),
        min_position=min_position,
        as_of=as_of,
        known_at=known_at,
    )


@router.get(
    "/v1/conflicts/{conflict}/status",
    operation_id="get_status",
    response_model=StatusView,
    responses=_documented("The conflict's status.", POSITIONED_CONFLICT_READ_PROBLEMS),
    summary="Is the ceasefire holding, since when, and who accuses whom",
    openapi_extra=OPEN_READ,
)
async def get_status(
    conflict: Conflict,
    read: ConditionalReadDep,
    as_of: AsOf = None,
    known_at: KnownAt = None,
    min_position: MinPosition = None,
) -> Response:
    """Poll it cheaply: send the last ETag in If-None-Match (304 while it is current) and,
    to be told of a change as it happens, `Prefer: wait=60`."""
    return await read.respond(
        kind="s",
        key=("status", conflict, as_of, known_at),
        conflict=conflict,
        compute=lambda db: view_bytes.status(
            db.engine,
            conflict,
            as_of=as_of,
            known_at=known_at,
            window=read.settings.contested_window,
            stale_after=read.settings.stale_after,
        ),
        min_position=min_position,
        as_of=as_of,
        known_at=known_at,
    )


@router.get(
    "/v1/conflicts/{conflict}/allegations",
    operation_id="get_allegations",
    response_model=AllegationsView,
    responses=_documented("The conflict's allegations.", POSITIONED_CONFLICT_READ_PROBLEMS),
    summary="Allegations per party, per agreement and over the whole conflict",
    openapi_extra=OPEN_READ,
)
async def get_allegations(
    conflict: Conflict,
    read: ConditionalReadDep,
    as_of: AsOf = None,
    known_at: KnownAt = None,
    occurred_from: Annotated[
        Instant | None,
        Query(
            alias="from",
            description="Count only the allegations that occurred at or after this time.",
        ),
    ] = None,
    occurred_to: Annotated[
        Instant | None,
        Query(
            alias="to",
            description="Count only the allegations that occurred before this time (later "
            "than `from`).",
        ),
    ] = None,
    min_position: MinPosition = None,
) -> Response:
    """Per party: allegations made and received, and the incidents they count, under each
    agreement and over the whole conflict; each allegation listed with its source, and the
    casualties claimed summed per accuser and accused. Retracted allegations are not counted
    from the moment the retraction was recorded. ``from`` and ``to``: a period's counts, the
    allegations that occurred in [from, to) (and by as_of)."""
    if occurred_from is not None and occurred_to is not None and occurred_from >= occurred_to:
        raise ProblemError(
            422,
            "validation-error",
            "`to` must be later than `from`",
            errors=[
                {"loc": ["query", "to"], "msg": "must be later than from", "type": "value_error"}
            ],
        )
    period = Period(occurred_from, occurred_to)
    return await read.respond(
        kind="a",
        key=("allegations", conflict, as_of, known_at, occurred_from, occurred_to),
        conflict=conflict,
        compute=lambda db: view_bytes.allegations(
            db.engine, conflict, as_of=as_of, known_at=known_at, period=period
        ),
        min_position=min_position,
        as_of=as_of,
        known_at=known_at,
    )


@router.get(
    "/v1/conflicts/{conflict}/timeline",
    operation_id="get_timeline",
    response_model=TimelineView,
    responses=_documented("The conflict's story.", POSITIONED_CONFLICT_READ_PROBLEMS)
    | {
        200: {
            "description": "A page of the conflict's story.",
            "headers": {
                **CONDITIONAL_HEADERS,
                "Link": {
                    "description": 'RFC 8288: `<…?after=position&limit=N>; rel="next"` while '
                    "more entries follow (the same position as `next_after`).",
                    "schema": {"type": "string"},
                },
            },
        }
    },
    summary="The conflict's story in order of occurrence, each event with the state it led to",
    openapi_extra=OPEN_READ,
)
async def get_timeline(
    conflict: Conflict,
    read: ConditionalReadDep,
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
    min_position: MinPosition = None,
) -> Response:
    """Agreements and declarations, extensions, collapses, allegations, denials, missions and
    their ends in order of occurred_at, each with the state of the conflict at that moment;
    retractions and corrections appear as notes on the events they changed (with the original
    data beside the corrected). ``as_of``: only what occurred by then. ``known_at``: the story
    as the log told it then. In pages of ``limit`` entries (and at most
    CEASEFIRE_MAX_PAGE_BYTES): pass ``next_after`` as ``after`` for the next, or follow the
    ``Link`` header."""
    return await read.respond(
        kind="t",
        key=("timeline", conflict, as_of, known_at, after, limit),
        conflict=conflict,
        compute=lambda db: view_bytes.timeline(
            db.engine,
            conflict,
            as_of=as_of,
            known_at=known_at,
            window=read.settings.contested_window,
            after=after,
            limit=limit,
            max_bytes=read.settings.max_page_bytes,
            url=request_link(read.request),
        ),
        min_position=min_position,
        as_of=as_of,
        known_at=known_at,
    )


@router.get(
    "/v1/conflicts/{conflict}/actors",
    operation_id="get_actors",
    response_model=ActorsView,
    responses=_documented("The conflict's actors.", POSITIONED_CONFLICT_READ_PROBLEMS),
    summary="Every actor of the conflict: its kind, its aliases and its roles",
    openapi_extra=OPEN_READ,
)
async def get_actors(
    conflict: Conflict,
    read: ConditionalReadDep,
    as_of: AsOf = None,
    known_at: KnownAt = None,
    min_position: MinPosition = None,
) -> Response:
    """The parties, mediators and declarers of its agreements and declarations, the
    organizations of its missions, and the actors registered with `actor.registered`, each with
    its kind, its aliases (the other spellings events may use: they are stored under its name)
    and its roles by as_of: the agreements it is a party to or mediates, the missions it runs.
    An actor with no role is a third party."""
    return await read.respond(
        kind="r",
        key=("actors", conflict, as_of, known_at),
        conflict=conflict,
        compute=lambda db: view_bytes.actors(db.engine, conflict, as_of=as_of, known_at=known_at),
        min_position=min_position,
        as_of=as_of,
        known_at=known_at,
    )
