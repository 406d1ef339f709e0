"""``GET /v1/log/head`` on a real server, and ``ceasefire verify --expect`` catching a rewrite
that the chain alone no longer shows (the projections rebuilt after it, too)."""

from __future__ import annotations

import subprocess

import httpx

from app.services.appending import Appender
from events.log.chain import read_log_head, verify_chain
from events.log.database import create_engine
from events.log.store import EventStore
from projections.runner import replay
from projections.verify import verify_projections
from tests.e2e.conftest import Server
from tests.e2e.test_operate_cli import CEASEFIRE, _env
from tests.factories import alleged, seed_events
from tests.logtools import rewrite


async def test_the_head_is_the_logs_and_cheap_to_poll(
    server: Server, client: httpx.AsyncClient, conflict: str
) -> None:
    store = EventStore(create_engine(server.database_url))
    appender = Appender(store)
    try:
        await appender.append([seed_events(conflict)[0]])
        first = await client.get("/v1/log/head")
        assert first.status_code == 200
        async with store.engine.connect() as conn:
            head = await read_log_head(conn)
        body = first.json()
        assert body == {"position": head.position, "hash": head.hash.hex()}
        etag = first.headers["etag"]
        assert first.headers["cache-control"] == "no-cache"
        again = await client.get("/v1/log/head", headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        await appender.append([alleged(conflict, occurred_at="2022-09-24T00:00:00Z")])
        moved = await client.get("/v1/log/head", headers={"If-None-Match": etag})
        assert moved.status_code == 200 and moved.json()["position"] > body["position"]
        assert moved.headers["etag"] != etag
    finally:
        await store.close()


def _verify(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CEASEFIRE, "verify", *args], env=_env(url), capture_output=True, text=True, timeout=120
    )


async def test_verify_expect_catches_a_rewrite_the_chain_hides(fresh_database_url: str) -> None:
    store = EventStore(create_engine(fresh_database_url))
    appender = Appender(store)
    try:
        for event in seed_events("pinned"):
            await appender.append([event])
        async with store.engine.connect() as conn:
            noted = await read_log_head(conn)
        await appender.append([alleged("pinned", occurred_at="2022-09-24T00:00:00Z")])

        def more(data: dict[str, object]) -> dict[str, object]:
            return {**data, "incidents": 40}

        await rewrite(store.engine, 5, more)  # the seed's first allegation
        await replay(store)  # the rewriter rebuilds the projections as well
        # What plain `ceasefire verify` checks all holds:
        assert (await verify_chain(store)).ok
        assert await verify_projections(store) == []
    finally:
        await store.close()

    pinned = _verify(fresh_database_url, "--expect", str(noted))
    assert pinned.returncode == 1, pinned.stdout + pinned.stderr
    assert f"noted head {noted}" in pinned.stdout and "rewritten" in pinned.stdout
    assert "projection" not in pinned.stdout  # the pin is the only finding
