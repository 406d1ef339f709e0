"""What happens after an attempt: the pure decision, no I/O, so it is unit-tested alone.

- 2xx: ``succeeded``.
- Anything else (another status, a timeout, a refused connection, a redirect): retry after the
  next delay of the schedule, stretched by up to ``jitter`` (so endpoints that failed together
  do not all come back at the same instant), or after ``Retry-After`` when the receiver asks
  for longer (capped at the schedule's longest delay). With no delay left: ``failed``, kept.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from app.webhooks.subscriptions import DeliveryStatus

__all__ = ["RETRY_AFTER_CEILING", "Outcome", "Verdict", "decide", "parse_retry_after"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt got back."""

    status_code: int | None
    error: str | None
    latency_ms: float
    #: At most the configured number of bytes of the response, decoded leniently.
    response_body: str | None = None
    retry_after: timedelta | None = None
    #: No answer within the timeout (``error`` says which).
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and self.status_code is not None and 200 <= self.status_code < 300

    @property
    def kind(self) -> str:
        """The outcome in a word, for ``/metrics``: ``succeeded``, the class of another status
        (``3xx``, ``4xx``, ``5xx``; ``other`` outside 100-599), ``timeout``, or ``error`` (no
        answer: refused, reset, a malformed answer). Few values whatever receivers send."""
        if self.ok:
            return "succeeded"
        if self.timed_out:
            return "timeout"
        if self.error is not None or self.status_code is None:
            return "error"
        if 100 <= self.status_code < 600:
            return f"{self.status_code // 100}xx"
        return "other"

    @property
    def gone(self) -> bool:
        return self.status_code == 410


@dataclass(frozen=True, slots=True)
class Verdict:
    status: DeliveryStatus
    next_attempt_at: datetime | None


def decide(
    outcome: Outcome,
    *,
    attempts_made: int,
    schedule: Sequence[timedelta],
    jitter: float,
    now: datetime,
    rng: random.Random | None = None,
) -> Verdict:
    """The delivery's status after its ``attempts_made``-th attempt got ``outcome``."""
    if outcome.ok:
        return Verdict("succeeded", None)
    if attempts_made >= len(schedule):
        return Verdict("failed", None)
    delay = schedule[attempts_made] * (1 + (rng or random).uniform(0, jitter))
    if outcome.retry_after is not None:
        delay = max(delay, min(outcome.retry_after, max(schedule)))
    return Verdict("pending", now + delay)


#: The longest ``Retry-After`` taken as given; any longer is read as this (``decide`` caps it
#: by the schedule anyway). Keeps absurd values (``99999999999999999999``) out of date maths.
RETRY_AFTER_CEILING = timedelta(days=365)


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """``Retry-After`` as seconds or as an HTTP date, at most ``RETRY_AFTER_CEILING``; None
    when absent or unreadable. Never raises, whatever the receiver sent: only ASCII digits
    count as seconds (``"²".isdigit()`` is true, ``int("²")`` raises)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        if len(value) > 9:  # int() of thousands of digits raises; timedelta overflows sooner
            return RETRY_AFTER_CEILING
        return min(timedelta(seconds=int(value)), RETRY_AFTER_CEILING)
    try:
        when = parsedate_to_datetime(value)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return min(max(when - now, timedelta(0)), RETRY_AFTER_CEILING)
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
