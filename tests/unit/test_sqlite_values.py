"""The replay's SQLite instant conversions equal SQLAlchemy's, and give way when they do not."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Integer
from sqlalchemy.dialects import sqlite

from events.log.sqlite_values import faster_bind, faster_result, text_to_utc, utc_to_text
from events.log.tables import UtcDateTime

DIALECT = sqlite.dialect()
IMPL = UtcDateTime().dialect_impl(DIALECT)
SLOW_BIND = IMPL.bind_processor(DIALECT)
SLOW_RESULT = IMPL.result_processor(DIALECT, None)


def _instants() -> list[datetime]:
    rng = random.Random(5)
    out = []
    for _ in range(500):
        offset = timezone(timedelta(minutes=rng.randint(-720, 840)))
        moment = datetime(1, 1, 2, tzinfo=UTC) + timedelta(
            seconds=rng.randint(0, 315_000_000_000),
            microseconds=rng.choice([0, rng.randint(0, 999_999)]),
        )
        out.append(moment.astimezone(offset))
    return out


@pytest.mark.parametrize("value", [*_instants()[:50], datetime(2022, 9, 14, 16, tzinfo=UTC)])
def test_an_instant_is_stored_and_read_as_sqlalchemy_does(value: datetime) -> None:
    assert SLOW_BIND is not None and SLOW_RESULT is not None
    text = utc_to_text(value)
    assert text == SLOW_BIND(value)
    back = text_to_utc(text)
    assert back == SLOW_RESULT(text) == value
    assert back.tzinfo is SLOW_RESULT(text).tzinfo is UTC


def test_many_instants_round_trip_alike() -> None:
    assert SLOW_BIND is not None and SLOW_RESULT is not None
    for value in _instants():
        assert utc_to_text(value) == SLOW_BIND(value)
        assert text_to_utc(utc_to_text(value)) == SLOW_RESULT(SLOW_BIND(value))


def test_a_naive_instant_is_refused_like_the_store_does() -> None:
    with pytest.raises(ValueError, match="naive"):
        utc_to_text(datetime(2022, 9, 14))


def test_the_fast_conversions_are_chosen_only_where_they_match() -> None:
    assert faster_bind(UtcDateTime(), SLOW_BIND) is utc_to_text
    assert faster_result(UtcDateTime(), SLOW_RESULT, SLOW_BIND) is text_to_utc

    def other_format(value: Any) -> str:
        return value.strftime("%Y-%m-%dT%H:%M:%S")

    assert faster_bind(UtcDateTime(), other_format) is other_format
    assert faster_result(UtcDateTime(), SLOW_RESULT, other_format) is SLOW_RESULT
    assert faster_bind(Integer(), SLOW_BIND) is SLOW_BIND
