"""The key cache keeps a found key for its time, and no longer (a clock injected, no sleep)."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from app.services.api_keys import ApiKey, KeyCache

NOW = datetime(2022, 10, 1, tzinfo=UTC)


def test_key_cache_keeps_found_keys_for_its_time_only() -> None:
    now = [100.0]
    key = ApiKey(uuid4(), "k", "writer", "cfk_x", NOW, None)
    cache = KeyCache(ttl=5, clock=lambda: now[0])
    assert cache.get("secret") is None
    cache.put("secret", key)
    assert cache.get("secret") is key and cache.get("other") is None
    now[0] += 5
    assert cache.get("secret") is key  # for its time: ttl seconds after it was put
    now[0] += 0.001
    assert cache.get("secret") is None
    off = KeyCache(ttl=0, clock=lambda: now[0])
    off.put("secret", key)
    assert off.get("secret") is None
