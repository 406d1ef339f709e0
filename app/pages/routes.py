"""``/``: the status page, and ``/static``: the files it uses (served by the app: no CDN).

The page is rendered on the server from the same views the API serves; its one script only
follows ``/v1/stream`` to swap in a fresh render when an event lands, and ticks countdowns.
Its Content-Security-Policy lets it load nothing from anywhere but this app.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from pydantic import TypeAdapter

from app.deps import ReaderKey, SettingsDep, StoreDep
from app.http.capacity import client_of
from app.http.problems import ProblemError
from app.pages.data import read_page
from app.pages.text import STATE_WORDS, duration
from app.reads.conditional import ConditionalDep
from events.model.values import Instant, legible

__all__ = ["CONTENT_SECURITY_POLICY", "router", "static_files"]

_HERE = Path(__file__).parent

#: Nothing from elsewhere: scripts, styles, images, connections all from this origin only.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'self'"
)

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=_HERE / "templates")


def static_files() -> StaticFiles:
    return StaticFiles(directory=_HERE / "static")


def _when(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(UTC).strftime("%-d %b %Y, %H:%M UTC")


def _local_when(value: datetime) -> str:
    """A local time with its offset, as the event was written (``2 Apr 2022, 19:00 UTC+03:00``)."""
    return (
        value.strftime("%-d %b %Y, %H:%M UTC")
        + value.strftime("%z")[:3]
        + ":"
        + value.strftime("%z")[3:]
    )


def _local_input(value: datetime | None) -> str:
    """The value a ``datetime-local`` input shows: UTC, without an offset."""
    return "" if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _countdown(left: timedelta) -> str:
    days, rest = divmod(int(left.total_seconds()), 86400)
    clock = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    return f"{days} d {clock}" if days else clock


def _finalize(value: Any) -> Any:
    """Every value the page prints, made legible: an older log may hold control characters
    or non-characters that events now refuse (the chart's markup included)."""
    if isinstance(value, Markup):
        return Markup(legible(str(value)))
    return legible(value) if isinstance(value, str) else value


templates.env.finalize = _finalize
templates.env.filters.update(
    when=_when,
    local_when=_local_when,
    local_input=_local_input,
    duration=duration,
    countdown=_countdown,
    state_words=lambda state: STATE_WORDS.get(state, state),
)


_INSTANT: TypeAdapter[datetime] = TypeAdapter(Instant)


def _moment(name: str, text: str | None) -> datetime | None:
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


@router.get("/", response_class=HTMLResponse)
async def status_page(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    reads: ConditionalDep,
    _key: ReaderKey,
    as_of: Moment = None,
    known_at: Moment = None,
) -> HTMLResponse:
    # Rendered for every request (no cache): each one counts under the client's cap of reads
    # being computed, as a read that misses the cache does (``app.reads.conditional``).
    with reads.computing.held(client_of(request)):
        data = await read_page(
            store,
            as_of=_moment("as_of", as_of),
            known_at=_moment("known_at", known_at),
            window=settings.contested_window,
            stale_after=settings.stale_after,
        )
    live = data.as_of is None and data.known_at is None
    response = templates.TemplateResponse(request, "index.html", {"data": data, "live": live})
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["Cache-Control"] = "no-cache"
    return response
