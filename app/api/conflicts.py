"""``/v1/conflicts``: each conflict's state, its status at a time, its allegations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from app.api.events import _PROBLEMS
from app.deps import ConnDep, ReaderKey, SettingsDep
from app.problems import Problem
from events.types import ConflictSlug, Instant
from projections.queries import list_conflicts, read_allegations, read_status
from projections.views import AllegationsView, ConflictSummary, StatusView

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
Conflict = Annotated[ConflictSlug, Path(description="The conflict's slug.")]
_READ_PROBLEMS: dict[int | str, dict[str, Any]] = _PROBLEMS | {404: {"model": Problem}}


def _json(model: StatusView | AllegationsView) -> Response:
    """Serialise once, here: the route returns the bytes and FastAPI does not validate the
    model a second time on the way out (``response_model`` still documents it)."""
    return Response(model.model_dump_json(), media_type="application/json")


@router.get(
    "/v1/conflicts",
    operation_id="list_conflicts",
    response_model=list[ConflictSummary],
    responses=_PROBLEMS,
    summary="Every conflict with its current state",
)
async def get_conflicts(
    conn: ConnDep, settings: SettingsDep, _key: ReaderKey
) -> list[ConflictSummary]:
    return await list_conflicts(conn, as_of=datetime.now(UTC), window=settings.contested_window)


@router.get(
    "/v1/conflicts/{conflict}/status",
    operation_id="get_status",
    response_model=StatusView,
    responses=_READ_PROBLEMS,
    summary="Is the ceasefire holding, since when, and who accuses whom",
)
async def get_status(
    conflict: Conflict,
    conn: ConnDep,
    settings: SettingsDep,
    _key: ReaderKey,
    as_of: AsOf = None,
    known_at: KnownAt = None,
) -> Response:
    view = await read_status(
        conn,
        conflict,
        as_of=as_of or datetime.now(UTC),
        known_at=known_at,
        window=settings.contested_window,
    )
    return _json(view)


@router.get(
    "/v1/conflicts/{conflict}/allegations",
    operation_id="get_allegations",
    response_model=AllegationsView,
    responses=_READ_PROBLEMS,
    summary="Allegations per party, per agreement and over the whole conflict",
)
async def get_allegations(
    conflict: Conflict,
    conn: ConnDep,
    _key: ReaderKey,
    as_of: AsOf = None,
    known_at: KnownAt = None,
) -> Response:
    view = await read_allegations(
        conn,
        conflict,
        as_of=as_of or datetime.now(UTC),
        known_at=known_at,
    )
    return _json(view)
