"""Eight writers appending over HTTP while something fails, and what must hold afterwards.

``writing`` runs the writers against a server until its block ends, each on a conflict of its
own, counting every answer; ``assert_log_intact`` checks the log after the fault.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import select

from events.log.chain import verify_chain
from events.log.database import create_engine
from events.log.store import EventStore
from events.log.tables import events as events_table
from projections.verify import verify_projections
from tests.e2e.conftest import Keys

__all__ = ["WRITERS", "Load", "assert_log_intact", "event", "writing"]

WRITERS = 8
PARTIES = ("Armenia", "Azerbaijan")


@dataclass
class Load:
    """What the writers were told: the ids acknowledged with 201, every answer's status, and
    anything that was not a 201 or a clean 503 problem."""

    acked: list[str] = field(default_factory=list)
    statuses: Counter[int | str] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)


def event(conflict: str, n: int) -> dict[str, Any]:
    if n == 0:
        return {
            "id": str(uuid.uuid4()),
            "type": "agreement.signed",
            "conflict": conflict,
            "occurred_at": "2022-09-14T16:00:00Z",
            "source": {"name": "mediator"},
            "data": {"agreement_id": "cf-1", "parties": list(PARTIES)},
        }
    return {
        "id": str(uuid.uuid4()),
        "type": "violation.alleged",
        "conflict": conflict,
        "occurred_at": f"2022-09-{15 + n % 10:02d}T{n % 24:02d}:00:00Z",
        "source": {"name": f"desk {n}"},
        "data": {"alleged_by": PARTIES[n % 2], "accused": PARTIES[1 - n % 2]},
    }


async def _write(client: httpx.AsyncClient, conflict: str, load: Load, *, died: bool) -> None:
    """Append to ``conflict`` until told to stop. ``died``: the server is going to be killed,
    so a broken connection ends this writer instead of counting as unexpected."""
    n = 0
    while not load.stop.is_set():
        body = event(conflict, n)
        try:
            response = await client.post("/v1/events", json=body)
        except httpx.TransportError as error:
            if died:
                return
            load.unexpected.append(f"{type(error).__name__}: {error}")
            await asyncio.sleep(0.05)
            continue
        load.statuses[response.status_code] += 1
        if response.status_code == 201:
            load.acked.append(body["id"])
            n += 1
        elif response.status_code == 503 and response.headers.get("content-type", "").startswith(
            "application/problem+json"
        ):
            assert response.json()["type"] == "/problems/storage-unavailable"
            await asyncio.sleep(0.02)
        else:
            load.unexpected.append(f"{response.status_code}: {response.text[:300]}")
            await asyncio.sleep(0.02)


@asynccontextmanager
async def writing(base_url: str, keys: Keys, load: Load, *, died: bool) -> AsyncIterator[None]:
    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=base_url, headers=Keys.header(keys.writer), timeout=60)
            )
            for _ in range(WRITERS)
        ]
        run = uuid.uuid4().hex[:6]
        tasks = [
            asyncio.create_task(_write(c, f"crash-{run}-{i}", load, died=died))
            for i, c in enumerate(clients)
        ]
        try:
            yield
        finally:
            load.stop.set()
            await asyncio.gather(*tasks)


async def assert_log_intact(database_url: str, acked: list[str]) -> None:
    """Every acknowledged event stored; positions 1..N and each stream's versions 1..n with no
    hole; the chain and every projection verify."""
    store = EventStore(create_engine(database_url))
    try:
        async with store.engine.connect() as conn:
            rows = list(
                await conn.execute(
                    select(
                        events_table.c.id,
                        events_table.c.conflict,
                        events_table.c.version,
                        events_table.c.position,
                    ).order_by(events_table.c.position)
                )
            )
        stored = {str(r.id) for r in rows}
        assert set(acked) <= stored, f"{len(set(acked) - stored)} acknowledged events lost"
        assert [r.position for r in rows] == list(range(1, len(rows) + 1))
        versions: dict[str, list[int]] = defaultdict(list)
        for r in rows:
            versions[r.conflict].append(r.version)
        for conflict, seen in versions.items():
            assert seen == list(range(1, len(seen) + 1)), conflict
        chain = await verify_chain(store)
        assert chain.events == len(rows)
        assert not chain.broken_count and not chain.gaps and not chain.undecodable
        assert chain.head_problem is None
        assert await verify_projections(store) == []
    finally:
        await store.close()
