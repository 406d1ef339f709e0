"""A key found once is trusted for ``CEASEFIRE_KEY_CACHE_SECONDS``; a revocation made by
another process is seen once that time has passed, and at once when the cache is off."""

from __future__ import annotations

import asyncio

import httpx

from app.services.api_keys import create_key, revoke_key
from events.log.database import create_engine
from tests.e2e.conftest import Keys, start_server


async def _key_then_revoke(database_url: str, server_url: str, wait: float) -> list[int]:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            key, secret = await create_key(conn, name="cached", role="reader")
        async with httpx.AsyncClient(base_url=server_url, timeout=30) as http:
            path = "/v1/events?limit=1"
            first = (await http.get(path, headers=Keys.header(secret))).status_code
            async with engine.begin() as conn:
                assert await revoke_key(conn, key.id)
            await asyncio.sleep(wait)
            second = (await http.get(path, headers=Keys.header(secret))).status_code
        return [first, second]
    finally:
        await engine.dispose()


async def test_revocation_is_seen_once_the_cache_time_has_passed(database_url: str) -> None:
    with start_server(database_url, require_read_key="true", key_cache_seconds="0.3") as server:
        assert await _key_then_revoke(database_url, server.base_url, wait=0.6) == [200, 401]


async def test_revocation_is_seen_at_once_with_the_cache_off(database_url: str) -> None:
    with start_server(database_url, require_read_key="true", key_cache_seconds="0") as server:
        assert await _key_then_revoke(database_url, server.base_url, wait=0) == [200, 401]
