"""``conflict.described`` on both databases: the latest description recorded is the conflict's,
an earlier one stays what the log said before (``known_at``), and a replay builds the very same
rows as the appends did, whether the descriptions fall in one replay batch or in several."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.services.appending import Appender
from events.log.store import EventStore
from events.model.types import Event, event_adapter
from projections.freshness import snapshot
from projections.queries.shared import read_glance
from projections.runner import replay
from projections.views import DescriptionView
from tests.factories import alleged, seed_events
from tests.logtools import dump_projections


def _described(conflict: str, title: str, countries: list[str]) -> Event:
    return event_adapter.validate_python(
        {
            "type": "conflict.described",
            "conflict": conflict,
            "occurred_at": "2022-09-13T00:00:00+04:00",
            "source": {"name": "Test desk"},
            "data": {"title": title, "countries": countries, "region": "South Caucasus"},
        }
    )


T0 = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("batch_size", [1, 4, 1000])
async def test_replay_builds_the_rows_the_appends_made(
    fresh_store: EventStore, batch_size: int
) -> None:
    ticks = iter(T0 + timedelta(minutes=n) for n in range(1000))
    appender = Appender(fresh_store, clock=lambda: next(ticks))
    for n in range(2):
        conflict = f"described-{n}"
        for event in seed_events(conflict):
            await appender.append([event])
        await appender.append([_described(conflict, "Border clashes", ["AM", "AZ"])])
        await appender.append(
            [
                _described(conflict, "Armenia-Azerbaijan border clashes", ["AM", "AZ"]),
                alleged(
                    conflict,
                    occurred_at="2022-09-24T10:00:00+04:00",
                    casualties_claimed={"injured": {"low": 1, "best": 2, "high": 3}},
                ),
                _described(conflict, "The September 2022 clashes", ["AZ", "AM"]),
            ]
        )
    before = await dump_projections(fresh_store.engine)
    assert len(before["proj_descriptions"]) == 6
    assert len([r for r in before["proj_descriptions"] if r[-1] is None]) == 2  # one current each
    await replay(fresh_store, batch_size=batch_size)
    assert await dump_projections(fresh_store.engine) == before


async def test_the_latest_description_known_is_the_conflicts(
    fresh_store: EventStore, conflict: str
) -> None:
    ticks = iter(T0 + timedelta(hours=n) for n in range(100))
    appender = Appender(fresh_store, clock=lambda: next(ticks))
    first = await appender.append([_described(conflict, "Border clashes", ["AM"])])
    await appender.append([_described(conflict, "Armenia-Azerbaijan", ["AM", "AZ"])])
    later = T0 + timedelta(days=1)

    async def described(known_at: datetime | None) -> DescriptionView | None:
        async with snapshot(fresh_store.engine) as conn:
            return (await read_glance(conn, conflict, as_of=later, known_at=known_at)).description

    now = await described(None)
    then = await described(first.events[0].recorded_at)
    before = await described(T0 - timedelta(seconds=1))
    assert now is not None and (now.title, now.countries) == ("Armenia-Azerbaijan", ["AM", "AZ"])
    assert then is not None and (then.title, then.countries) == ("Border clashes", ["AM"])
    assert before is None
