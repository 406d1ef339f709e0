"""The pure decision after an attempt: success, the schedule with jitter, Retry-After, failed."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from app.webhooks.retry import RETRY_AFTER_CEILING, Outcome, decide, parse_retry_after

NOW = datetime(2026, 1, 1, tzinfo=UTC)
SCHEDULE = [timedelta(seconds=s) for s in (0, 5, 300, 1800)]


def _after(outcome: Outcome, attempts_made: int, jitter: float = 0.0) -> timedelta | None:
    verdict = decide(
        outcome,
        attempts_made=attempts_made,
        schedule=SCHEDULE,
        jitter=jitter,
        now=NOW,
        rng=random.Random(7),
    )
    return None if verdict.next_attempt_at is None else verdict.next_attempt_at - NOW


def test_2xx_succeeds_anything_else_retries_on_the_schedule() -> None:
    assert (
        decide(
            Outcome(204, None, 1.0), attempts_made=1, schedule=SCHEDULE, jitter=0, now=NOW
        ).status
        == "succeeded"
    )
    for outcome in (Outcome(500, None, 1), Outcome(302, None, 1), Outcome(None, "refused", 1)):
        assert _after(outcome, 1) == timedelta(seconds=5)
        assert _after(outcome, 2) == timedelta(seconds=300)
        assert _after(outcome, 3) == timedelta(seconds=1800)


def test_after_the_last_attempt_it_is_failed() -> None:
    verdict = decide(Outcome(500, None, 1), attempts_made=4, schedule=SCHEDULE, jitter=0.1, now=NOW)
    assert verdict.status == "failed" and verdict.next_attempt_at is None


def test_jitter_only_ever_stretches_a_delay_by_up_to_the_fraction() -> None:
    delays = set()
    rng = random.Random(1)
    for _ in range(200):
        verdict = decide(
            Outcome(500, None, 1), attempts_made=2, schedule=SCHEDULE, jitter=0.1, now=NOW, rng=rng
        )
        assert verdict.next_attempt_at is not None
        delay = verdict.next_attempt_at - NOW
        assert timedelta(seconds=300) <= delay <= timedelta(seconds=330)
        delays.add(delay)
    assert len(delays) > 100


def test_retry_after_wins_when_longer_and_is_capped_by_the_schedule() -> None:
    asks = Outcome(503, None, 1, retry_after=timedelta(seconds=60))
    assert _after(asks, 1) == timedelta(seconds=60)
    assert _after(asks, 2) == timedelta(seconds=300)
    greedy = Outcome(429, None, 1, retry_after=timedelta(days=30))
    assert _after(greedy, 1) == timedelta(seconds=1800)


def test_parse_retry_after() -> None:
    assert parse_retry_after("120", NOW) == timedelta(seconds=120)
    assert parse_retry_after("Thu, 01 Jan 2026 00:01:00 GMT", NOW) == timedelta(seconds=60)
    assert parse_retry_after("Wed, 31 Dec 2025 00:00:00 GMT", NOW) == timedelta(0)
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after(None, NOW) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("99999999999999999999", RETRY_AFTER_CEILING),
        ("9" * 5000, RETRY_AFTER_CEILING),  # more digits than int() will read
        ("31536001", RETRY_AFTER_CEILING),
        ("²", None),  # str.isdigit() says yes, int() says no
        ("١٢٠", None),  # Arabic-Indic digits
        ("-5", None),
        ("1e9", None),
        ("Fri, 31 Dec 9999 23:59:59 GMT", RETRY_AFTER_CEILING),
        ("Mon, 01 Jan 0001 00:00:00 GMT", timedelta(0)),
        ("Thu, 01 Jan 99999 00:00:00 GMT", None),
        ("Thu, 32 Jan 2026 00:00:00 GMT", None),
        ("\x00", None),
    ],
)
def test_absurd_retry_after_values_never_raise(value: str, expected: timedelta | None) -> None:
    assert parse_retry_after(value, NOW) == expected


def test_410_is_gone() -> None:
    assert Outcome(410, None, 1).gone and not Outcome(404, None, 1).gone


@pytest.mark.parametrize(
    ("outcome", "kind"),
    [
        (Outcome(204, None, 1), "succeeded"),
        (Outcome(200, None, 1), "succeeded"),
        (Outcome(302, None, 1), "3xx"),
        (Outcome(410, None, 1), "4xx"),
        (Outcome(503, None, 1), "5xx"),
        (Outcome(999, None, 1), "other"),
        (Outcome(None, "timed out after 3s", 1, timed_out=True), "timeout"),
        (Outcome(None, "ConnectError: refused", 1), "error"),
        (Outcome(200, "the outcome could not be stored", 1), "error"),
    ],
)
def test_an_outcome_in_a_word(outcome: Outcome, kind: str) -> None:
    """``/metrics`` labels attempts with a few words whatever receivers answer."""
    assert outcome.kind == kind
