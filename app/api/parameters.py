"""What the read routes share: the path, query and header parameters of a conflict, a page and
a conditional read, the conditional read itself as a dependency (``ConditionalReadDep``), and
what a read may answer (for their OpenAPI ``responses``): its problems, and a conditional
read's headers and 304."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Query

from app.deps import conditional_read
from app.http.problems import problem_responses
from app.reads.conditional import ConditionalRead
from events.model.values import MAX_SAFE_INTEGER, ConflictSlug

__all__ = [
    "CONDITIONAL_HEADERS",
    "CONFLICT_READ_PROBLEMS",
    "POSITIONED_CONFLICT_READ_PROBLEMS",
    "POSITIONED_READ_PROBLEMS",
    "READ_PROBLEMS",
    "After",
    "ConditionalRead",
    "ConditionalReadDep",
    "Conflict",
    "Limit",
    "MinPosition",
    "conditional_responses",
]

Conflict = Annotated[ConflictSlug, Path(description="The conflict's slug.")]
#: Positions are 64-bit integers on both databases; clients hold them exactly up to 2**53 - 1.
After = Annotated[
    int, Query(ge=0, le=MAX_SAFE_INTEGER, description="Return events after this position.")
]
Limit = Annotated[int, Query(ge=1, le=1000, description="At most this many events.")]

_UNKNOWN_CONFLICT = {404: "The conflict has no events (`/problems/unknown-conflict`)."}
#: A read's problems: a bad key (or none, with CEASEFIRE_REQUIRE_READ_KEY), a bad parameter.
READ_PROBLEMS = problem_responses(401, 422, 503)
CONFLICT_READ_PROBLEMS = problem_responses(401, 422, 503, specific=_UNKNOWN_CONFLICT)
_NOT_REACHED = {
    409: "`min_position` names a position the log has not reached, even on the primary "
    "(`/problems/position-not-reached`)."
}
#: The same, for the reads that take ``min_position``.
POSITIONED_READ_PROBLEMS = problem_responses(401, 422, 503, specific=_NOT_REACHED)
POSITIONED_CONFLICT_READ_PROBLEMS = problem_responses(
    401, 422, 503, specific=_UNKNOWN_CONFLICT | _NOT_REACHED
)

MinPosition = Annotated[
    int | None,
    Query(
        ge=0,
        le=MAX_SAFE_INTEGER,
        description="Read your writes: answer only from a database whose log has reached this "
        "position (the `position` an append answered). A position the log has not reached "
        "after a brief wait is a 409 `position-not-reached` problem.",
    ),
]


ConditionalReadDep = Annotated[ConditionalRead, Depends(conditional_read)]

_STRING = {"type": "string"}
_ETAG = {
    "description": 'Strong validator of this representation, e.g. `"s42.ab12cd34"`.',
    "schema": _STRING,
}
_CACHE_CONTROL = {
    "description": "Anonymous reads: `public, max-age=N, stale-while-revalidate=M` as "
    "configured, or `no-cache` (store it, but revalidate before each use); `public, "
    "max-age=31536000, immutable` for a view pinned in `as_of` and `known_at` to a settled "
    "past. Reads with a key: `private, no-cache`.",
    "schema": _STRING,
}
_VARY = {
    "description": "`Authorization`: answers to a key are that key's alone.",
    "schema": _STRING,
}
_LOG_POSITION = {
    "description": "With `min_position`: the log position the database that answered had "
    "reached (at least `min_position`); the answer reflects every event up to it.",
    "schema": {"type": "integer"},
}
_APPLIED = {
    "description": "`wait=N`: the request waited (up to N seconds) as asked.",
    "schema": _STRING,
}
CONDITIONAL_HEADERS: dict[str, Any] = {
    "ETag": _ETAG,
    "Cache-Control": _CACHE_CONTROL,
    "Vary": _VARY,
    "Log-Position": _LOG_POSITION,
    "Preference-Applied": _APPLIED,
}


def conditional_responses(
    description: str = "The current representation.",
) -> dict[int | str, Any]:
    """The OpenAPI ``responses`` entries a conditional read adds: its 200's headers, 304, the
    409 of a ``min_position`` not reached, and the 429 of a client over its caps."""
    return {
        **problem_responses(
            specific={
                409: "`min_position` is a position the log has not reached "
                "(`/problems/position-not-reached`).",
                429: "This client already has CEASEFIRE_MAX_READS_PER_CLIENT reads being "
                "computed (or CEASEFIRE_MAX_LONG_POLLS_PER_CLIENT long-polls) at once "
                "(`/problems/too-many-requests`); retry after `Retry-After` seconds.",
            }
        ),
        200: {"description": description, "headers": CONDITIONAL_HEADERS},
        304: {
            "description": "Not Modified: the If-None-Match tag is current (after waiting, "
            "with `Prefer: wait`, for a change that did not come). No body.",
            "headers": CONDITIONAL_HEADERS,
        },
    }
