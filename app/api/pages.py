"""What people open: ``/`` (the conflict list), ``/conflicts/{slug}`` (one conflict in full),
``/embed/conflicts/{slug}`` (its card, for another site's frame), and ``/static`` (the files
they use, served by the app: no CDN).

Each page is a conditional read like every view (``app.reads.conditional``: a strong ETag,
304, the same cache rules as the API), rendered on the server from the projections' queries
(``app.pages.data``). Its one script follows ``/v1/stream`` for the conflicts on screen only
and redraws what changed; without it the page is whole. Its Content-Security-Policy lets it
load nothing from anywhere but this app, and be framed by this app only, except the embed,
which the origins of ``CEASEFIRE_EMBED_ORIGINS`` may frame.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from fastapi.staticfiles import StaticFiles
from pydantic import TypeAdapter

from app.api.parameters import ConditionalRead, ConditionalReadDep, Conflict
from app.http.problems import ProblemError
from app.pages import data
from app.pages.render import STATIC
from app.reads.conditional import Compute
from app.settings import Settings
from events.model.values import MAX_SAFE_INTEGER, Instant
from projections.queries.overview import ListOrder

__all__ = ["CONTENT_SECURITY_POLICY", "embed_policy", "router", "static_files"]

#: Nothing from elsewhere: scripts, styles, images, connections all from this origin only.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'self'"
)

router = APIRouter(include_in_schema=False)


def static_files() -> StaticFiles:
    return StaticFiles(directory=STATIC)


def embed_policy(settings: Settings) -> str:
    """The embed's policy: the pages' own, framed by this app and ``CEASEFIRE_EMBED_ORIGINS``."""
    ancestors = " ".join(("'self'", *settings.embed_origins))
    return CONTENT_SECURITY_POLICY.replace("frame-ancestors 'self'", f"frame-ancestors {ancestors}")


_INSTANT: TypeAdapter[datetime] = TypeAdapter(Instant)


def _instant(name: str, text: str | None) -> datetime | None:
    """A time from the picker (``datetime-local``: no offset, read as UTC) or from a link
    (RFC 3339 with an offset); empty means now. Checked as every instant of the API is
    (``events.model.values.Instant``): one without a UTC spelling, or at the very ends of what a
    datetime holds, is a 422 like an unreadable one, never an overflow later."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return _INSTANT.validate_python(moment)
    except ValueError:  # pydantic's ValidationError is one
        raise ProblemError(
            422,
            "validation-error",
            f"{name} must be a date and time from 0001-01-01 to 9999-12-31 in UTC, "
            "e.g. 2022-09-24T00:00",
        ) from None


Moment = Annotated[str | None, Query(description="A time: RFC 3339, or without offset (UTC).")]


@dataclass(frozen=True, slots=True)
class Asked:
    """The moment a page is asked for, checked: ``as_of`` and ``known_at`` (None: now)."""

    as_of: datetime | None
    known_at: datetime | None

    def moment(self) -> data.Moment:
        """The moment the page shows, with the clock read now (as the page is computed)."""
        now = datetime.now(UTC)
        return data.Moment(self.as_of or now, self.as_of, self.known_at, now)


async def asked_moment(as_of: Moment = None, known_at: Moment = None) -> Asked:
    """The ``as_of`` and ``known_at`` every page takes, read once for all of them."""
    return Asked(_instant("as_of", as_of), _instant("known_at", known_at))


AskedDep = Annotated[Asked, Depends(asked_moment)]
Search = Annotated[str | None, Query(max_length=100, description="Title, country code, region.")]
Order = Annotated[ListOrder, Query(description="`changed` (latest first) or `name`.")]
PageNumber = Annotated[int, Query(ge=1, le=100_000)]
Before = Annotated[int | None, Query(ge=1, le=MAX_SAFE_INTEGER)]


def _with_policy(response: Response, policy: str = CONTENT_SECURITY_POLICY) -> Response:
    response.headers["Content-Security-Policy"] = policy
    return response


async def _page_at(
    read: ConditionalRead,
    asked: Asked,
    *,
    kind: str,
    key: Hashable,
    conflict: str | None,
    compute: Compute,
) -> Response:
    """A page of a moment: its conditional read, pinned as ``asked`` says, under the pages'
    policy."""
    response = await read.respond(
        kind=kind,
        key=key,
        conflict=conflict,
        compute=compute,
        as_of=asked.as_of,
        known_at=asked.known_at,
    )
    return _with_policy(response)


@router.get("/")
async def index_page(
    read: ConditionalReadDep,
    asked: AskedDep,
    q: Search = None,
    sort: Order = "changed",
    page: PageNumber = 1,
) -> Response:
    search = (q or "").strip() or None
    return await _page_at(
        read,
        asked,
        kind="pi",
        key=("page", asked.as_of, asked.known_at, search, sort, page),
        conflict=None,
        compute=lambda db: data.index(
            db.engine,
            asked.moment(),
            window=read.settings.contested_window,
            search=search,
            order=sort,
            page=page,
        ),
    )


@router.get("/conflicts/{conflict}")
async def conflict_page(
    conflict: Conflict, read: ConditionalReadDep, asked: AskedDep, before: Before = None
) -> Response:
    return await _page_at(
        read,
        asked,
        kind="pc",
        key=("page", conflict, asked.as_of, asked.known_at, before),
        conflict=conflict,
        compute=lambda db: data.conflict(
            db.engine,
            conflict,
            asked.moment(),
            window=read.settings.contested_window,
            before=before,
        ),
    )


@router.get("/embed/conflicts/{conflict}")
async def embed_card(conflict: Conflict, read: ConditionalReadDep) -> Response:
    response = await read.respond(
        kind="pe",
        key=("embed", conflict),
        conflict=conflict,
        compute=lambda db: data.embed(db.engine, conflict, window=read.settings.contested_window),
    )
    return _with_policy(response, embed_policy(read.settings))
