"""Every read of a conflict at many moments: the sweep that proves no view answers 500.

Each read (status, allegations, actors, timeline, the conflict list, the pages: the list
searched and not, the conflict's page and its card, the feed and the badge) at each event's
time, a second either side, the end of the contested window after it (and at instants no
event occurred at, such as a milestone's due times) and, when asked, the instant each event's
silence turns the views stale (``CEASEFIRE_STALE_AFTER``); or at every ``known_at`` a
recording went through. Every JSON view must answer 200.

The reads go three at a time (``_CONCURRENT``), under the server's four computed reads per
client (``CEASEFIRE_MAX_READS_PER_CLIENT``): the client's work overlaps the server's, and a
sweep takes a fraction of the time one request after another takes.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import httpx

__all__ = [
    "instant",
    "moments",
    "reads",
    "times_of",
    "unanswered_as_of",
    "unanswered_known_at",
]

#: The fields of an event's data that are times a view may turn on: an agreement's start and
#: end, an ongoing violation's end, a report's period.
DATA_TIMES = ("effective_at", "expires_at", "ended_at", "from", "to")


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def times_of(bodies: list[dict[str, Any]]) -> list[datetime]:
    """Every time the events ``bodies`` (as sent) carry: each occurred_at and each of
    ``DATA_TIMES`` in its data, sorted: the moments a sweep reads at."""
    found = {instant(b["occurred_at"]) for b in bodies}
    found |= {instant(b["data"][k]) for b in bodies for k in DATA_TIMES if b["data"].get(k)}
    return sorted(found)


def moments(
    occurred: list[datetime],
    window: timedelta,
    also: Iterable[datetime] = (),
    stale_after: timedelta | None = None,
) -> list[str]:
    """Each event's time, a second either side, and the end of the contested window after it;
    each of ``also`` (instants no event occurred at where a view changes: a milestone falling
    due) with a second either side; and the instant the silence after each event turns the
    views stale (``stale_after``, when given)."""
    second = timedelta(seconds=1)
    found = {t + d for t in [*occurred, *also] for d in (-second, timedelta(0), second)}
    found |= {t + window + d for t in occurred for d in (-second, timedelta(0))}
    if stale_after is not None:
        found |= {t + stale_after + d for t in occurred for d in (-second, timedelta(0))}
    return [m.isoformat().replace("+00:00", "Z") for m in sorted(found)]


def reads(slug: str) -> list[str]:
    base = f"/v1/conflicts/{slug}"
    return [
        f"{base}/status",
        f"{base}/allegations",
        f"{base}/actors",
        f"{base}/timeline",
        "/v1/conflicts",
        "/",
        f"/?q={slug}&sort=name",
        f"/conflicts/{slug}",
        f"/embed/conflicts/{slug}",
        f"{base}/feed.atom",
        f"{base}/badge.svg",
    ]


#: Reads in flight at once: under the server's default of four per client, so none is a 429.
_CONCURRENT = 3


def _unanswered(
    http: httpx.Client, asked: list[tuple[str, dict[str, str]]]
) -> list[tuple[str, Any, int, str]]:
    """Each of ``asked`` (a path and its query) that did not answer, in the order asked."""
    with ThreadPoolExecutor(_CONCURRENT) as pool:
        responses = list(pool.map(lambda a: http.get(a[0], params=a[1]), asked))
    return [
        (path, params, response.status_code, response.text[:200])
        for (path, params), response in zip(asked, responses, strict=True)
        if _failed(response, path)
    ]


def _failed(response: httpx.Response, path: str) -> bool:
    return response.status_code >= 500 or (path.startswith("/v1/") and response.status_code != 200)


def unanswered_as_of(
    http: httpx.Client,
    slug: str,
    occurred: list[datetime],
    window: timedelta,
    also: Iterable[datetime] = (),
    stale_after: timedelta | None = None,
) -> list[tuple[str, Any, int, str]]:
    """Every read at every moment (``moments``) that did not answer."""
    return [
        (path, params["as_of"], status, text)
        for path, params, status, text in _unanswered(
            http,
            [
                (path, {"as_of": as_of})
                for as_of in moments(occurred, window, also, stale_after)
                for path in reads(slug)
            ],
        )
    ]


def unanswered_known_at(
    http: httpx.Client, slug: str, occurred: list[datetime], recorded: list[str]
) -> list[tuple[str, Any, int, str]]:
    """Every read at every recording time, as of each event's time and now, that did not
    answer."""
    as_ofs = [t.isoformat().replace("+00:00", "Z") for t in occurred]
    return _unanswered(
        http,
        [
            (path, {"known_at": known_at} | ({} if as_of is None else {"as_of": as_of}))
            for known_at in recorded
            for as_of in [*as_ofs, None]
            for path in reads(slug)
        ],
    )
