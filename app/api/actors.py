"""``/v1/conflicts/{conflict}/actors``: who the conflict's actors are and what they are in it.

A conditional read like every view of a conflict (``app.api.conflicts``): a strong ETag from the
conflict's position, 304 for a current ``If-None-Match``, ``Prefer: wait=N``, ``min_position``;
``as_of`` and ``known_at`` as for the others.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from app.api.conflicts import AsOf, KnownAt
from app.api.parameters import (
    POSITIONED_CONFLICT_READ_PROBLEMS,
    ConditionalReadDep,
    Conflict,
    MinPosition,
    conditional_responses,
)
from app.http.openapi import OPEN_READ
from app.reads import view_bytes
from projections.views import ActorsView

__all__ = ["router"]

router = APIRouter(tags=["conflicts"])


@router.get(
    "/v1/conflicts/{conflict}/actors",
    operation_id="get_actors",
    response_model=ActorsView,
    responses={
        **POSITIONED_CONFLICT_READ_PROBLEMS,
        **conditional_responses("The conflict's actors."),
    },
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
