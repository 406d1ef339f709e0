"""``ceasefire load --keep-recorded-at``: a history back-filled after the fact keeps the times it
was learned at, so ``known_at`` questions about the past have answers; on both databases.

The times may not go backwards down the file, the first new one must be later than the log's
newest event and none may be after this machine's clock: a line breaking any of this is named by
number and nothing of the file is written. The hash chain is computed over the times kept.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.cli.loader import load_lines
from app.services.appending import Appender
from app.services.ingest import CLOCK_SKEW
from events.log.chain import verify_chain
from events.log.store import EventStore
from events.log.tables import events
from events.model.types import Event
from projections.freshness import snapshot
from projections.queries.status import read_status
from tests.factories import alleged, signed


def _line(event: Event, recorded_at: str | None) -> str:
    body = json.loads(event.model_dump_json(exclude_none=True))
    if recorded_at is not None:
        body["recorded_at"] = recorded_at
    return json.dumps(body)


def _history(conflict: str) -> list[Event]:
    return [
        signed(conflict, occurred_at="2022-09-14T16:00:00Z"),
        alleged(conflict, occurred_at="2022-09-15T10:00:00Z"),
    ]


async def _recorded_times(store: EventStore, conflict: str) -> list[datetime]:
    async with store.engine.connect() as conn:
        rows = await conn.execute(
            select(events.c.recorded_at)
            .where(events.c.conflict == conflict)
            .order_by(events.c.version)
        )
        return [row.recorded_at for row in rows]


async def test_a_back_filled_history_keeps_its_recording_times_and_answers_known_at(
    fresh_store: EventStore, fresh_appender: Appender, conflict: str
) -> None:
    agreement, claim = _history(conflict)
    lines = [
        _line(agreement, "2022-09-14T17:00:00Z"),
        _line(claim, "2022-09-16T08:00:00+02:00"),  # any offset: stored in UTC
    ]
    report = await load_lines(fresh_appender, lines, keep_recorded_at=True)
    assert report.bad == [] and report.appended == 2
    assert await _recorded_times(fresh_store, conflict) == [
        datetime(2022, 9, 14, 17, tzinfo=UTC),
        datetime(2022, 9, 16, 6, tzinfo=UTC),
    ]
    as_of = datetime(2022, 9, 15, 12, tzinfo=UTC)
    async with snapshot(fresh_store.engine) as conn:
        # On the 15th the log knew the agreement, not yet the allegation.
        then = await read_status(
            conn,
            conflict,
            as_of=as_of,
            known_at=datetime(2022, 9, 15, tzinfo=UTC),
            window=timedelta(days=7),
        )
        now = await read_status(
            conn, conflict, as_of=as_of, known_at=None, window=timedelta(days=7)
        )
    assert (then.state, then.version) == ("holding", 1)
    assert (now.state, now.version) == ("contested", 2)
    # The chain covers the times kept.
    assert (await verify_chain(fresh_store)).ok


async def test_a_line_without_recorded_at_is_recorded_at_the_load(
    fresh_store: EventStore, fresh_appender: Appender, conflict: str
) -> None:
    agreement, claim = _history(conflict)
    before = datetime.now(UTC)
    report = await load_lines(
        fresh_appender,
        [_line(agreement, "2022-09-14T17:00:00Z"), _line(claim, None)],
        keep_recorded_at=True,
    )
    assert report.bad == []
    first, second = await _recorded_times(fresh_store, conflict)
    assert first == datetime(2022, 9, 14, 17, tzinfo=UTC) and second >= before


async def test_times_going_backwards_are_refused_by_line_and_nothing_is_written(
    fresh_store: EventStore, fresh_appender: Appender, conflict: str
) -> None:
    agreement, claim = _history(conflict)
    lines = [_line(agreement, "2022-09-16T00:00:00Z"), "", _line(claim, "2022-09-15T00:00:00Z")]
    report = await load_lines(fresh_appender, lines, keep_recorded_at=True)
    assert [b.number for b in report.bad] == [3]
    assert "goes backwards" in report.bad[0].reason
    assert report.appended == 0
    assert await fresh_store.stream_head(conflict) is None


async def test_the_first_time_must_be_later_than_the_logs_newest_event(
    fresh_store: EventStore, fresh_appender: Appender, conflict: str
) -> None:
    first, claim = _history(conflict)
    assert (
        await load_lines(
            fresh_appender, [_line(first, "2022-09-15T00:00:00Z")], keep_recorded_at=True
        )
    ).bad == []
    for at in ("2022-09-14T00:00:00Z", "2022-09-15T00:00:00Z"):  # before, and at, the newest
        report = await load_lines(fresh_appender, [_line(claim, at)], keep_recorded_at=True)
        assert [b.number for b in report.bad] == [1]
        assert "not after the log's newest event" in report.bad[0].reason
    assert [e.version for e in await fresh_store.read_stream(conflict)] == [1]
    # Loading the same file again skips what is stored: its times are not checked again.
    again = await load_lines(
        fresh_appender, [_line(first, "2022-09-15T00:00:00Z")], keep_recorded_at=True
    )
    assert again.bad == [] and again.skipped == 1


async def test_a_time_after_this_machines_clock_is_refused(
    fresh_store: EventStore, fresh_appender: Appender, conflict: str
) -> None:
    (agreement, _claim) = _history(conflict)
    later = datetime.now(UTC) + CLOCK_SKEW + timedelta(hours=1)
    report = await load_lines(
        fresh_appender, [_line(agreement, later.isoformat())], keep_recorded_at=True
    )
    assert [b.number for b in report.bad] == [1] and "in the future" in report.bad[0].reason
    assert await fresh_store.stream_head(conflict) is None


async def test_without_the_option_recorded_at_is_not_an_event_field(
    fresh_appender: Appender, conflict: str
) -> None:
    (agreement, _claim) = _history(conflict)
    report = await load_lines(fresh_appender, [_line(agreement, "2022-09-15T00:00:00Z")])
    assert [b.number for b in report.bad] == [1] and "recorded_at" in report.bad[0].reason


async def test_a_bad_recorded_at_is_a_bad_line(fresh_appender: Appender, conflict: str) -> None:
    (agreement, _claim) = _history(conflict)
    report = await load_lines(
        fresh_appender, [_line(agreement, "15 September 2022")], keep_recorded_at=True
    )
    assert [b.number for b in report.bad] == [1] and report.bad[0].reason.startswith("recorded_at")
