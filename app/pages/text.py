"""Words for people: how long a state has lasted, and when the words next change.

A badge or a page that says "holding for 12 days" is right until the 13th day starts;
``next_wording`` says when that is, so a cached representation can be tagged until then.
"""

from __future__ import annotations

from datetime import datetime, timedelta

__all__ = ["STATE_WORDS", "duration", "next_wording"]

#: How each state reads in a sentence ("holding", "no agreement"...).
STATE_WORDS = {
    "none": "no agreement",
    "pending": "pending",
    "holding": "holding",
    "contested": "contested",
    "collapsed": "collapsed",
    "expired": "expired",
    "lull": "lull",
}

_MINUTE = timedelta(minutes=1)
_HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)
#: A month of the wording "no reports 20 months": 30 days.
_MONTH = timedelta(days=30)


def _unit(length: timedelta, months: bool = False) -> tuple[timedelta, str]:
    if months and length >= _MONTH:
        return _MONTH, "month"
    if length >= _DAY:
        return _DAY, "day"
    if length >= _HOUR:
        return _HOUR, "hour"
    return _MINUTE, "minute"


def duration(length: timedelta, *, months: bool = False) -> str:
    """``12 days``, ``3 hours``, ``1 minute``, ``under a minute``: the largest whole unit
    (``months``: 30 days a month from the first, ``20 months``, for long silences)."""
    if length < _MINUTE:
        return "under a minute"
    unit, name = _unit(length, months)
    n = length // unit
    return f"{n} {name}{'' if n == 1 else 's'}"


def next_wording(since: datetime, now: datetime, *, months: bool = False) -> datetime:
    """The first instant after ``now`` at which ``duration(now - since)`` reads differently."""
    length = max(now - since, timedelta(0))
    if length < _MINUTE:
        return since + _MINUTE
    unit, _ = _unit(length, months)
    return since + (length // unit + 1) * unit
