"""Acceptance case 6 of issue 8 on every database: a log written before ceasefires had terms,
scopes and declarations (the seed article plus a retraction, with the projection rows the
previous release's fold made of it) is migrated by 0005, answers as before, replays to the
same rows and verifies."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from typing import Any

from alembic import command
from sqlalchemy import insert, select

from app.services.schema_migrations import alembic_config, upgrade
from events.log.chain import verify_chain
from events.log.database import create_engine
from events.log.store import EventStore
from events.log.tables import events
from projections.queries.allegations import read_allegations
from projections.queries.status import read_status
from projections.runner import replay
from projections.tables import agreements, allegations, missions
from projections.verify import verify_projections
from tests.conftest import SEED
from tests.logtools import write_old_events

CONFLICT = "old-seed"
FIRST, SECOND = "2022-09-13-ceasefire", "2022-09-14-ceasefire"
WINDOW = timedelta(days=7)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _raw_seed() -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in SEED.read_text().splitlines() if line.strip()]
    return [{k: line[k] for k in ("type", "occurred_at", "source", "data")} for line in lines]


async def _old_projection_rows(store: EventStore) -> None:
    """The rows the release before 0005 folded the seed and the retraction into: each
    allegation filed under the agreement in effect when it occurred, marked implicit."""
    async with store.engine.begin() as conn:
        log = (
            await conn.execute(
                select(events.c.id, events.c.recorded_at, events.c.occurred_at)
                .where(events.c.conflict == CONFLICT)
                .order_by(events.c.version)
            )
        ).all()
        rec = [row.recorded_at for row in log]
        ids = [row.id for row in log]
        agreement: dict[str, Any] = {
            "conflict": CONFLICT,
            "parties": '["Armenia", "Azerbaijan"]',
            "kind": "ceasefire",
            "terms": None,
        }
        await conn.execute(
            insert(agreements),
            [
                {
                    **agreement,
                    "agreement_id": FIRST,
                    "mediators": '["Russia"]',
                    "signed_at": log[0].occurred_at,
                    "effective_at": log[0].occurred_at,
                    "collapsed_at": collapsed,
                    "collapse_reason": reason,
                    "version": 1,
                    "event_id": ids[0],
                    "known_from": known_from,
                    "known_until": known_until,
                }
                for collapsed, reason, known_from, known_until in (
                    (None, None, rec[0], rec[1]),
                    (log[1].occurred_at, "Fighting resumed.", rec[1], None),
                )
            ]
            + [
                {
                    **agreement,
                    "agreement_id": SECOND,
                    "mediators": "[]",
                    "signed_at": log[2].occurred_at,
                    "effective_at": log[2].occurred_at,
                    "collapsed_at": None,
                    "collapse_reason": None,
                    "version": 3,
                    "event_id": ids[2],
                    "known_from": rec[2],
                    "known_until": None,
                }
            ],
        )
        await conn.execute(
            insert(missions).values(
                conflict=CONFLICT,
                mission_id="csto-2022-09",
                organization="Collective Security Treaty Organization (CSTO)",
                head="CSTO Secretary-General",
                purpose=None,
                expected_arrival=None,
                dispatched_at=log[3].occurred_at,
                version=4,
                source="{}",
                known_from=rec[3],
                known_until=None,
            )
        )
        claim: dict[str, Any] = {
            "conflict": CONFLICT,
            "agreement_id": SECOND,
            "agreement_implicit": True,
            "location": None,
            "description": None,
            "casualties_claimed": None,
            "source": "{}",
        }
        await conn.execute(
            insert(allegations),
            [
                {
                    **claim,
                    "event_id": ids[4],
                    "version": 5,
                    "alleged_by": "Azerbaijan",
                    "accused": "Armenia",
                    "incidents": 3,
                    "occurred_at": log[4].occurred_at,
                    "retracted": retracted,
                    "known_from": known_from,
                    "known_until": known_until,
                }
                for retracted, known_from, known_until in (
                    (False, rec[4], rec[6]),
                    (True, rec[6], None),
                )
            ]
            + [
                {
                    **claim,
                    "event_id": ids[5],
                    "version": 6,
                    "alleged_by": "Armenia",
                    "accused": "Azerbaijan",
                    "incidents": 1,
                    "occurred_at": log[5].occurred_at,
                    "retracted": False,
                    "known_from": rec[5],
                    "known_until": None,
                }
            ],
        )


async def _answers(store: EventStore) -> list[Any]:
    """What the release before could answer, asked of this one."""
    out: list[Any] = []
    async with store.engine.connect() as conn:
        for as_of in (
            "2022-09-01T00:00:00Z",
            "2022-09-13T12:00:00Z",
            "2022-09-14T23:00:00Z",
            "2022-09-26T00:00:00Z",
        ):
            view = await read_status(conn, CONFLICT, as_of=at(as_of), known_at=None, window=WINDOW)
            out.append(
                (
                    view.state,
                    view.agreement and view.agreement.agreement_id,
                    {
                        p: (c.made, c.received, c.incidents_made, c.incidents_received)
                        for p, c in view.allegations.items()
                    },
                    [m.mission_id for m in view.missions],
                    view.last_allegation_at,
                )
            )
        totals = await read_allegations(
            conn, CONFLICT, as_of=at("2022-10-01T00:00:00Z"), known_at=None
        )
        out.append({p: (c.made, c.received) for p, c in totals.totals.items()})
    return out


def test_a_log_written_before_0005_migrates_answers_replays_and_verifies(
    fresh_database_url: str,
) -> None:
    url = fresh_database_url
    command.downgrade(alembic_config(url), "0007")  # the head before 0005
    asyncio.run(_write_the_old_release(url))
    upgrade(url)
    asyncio.run(_check_the_new_release(url))


async def _write_the_old_release(url: str) -> None:
    engine = create_engine(url)
    written = await write_old_events(engine, CONFLICT, _raw_seed())
    await write_old_events(
        engine,
        CONFLICT,
        [
            {
                "type": "allegation.retracted",
                "occurred_at": "2022-09-25T08:00:00Z",
                "source": {"name": "Azerbaijan Defense Ministry"},
                "data": {"allegation_id": str(written[4]), "retracted_by": "Azerbaijan"},
            }
        ],
    )
    await engine.dispose()
    old = EventStore(create_engine(url))
    try:
        await _old_projection_rows(old)
    finally:
        await old.close()


async def _check_the_new_release(url: str) -> None:
    store = EventStore(create_engine(url))
    try:
        migrated = await _answers(store)
        assert migrated == [
            ("none", None, {}, [], None),
            (
                "collapsed",
                FIRST,
                {"Armenia": (0, 0, 0, 0), "Azerbaijan": (0, 0, 0, 0)},
                [],
                None,
            ),
            (
                "holding",
                SECOND,
                {"Armenia": (0, 0, 0, 0), "Azerbaijan": (0, 0, 0, 0)},
                ["csto-2022-09"],
                None,
            ),
            (
                "contested",  # Armenia's allegation of the 23rd stands; Azerbaijan's is withdrawn
                SECOND,
                {"Armenia": (1, 0, 1, 0), "Azerbaijan": (0, 1, 0, 1)},
                ["csto-2022-09"],
                at("2022-09-23T03:40:00Z"),
            ),
            {"Armenia": (1, 0), "Azerbaijan": (0, 1)},
        ]
        async with store.engine.connect() as conn:
            filed = (
                await conn.execute(
                    select(
                        allegations.c.agreement_id,
                        allegations.c.accused_key,
                        allegations.c.retracted_at,
                    )
                    .where(allegations.c.conflict == CONFLICT, allegations.c.known_until.is_(None))
                    .order_by(allegations.c.version)
                )
            ).all()
        assert [tuple(r) for r in filed] == [
            (None, "armenia", at("2022-09-25T08:00:00Z")),
            (None, "azerbaijan", None),
        ]

        await replay(store)
        assert await _answers(store) == migrated
        assert await verify_projections(store) == []
        assert (await verify_chain(store)).ok
        assert [e.schema_version for e in await store.read_stream(CONFLICT)][:2] == [1, 1]
    finally:
        await store.close()
