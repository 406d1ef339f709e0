"""Pieces a newsroom embeds: a conflict's badge (SVG) and its Atom feed.

Both are conditional reads like every view (``app.reads.conditional``): a strong ETag, 304 for a
current ``If-None-Match``, long-poll with ``Prefer: wait=N``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from app.api.parameters import (
    CONFLICT_READ_PROBLEMS,
    ConditionalReadDep,
    Conflict,
    conditional_responses,
)
from app.http.links import link
from app.http.openapi import OPEN_READ
from app.reads import view_bytes

__all__ = ["router"]

router = APIRouter(tags=["conflicts"])


def _responses(media_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    documented = {**CONFLICT_READ_PROBLEMS, **conditional_responses(description)}
    # contentMediaType: the string is this media type's text (JSON Schema 2020-12), for
    # generators that map a body by its schema (docs/client.md ships the mapping for those
    # that map it by media type).
    body = {"schema": {"type": "string", "contentMediaType": media_type}}
    documented[200] = {**documented[200], "content": {media_type: body}}
    return documented


@router.get(
    "/v1/conflicts/{conflict}/badge.svg",
    operation_id="get_badge",
    response_class=Response,
    responses=_responses("image/svg+xml", "A badge: the state now and how long it has held."),
    summary="A badge for the conflict's state now and how long it has held",
    openapi_extra=OPEN_READ,
)
async def get_badge(
    conflict: Conflict,
    read: ConditionalReadDep,
) -> Response:
    """Shields-style SVG, e.g. `ceasefire | holding 12 days`, for a page or a README; with no
    report for CEASEFIRE_STALE_AFTER, how long instead: `holding · no reports 20 months`."""
    return await read.respond(
        kind="b",
        key=("badge", conflict),
        conflict=conflict,
        compute=lambda db: view_bytes.badge(
            db.engine,
            conflict,
            window=read.settings.contested_window,
            stale_after=read.settings.stale_after,
        ),
    )


@router.get(
    "/v1/conflicts/{conflict}/feed.atom",
    operation_id="get_feed",
    response_class=Response,
    responses=_responses("application/atom+xml", "The conflict's story as an Atom feed."),
    summary="The conflict's agreements, collapses, expiries and allegations as an Atom feed",
    openapi_extra=OPEN_READ,
)
async def get_feed(
    conflict: Conflict,
    read: ConditionalReadDep,
) -> Response:
    """Newest first, the latest 200 entries. Each entry's id is stable (`urn:uuid:` of the
    event); `updated` moves when a retraction or correction changes it. Its links start with
    `CEASEFIRE_PUBLIC_URL` when that is set, and are absolute paths otherwise."""
    self_url = link(read.request, f"/v1/conflicts/{conflict}/feed.atom")
    page_url = link(read.request, f"/conflicts/{conflict}")
    return await read.respond(
        kind="f",
        key=("feed", conflict),
        conflict=conflict,
        compute=lambda db: view_bytes.feed(
            db.engine,
            conflict,
            window=read.settings.contested_window,
            self_url=self_url,
            page_url=page_url,
        ),
    )
