"""A log written with ``violation.alleged`` schema version 1 (casualties as one number) still
loads, replays and serves after version 2 (a {low, best, high} range); old rows are never
rewritten and new events are written as version 2."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import select

from app.services.appending import Appender
from events.log.chain import verify_chain
from events.log.database import create_engine
from events.log.store import EventStore
from events.log.tables import events
from projections.queries.allegations import read_allegations
from projections.runner import replay
from projections.verify import verify_projections
from tests.factories import alleged
from tests.logtools import write_old_events

SOURCE = {"name": "Armenian Defense Ministry"}
OLD_LOG = [
    {
        "type": "agreement.signed",
        "occurred_at": "2022-09-14T16:00:00Z",
        "source": SOURCE,
        "data": {"agreement_id": "cf-1", "parties": ["Armenia", "Azerbaijan"]},
    },
    {
        "type": "violation.alleged",
        "occurred_at": "2022-09-20T10:00:00Z",
        "source": SOURCE,
        "data": {"alleged_by": "Armenia", "accused": "Azerbaijan", "casualties_claimed": 5},
    },
    {
        "type": "violation.alleged",
        "occurred_at": "2022-09-21T10:00:00Z",
        "source": SOURCE,
        "data": {"alleged_by": "Azerbaijan", "accused": "Armenia", "incidents": 2},
    },
]


async def test_a_version_1_log_loads_replays_and_serves(
    fresh_database_url: str,
) -> None:
    engine = create_engine(fresh_database_url)
    await write_old_events(engine, "old-log", OLD_LOG)
    await engine.dispose()
    store = EventStore(create_engine(fresh_database_url))  # the new release, started on it
    appender = Appender(store)
    try:
        loaded = await store.read_stream("old-log")
        assert [e.schema_version for e in loaded] == [1, 2, 2]
        claimed = loaded[1].data.casualties_claimed
        assert claimed is not None and claimed.model_dump() == {"low": 5, "best": 5, "high": 5}

        await replay(store)
        async with store.engine.connect() as conn:
            view = await read_allegations(
                conn, "old-log", as_of=datetime(2022, 9, 30, tzinfo=UTC), known_at=None
            )
        claims = [a.casualties_claimed for a in view.agreements[0].allegations]
        assert claims == [{"low": 5, "best": 5, "high": 5}, None]
        assert view.totals["Armenia"].made == 1 and view.totals["Armenia"].incidents_received == 2

        await appender.append(
            [
                alleged(
                    "old-log",
                    occurred_at="2022-09-22T00:00:00Z",
                    casualties_claimed={"low": 1, "best": 2, "high": 4},
                )
            ]
        )
        async with store.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(events.c.schema_version, events.c.data)
                    .where(events.c.conflict == "old-log")
                    .order_by(events.c.version)
                )
            ).all()
        assert [r.schema_version for r in rows] == [1, 1, 1, 2]
        assert json.loads(rows[1].data)["casualties_claimed"] == 5  # never rewritten
        assert json.loads(rows[3].data)["casualties_claimed"] == {"low": 1, "best": 2, "high": 4}

        assert (await verify_chain(store)).ok
        assert await verify_projections(store) == []
    finally:
        await store.close()
