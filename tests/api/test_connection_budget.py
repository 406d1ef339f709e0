"""``CEASEFIRE_POOL_SIZE`` is every PostgreSQL connection a serving process opens: the app, its
webhook worker and its one listening connection, under concurrent appends and polls, never
hold more (counted by PostgreSQL itself, in a database of the test's own)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from app.composition import connection_budget
from app.main import create_fastapi
from app.settings import Settings
from tests.conftest import make_key
from tests.factories import alleged, signed

POOL_SIZE = 8


def test_the_budget_adds_up_to_the_setting() -> None:
    for pool_size in range(4, 60):
        budget = connection_budget(pool_size)
        parts = (budget.listener, budget.writer, budget.heads, budget.engine)
        assert sum(parts) == budget.total == pool_size and min(parts) >= 1


async def test_a_process_never_holds_more_connections_than_its_budget(
    db_kind: str, fresh_database_url: str
) -> None:
    if db_kind != "postgresql":
        pytest.skip("a connection budget is PostgreSQL's (SQLite has files, not connections)")
    key = await make_key(fresh_database_url, "writer")
    url = make_url(fresh_database_url)
    counter = await asyncpg.connect(url.set(drivername="postgresql").render_as_string(False))
    counting = (
        "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()"
    )
    app = create_fastapi(Settings(database_url=fresh_database_url, pool_size=POOL_SIZE))
    most = 0
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                auth = {"Authorization": f"Bearer {key}"}
                conflicts = [f"budget-{uuid.uuid4().hex[:6]}-{i}" for i in range(6)]

                async def post(event: Any) -> None:
                    answer = await client.post(
                        "/v1/events", json=event.model_dump(mode="json"), headers=auth
                    )
                    assert answer.status_code == 201, answer.text

                await asyncio.gather(*(post(signed(c)) for c in conflicts))
                done = asyncio.Event()

                async def watch() -> None:
                    nonlocal most
                    while not done.is_set():
                        most = max(most, await counter.fetchval(counting, url.database))
                        await asyncio.sleep(0.005)

                watcher = asyncio.create_task(watch())
                await asyncio.gather(
                    *(post(alleged(c, incidents=i + 1)) for c in conflicts for i in range(5)),
                    *(client.get(f"/v1/conflicts/{c}/status") for c in conflicts * 5),
                    *(client.get("/v1/events", params={"after": 0}) for _ in range(10)),
                    *(client.get(f"/v1/conflicts/{c}/allegations") for c in conflicts),
                )
                done.set()
                await watcher
                most = max(most, await counter.fetchval(counting, url.database))
    finally:
        await counter.close()
    assert 1 <= most <= POOL_SIZE
