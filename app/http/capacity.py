"""Caps on what one process holds open at once: live streams and long-polls.

Each is a ``Gauge``: a count with a ceiling. Past the ceiling a request is refused at once with
a 503 problem (``/problems/over-capacity``) and ``Retry-After``, instead of joining a crowd the
process cannot serve (every waiter costs memory, a socket and a share of each release).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from app.http.problems import ProblemError

__all__ = ["RETRY_AFTER_SECONDS", "Gauge"]

#: What a refused client is told to wait before trying again.
RETRY_AFTER_SECONDS = 5


class Gauge:
    def __init__(self, name: str, ceiling: int) -> None:
        self.name = name
        self.ceiling = ceiling
        self.count = 0

    def acquire(self) -> None:
        """Take one place, or raise the 503 problem when none is left."""
        if self.count >= self.ceiling:
            raise ProblemError(
                503,
                "over-capacity",
                f"this process already holds {self.ceiling} {self.name}; try again later",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        self.count += 1

    def release(self) -> None:
        self.count -= 1

    @contextmanager
    def held(self) -> Iterator[None]:
        self.acquire()
        try:
            yield
        finally:
            self.release()
