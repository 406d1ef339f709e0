"""The pages' templates and the words their filters print: dates in words (UTC, and local time
where an event gave an offset), durations and countdowns, states.

Rendering is CPU work that grows with what a page shows, so pages render on the story thread
(``projections.story.on_story_thread``), never on the event loop.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from app.formats.text import STATE_MEANINGS, STATE_WORDS, duration
from events.model.types import EVENT_TYPES
from events.model.values import legible
from projections.story import on_story_thread
from projections.words import in_words, local_in_words

__all__ = ["STATIC", "render"]

_TEMPLATES = Path(__file__).parent / "templates"
#: The files the pages load (``/static``: the script, the styles), served by this app.
STATIC = Path(__file__).parent / "static"


def _when(value: datetime | None) -> str:
    return "" if value is None else in_words(value)


def _local_input(value: datetime | None) -> str:
    """The value a ``datetime-local`` input shows: UTC, without an offset."""
    return "" if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _countdown(left: timedelta) -> str:
    """A clock for a countdown the script ticks (``2 d 22:13:05``)."""
    days, rest = divmod(int(left.total_seconds()), 86400)
    clock = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    return f"{days} d {clock}" if days else clock


def _finalize(value: Any) -> Any:
    """Every value a page prints, made legible: an older log may hold control characters
    or non-characters that events now refuse (the chart's markup included)."""
    if isinstance(value, Markup):
        return Markup(legible(str(value)))
    return legible(value) if isinstance(value, str) else value


_ENVIRONMENT = Environment(
    loader=FileSystemLoader(_TEMPLATES),
    autoescape=select_autoescape(default=True),
    finalize=_finalize,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENVIRONMENT.filters.update(
    when=_when,
    local_when=local_in_words,
    local_input=_local_input,
    duration=duration,
    countdown=_countdown,
    state_words=lambda state: STATE_WORDS.get(state, state),
    state_meaning=lambda state: STATE_MEANINGS.get(state, ""),
)
_ENVIRONMENT.globals.update(
    STATE_WORDS=STATE_WORDS, STATE_MEANINGS=STATE_MEANINGS, EVENT_TYPES=EVENT_TYPES
)


async def render(template: str, **context: Any) -> bytes:
    """``template`` rendered with ``context``, as UTF-8, on the story thread."""
    page = _ENVIRONMENT.get_template(template)
    return await on_story_thread(lambda: page.render(**context).encode())
