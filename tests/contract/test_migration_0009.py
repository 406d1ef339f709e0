"""Migration 0009 on every database: the names already in a log become actors. A log whose
projection rows the fold made (agreements, a declaration, a mission, a correction adding a
mediator, spellings differing by case) loses ``proj_actors`` by a downgrade to 0008; the
upgrade builds the very rows the fold made, and the replay agrees."""

from __future__ import annotations

import asyncio

from alembic import command

from app.services.appending import Appender
from app.services.schema_migrations import alembic_config, upgrade
from events.log.database import create_engine
from events.log.store import EventStore
from events.model.types import event_adapter
from projections.runner import replay
from tests.factories import alleged, corrected, dispatched, signed
from tests.logtools import dump_projections


async def _history(url: str) -> list[tuple[object, ...]]:
    store = EventStore(create_engine(url))
    try:
        appender = Appender(store)
        for conflict in ("first", "second"):
            agreement = signed(conflict, "cf-1", "2022-09-14T00:00:00Z")
            declaration = event_adapter.validate_python(
                {
                    "type": "ceasefire.declared",
                    "conflict": conflict,
                    "occurred_at": "2022-09-10T00:00:00Z",  # earlier: Armenia appears earlier
                    "source": {"name": "desk"},
                    "data": {"agreement_id": "d-1", "declared_by": "armenia", "toward": ["Aliyev"]},
                }
            )
            await appender.append([agreement])
            await appender.append([dispatched(conflict, "m-1")])
            await appender.append([declaration])
            fix = corrected(
                conflict,
                agreement.id,
                "agreement.signed",
                {
                    "agreement_id": "cf-1",
                    "parties": ["Armenia", "Azerbaijan"],
                    "mediators": ["Russia"],
                },
            )
            await appender.append([fix])
            await appender.append([alleged(conflict, "armenia", "AZERBAIJAN")])
        dump = await dump_projections(store.engine, ["proj_actors"])
        return list(dump["proj_actors"])
    finally:
        await store.close()


async def _rebuilt(url: str, replayed: bool) -> list[tuple[object, ...]]:
    store = EventStore(create_engine(url))
    try:
        if replayed:
            await replay(store)
        dump = await dump_projections(store.engine, ["proj_actors"])
        return list(dump["proj_actors"])
    finally:
        await store.close()


def test_0009_makes_the_actors_the_fold_makes(fresh_database_url: str) -> None:
    url = fresh_database_url
    folded = asyncio.run(_history(url))
    assert len(folded) > 8
    command.downgrade(alembic_config(url), "0008")  # the head before 0009
    upgrade(url)
    assert asyncio.run(_rebuilt(url, replayed=False)) == folded
    assert asyncio.run(_rebuilt(url, replayed=True)) == folded
