"""Dates as people read them: ``2 April 2022, 19:00 UTC``, and a local time with its offset.

Every sentence the service writes for a person (timeline summaries, the pages, the feed) says
its dates through these, so a date reads the same wherever it appears. Years before 1000 are
written as they are (``strftime``'s ``%Y`` does not pad them on every platform, so no
``strftime`` here).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["in_words", "local_in_words", "offset_words"]

_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def _day_and_time(moment: datetime) -> str:
    return (
        f"{moment.day} {_MONTHS[moment.month - 1]} {moment.year}, "
        f"{moment.hour:02d}:{moment.minute:02d}"
    )


def in_words(moment: datetime) -> str:
    """``2 April 2022, 19:00 UTC``: to the minute, in UTC."""
    return f"{_day_and_time(moment.astimezone(UTC))} UTC"


def offset_words(offset: timedelta | None) -> str:
    """``UTC+03:00``, ``UTC-04:30``, ``UTC`` for no offset."""
    if not offset:
        return "UTC"
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(offset) // timedelta(minutes=1)
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def local_in_words(moment: datetime) -> str:
    """A local time with its offset, as the event gave it: ``2 April 2022, 22:00 UTC+03:00``."""
    return f"{_day_and_time(moment)} {offset_words(moment.utcoffset())}"
