"""Conditional-read helpers and the append notifier, with no server and no database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from starlette.requests import Request

from app.reads.conditional import CachePolicy
from app.reads.entity_tags import Validator, entity_tags, format_tag, parse_tag, parse_wait
from events.log.notifications import AppendNotifier

SALT = "0123abcd"


def test_a_tag_spells_its_position_and_its_instant() -> None:
    until = datetime(2022, 9, 24, 12, 0, 0, 123456, tzinfo=UTC)  # kept to the microsecond
    for validator in (Validator(42), Validator(42, until)):
        tag = format_tag("s", validator, SALT)
        assert tag.startswith('"s42') and tag.endswith(f'.{SALT}"')
        assert parse_tag(tag.strip('"'), "s", SALT) == validator
    assert parse_tag("s42.0123abcd", "a", SALT) is None  # another view
    assert parse_tag("s42.ffffffff", "s", SALT) is None  # other settings or version
    assert parse_tag("s42", "s", SALT) is None


def test_a_validator_is_current_for_its_head_until_its_instant() -> None:
    now = datetime(2022, 9, 24, tzinfo=UTC)
    assert Validator(5).current(5, now)
    assert not Validator(5).current(6, now)
    assert Validator(5, now + timedelta(seconds=1)).current(5, now)
    assert not Validator(5, now).current(5, now)


@pytest.mark.parametrize(
    ("header", "tags"),
    [
        ('"a"', ["a"]),
        ('"a", W/"b" ,"c"', ["a", "b", "c"]),
        ("*", None),
        ("garbage", []),
    ],
)
def test_if_none_match_lists(header: str, tags: list[str] | None) -> None:
    assert entity_tags(header) == tags


@pytest.mark.parametrize(
    ("values", "wait"),
    [
        (["wait=10"], 10),
        (["respond-async, wait=5"], 5),
        (["handling=lenient", 'WAIT="7"'], 7),
        (["wait=100"], 100),  # the route cuts it to 60
        (["wait=-1"], None),
        (["wait=soon"], None),
        ([], None),
    ],
)
def test_prefer_wait(values: list[str], wait: int | None) -> None:
    assert parse_wait(values) == wait


async def test_the_notifier_releases_only_waiters_behind_the_new_position() -> None:
    notifier = AppendNotifier()
    behind = notifier.subscribe("a", 3)
    ahead = notifier.subscribe("a", 9)
    other = notifier.subscribe("b", 3)
    everything = notifier.subscribe(None, 3)
    notifier.publish("a", 5)
    assert await behind.wait(0) == 5 and await everything.wait(0) == 5
    assert await ahead.wait(0) is None and await other.wait(0) is None
    assert notifier.waiting == 2
    notifier.reset()  # the listener reconnected: everyone looks again
    assert await ahead.wait(0) is None and notifier.waiting == 0
    for subscription in (behind, ahead, other, everything):
        subscription.close()


async def test_a_thousand_waiters_are_released_in_one_pass() -> None:
    notifier = AppendNotifier()
    subscriptions = [notifier.subscribe("a", 1) for _ in range(1000)]
    waits = asyncio.gather(*(s.wait(30) for s in subscriptions))
    await asyncio.sleep(0)
    notifier.publish("a", 2)
    assert await waits == [2] * 1000
    assert notifier.waiting == 0


async def test_a_closed_notifier_lets_nobody_wait() -> None:
    notifier = AppendNotifier()
    waiting = notifier.subscribe("a", 1)
    notifier.close()
    assert await waiting.wait(30) is None
    assert await notifier.subscribe("a", 1).wait(30) is None


def _request(headers: dict[str, str]) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": raw})


@pytest.mark.parametrize(
    ("policy", "headers", "immutable", "expected"),
    [
        (CachePolicy(), {}, False, "no-cache"),
        (CachePolicy(5), {}, False, "public, max-age=5"),
        (CachePolicy(5, 30), {}, False, "public, max-age=5, stale-while-revalidate=30"),
        (CachePolicy(5), {}, True, "public, max-age=31536000, immutable"),
        (CachePolicy(5, 30), {"Authorization": "Bearer k"}, False, "private, no-cache"),
        (CachePolicy(5), {"Authorization": "Bearer k"}, True, "private, no-cache"),
    ],
)
def test_cache_control_for_shared_caches(
    policy: CachePolicy, headers: dict[str, str], immutable: bool, expected: str
) -> None:
    assert policy.header(_request(headers), immutable=immutable) == expected
