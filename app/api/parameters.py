"""What the read routes share: the path and query parameters of a conflict and a page, and
the problems a read may answer with (for their OpenAPI ``responses``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from app.problems import problem_responses
from events.values import MAX_SAFE_INTEGER, ConflictSlug

__all__ = [
    "CONFLICT_READ_PROBLEMS",
    "POSITIONED_CONFLICT_READ_PROBLEMS",
    "POSITIONED_READ_PROBLEMS",
    "READ_PROBLEMS",
    "After",
    "Conflict",
    "Limit",
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
