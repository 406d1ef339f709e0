"""Words for people: how long a state has lasted, and when the words next change.

A badge or a page that says "holding for 12 days" is right until the 13th day starts;
``next_wording`` says when that is, so a cached representation can be tagged until then.
"""

from __future__ import annotations

from datetime import datetime, timedelta

__all__ = [
    "STATE_MEANINGS",
    "STATE_WORDS",
    "duration",
    "next_countdown_wording",
    "next_wording",
]

#: How each state reads in a sentence ("holding", "no agreement"...).
STATE_WORDS = {
    "none": "no agreement",
    "pending": "pending",
    "holding": "holding",
    "contested": "contested",
    "collapsed": "collapsed",
    "expired": "expired",
    "withdrawn": "withdrawn",
    "lull": "lull",
}

#: What each state means, for readers: on the pages and in the feed.
STATE_MEANINGS = {
    "holding": "an agreement or declaration is in effect and no party has alleged a breach of "
    "it in the contested window",
    "contested": "an agreement is in effect but a party alleged a breach of it within the "
    "contested window (a claim, not an established fact)",
    "pending": "an agreement is signed or declared but has not yet taken effect",
    "collapsed": "the last agreement in effect was declared broken down",
    "expired": "the last agreement in effect reached its agreed end",
    "withdrawn": "every party bound by the last agreement in effect withdrew from it",
    "lull": "no agreement or declaration is in effect, but a de facto calm (a lull) was observed "
    "and has not been said to end",
    "none": "no agreement or declaration is recorded for the conflict yet",
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


def next_countdown_wording(ends: datetime, now: datetime) -> datetime:
    """The first instant after ``now`` at which ``duration(ends - now)`` (a countdown in words,
    "in 3 days") reads differently; ``ends`` once under a minute is left."""
    left = ends - now
    if left < _MINUTE:
        return ends
    unit, _ = _unit(left)
    return max(ends - (left // unit) * unit, now) + timedelta(microseconds=1)
