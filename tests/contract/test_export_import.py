"""Export and import, on every database and across them: SQLite to PostgreSQL and back gives
the same status for every conflict, the same tables and, since ids, times and versions are
kept, the same chain."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.cli.importer import CLOCK_SKEW, ImportReport, import_file
from app.services.appending import Appender
from events.log.chain import verify_chain
from events.log.database import create_engine
from events.log.export import export_lines
from events.log.store import EventStore
from events.model.envelope import format_instant
from projections.queries.allegations import read_allegations
from projections.queries.status import list_conflicts, read_status
from tests.conftest import SELECTED, make_database
from tests.factories import (
    alleged,
    collapsed,
    corrected,
    dispatched,
    retracted,
    seed_events,
    signed,
)
from tests.logtools import chained_lines, dump_projections

WINDOW = timedelta(days=7)
MOMENTS = [datetime(2022, 9, d, 12, tzinfo=UTC) for d in (10, 13, 14, 16, 20, 24, 30)]


async def _history(store: EventStore) -> list[str]:
    appender = Appender(store)
    conflicts = ["armenia-azerbaijan", "second-front", "third-front"]
    for event in seed_events():
        await appender.append([event])
    for conflict in conflicts[1:]:
        for event in seed_events(conflict):
            await appender.append([event])
        claim = alleged(
            conflict,
            occurred_at="2022-09-24T06:00:00Z",
            casualties_claimed={"low": 2, "best": 3, "high": 7},
        )
        await appender.append([claim])
        await appender.append(
            [
                corrected(
                    conflict,
                    claim.id,
                    "violation.alleged",
                    {
                        "alleged_by": "Armenia",
                        "accused": "Azerbaijan",
                        "casualties_claimed": {"low": 3, "best": 4, "high": 7},
                    },
                )
            ]
        )
        other = alleged(conflict, occurred_at="2022-09-24T07:00:00Z")
        await appender.append([other])
        await appender.append([retracted(conflict, other.id)])
        await appender.append([dispatched(conflict, "m-2", occurred_at="2022-09-26T00:00:00Z")])
    await appender.append([signed("third-front", "cf-2", occurred_at="2022-09-27T00:00:00Z")])
    await appender.append([collapsed("third-front", "cf-2", occurred_at="2022-09-28T00:00:00Z")])
    return conflicts


async def _export(store: EventStore, path: Path, **filters: object) -> list[str]:
    lines = [line async for line in export_lines(store, batch_size=4, **filters)]
    _write(path, lines)
    return lines


def _write(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines))


async def _views(store: EventStore, conflicts: list[str]) -> list[object]:
    out: list[object] = []
    async with store.engine.connect() as conn:
        for conflict in conflicts:
            for moment in MOMENTS:
                status = await read_status(
                    conn, conflict, as_of=moment, known_at=None, window=WINDOW
                )
                out.append(status.model_dump())
            allegations = await read_allegations(conn, conflict, as_of=MOMENTS[-1], known_at=None)
            out.append(allegations.model_dump())
        out.append(
            [c.model_dump() for c in await list_conflicts(conn, as_of=MOMENTS[-1], window=WINDOW)]
        )
    return out


@pytest.fixture
def two_databases(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    source_kind, target_kind = request.param
    if not {source_kind, target_kind} <= set(SELECTED):
        pytest.skip(f"needs {source_kind} and {target_kind} (CEASEFIRE_TEST_DATABASES)")
    sources = make_database(source_kind, tmp_path / "source")
    targets = make_database(target_kind, tmp_path / "target")
    (tmp_path / "source").mkdir()
    (tmp_path / "target").mkdir()
    source, target = next(sources), next(targets)
    yield source, target
    for generator in (sources, targets):
        for _ in generator:
            pass


@pytest.mark.parametrize(
    "two_databases",
    [("sqlite", "postgresql"), ("postgresql", "sqlite")],
    indirect=True,
    ids=["sqlite-to-postgresql", "postgresql-to-sqlite"],
)
async def test_export_then_import_into_the_other_database_gives_the_same_views(
    two_databases: tuple[str, str], tmp_path: Path
) -> None:
    source = EventStore(create_engine(two_databases[0]))
    target = EventStore(create_engine(two_databases[1]))
    try:
        conflicts = await _history(source)
        exported = await _export(source, tmp_path / "log.ndjson")
        report = await import_file(Appender(target), tmp_path / "log.ndjson")
        assert report.bad == [] and report.imported == len(exported) and report.skipped == 0

        assert await _views(target, conflicts) == await _views(source, conflicts)
        assert await dump_projections(target.engine) == await dump_projections(source.engine)
        assert [line async for line in export_lines(target)] == exported  # hashes too
        assert (await verify_chain(target)).ok

        again = await import_file(Appender(target), tmp_path / "log.ndjson")
        assert (again.imported, again.skipped) == (0, len(exported))
        assert await target.head() == len(exported)
    finally:
        await source.close()
        await target.close()


async def test_export_filters_by_position_and_conflict(
    fresh_store: EventStore, tmp_path: Path
) -> None:
    await _history(fresh_store)
    everything = await _export(fresh_store, tmp_path / "all.ndjson")
    after = await _export(fresh_store, tmp_path / "after.ndjson", after=10)
    assert after == everything[10:]
    one = await _export(fresh_store, tmp_path / "one.ndjson", conflict="second-front")
    assert one == [line for line in everything if json.loads(line)["conflict"] == "second-front"]
    first = json.loads(everything[0])
    assert set(first) == {
        "position", "id", "conflict", "version", "type", "schema_version",
        "occurred_at", "recorded_at", "source", "data", "hash",
    }  # fmt: skip


async def test_an_import_keeps_ids_and_recording_times(
    fresh_store: EventStore, conflict: str, tmp_path: Path
) -> None:
    store = fresh_store  # times of 2022: into a log with nothing recorded later
    lines = []
    recorded = datetime(2022, 9, 15, 8, 30, 0, 123456, tzinfo=UTC)
    for i, event in enumerate(seed_events(conflict)):
        lines.append(_line(event.model_dump(mode="json"), i + 1, recorded + timedelta(hours=i)))
    (tmp_path / "in.ndjson").write_text("\n".join(chained_lines(lines)) + "\n")
    report = await import_file(Appender(store), tmp_path / "in.ndjson")
    assert report.bad == [] and report.imported == len(lines)
    stored = await store.read_stream(conflict)
    assert [str(e.id) for e in stored] == [json.loads(line)["id"] for line in lines]
    assert [e.recorded_at for e in stored] == [recorded + timedelta(hours=i) for i in range(6)]


async def test_an_import_never_adds_events_recorded_before_the_logs_newest(
    fresh_store: EventStore, conflict: str, tmp_path: Path
) -> None:
    """What the log said at a past ``known_at`` never changes (caches keep such views for
    good): an event recorded at or before the newest one stored is a bad line."""
    start = datetime(2022, 9, 15, 8, 30, tzinfo=UTC)
    newest = start + timedelta(hours=1)
    stored = [
        _line(signed(conflict).model_dump(mode="json"), 1, start),
        _line(alleged(conflict).model_dump(mode="json"), 2, newest),
    ]
    claim = alleged(conflict).model_dump(mode="json")

    async def imported(recorded_at: datetime) -> ImportReport:
        lines = chained_lines([*stored, _line(claim, 3, recorded_at)])
        (tmp_path / "in.ndjson").write_text("\n".join(lines) + "\n")
        return await import_file(Appender(fresh_store), tmp_path / "in.ndjson")

    first = await imported(newest + timedelta(hours=1))  # the whole file: a log of three
    assert first.bad == [] and first.imported == 3
    stored.append(_line(claim, 3, newest + timedelta(hours=1)))
    newest += timedelta(hours=1)
    claim = alleged(conflict).model_dump(mode="json")
    for recorded_at in (newest - timedelta(minutes=30), newest):
        lines = chained_lines([*stored, _line(claim, 4, recorded_at)])
        (tmp_path / "in.ndjson").write_text("\n".join(lines) + "\n")
        report = await import_file(Appender(fresh_store), tmp_path / "in.ndjson")
        assert [bad.number for bad in report.bad] == [4], report
        assert "not after the log's newest event" in report.bad[0].reason
    assert len(await fresh_store.read_stream(conflict)) == 3
    lines = chained_lines([*stored, _line(claim, 4, newest + timedelta(seconds=1))])
    (tmp_path / "in.ndjson").write_text("\n".join(lines) + "\n")
    report = await import_file(Appender(fresh_store), tmp_path / "in.ndjson")
    assert report.bad == [] and report.imported == 1


async def test_bad_lines_are_reported_by_number_and_nothing_is_written(
    store: EventStore, conflict: str, tmp_path: Path, appender: Appender
) -> None:
    stored = signed(conflict)
    await appender.append([stored])
    head = await store.head()
    good = [_line(e.model_dump(mode="json"), i + 1) for i, e in enumerate(seed_events(conflict))]
    clash = stored.model_dump(mode="json") | {
        "data": {"agreement_id": "other", "parties": ["A", "B"]}
    }
    unknown = alleged(conflict).model_dump(mode="json") | {"type": "violation.imagined"}
    orphan = collapsed(conflict, "never-signed").model_dump(mode="json")
    lines = [
        good[0],
        "{not json",
        good[1],
        _line(unknown, 3),
        _line(orphan, 4),
        _line(clash, 5),
        "",
        _line(seed_events(conflict)[2].model_dump(mode="json"), 6),
    ]
    (tmp_path / "bad.ndjson").write_text("\n".join(chained_lines(lines)) + "\n")
    report = await import_file(Appender(store), tmp_path / "bad.ndjson")
    assert [bad.number for bad in report.bad] == [2, 4, 5, 6]
    assert "unknown-agreement" in report.bad[2].reason
    assert "stored already, differently" in report.bad[3].reason
    assert await store.head() == head


async def test_an_old_schema_version_is_upcast_on_import(
    store: EventStore, conflict: str, tmp_path: Path
) -> None:
    agreement = signed(conflict).model_dump(mode="json")
    claim = alleged(conflict).model_dump(mode="json")
    claim["data"]["casualties_claimed"] = 12  # schema version 1: one number
    lines = [_line(agreement, 1), _line(claim, 2, schema_version=1)]
    (tmp_path / "v1.ndjson").write_text("\n".join(chained_lines(lines)) + "\n")
    report = await import_file(Appender(store), tmp_path / "v1.ndjson")
    assert report.bad == []
    stored = (await store.read_stream(conflict))[1]
    assert stored.schema_version == 2
    assert stored.data.casualties_claimed is not None
    assert stored.data.casualties_claimed.model_dump() == {"low": 12, "best": 12, "high": 12}


async def test_an_upcast_file_imported_again_is_all_already_stored(
    fresh_store: EventStore, conflict: str, tmp_path: Path
) -> None:
    """An import stores a line of an older schema version upcast, so that event's hash, and
    every later one's, is the importing log's own: the same file again is still the same
    events, not a file of other content."""
    claim = alleged(conflict).model_dump(mode="json")
    claim["data"]["casualties_claimed"] = 12  # schema version 1: one number
    later = alleged(conflict).model_dump(mode="json")
    start = datetime(2022, 9, 15, tzinfo=UTC)
    lines = [
        _line(signed(conflict).model_dump(mode="json"), 1, start),
        _line(claim, 2, start + timedelta(hours=1), schema_version=1),
        _line(later, 3, start + timedelta(hours=2)),
    ]
    (tmp_path / "v1.ndjson").write_text("\n".join(chained_lines(lines)) + "\n")
    first = await import_file(Appender(fresh_store), tmp_path / "v1.ndjson")
    assert first.bad == [] and first.imported == 3
    again = await import_file(Appender(fresh_store), tmp_path / "v1.ndjson")
    assert again.bad == [] and (again.imported, again.skipped) == (0, 3)


#: The importing machine's clock, for the tests of events recorded in the future.
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


async def test_an_import_refuses_events_recorded_in_the_future(
    fresh_store: EventStore, conflict: str, tmp_path: Path
) -> None:
    """A log holding an event "recorded in 2099" would have every view pinned in ``known_at``
    served as immutable until the next append changed it: an event recorded after the
    importing machine's clock (more than ``CLOCK_SKEW`` ahead) is a bad line, by number, and
    nothing of the file is written."""
    start = datetime(2022, 9, 15, tzinfo=UTC)
    good = [
        _line(event.model_dump(mode="json"), i + 1, start + timedelta(hours=i))
        for i, event in enumerate(seed_events(conflict))
    ]
    future = [
        datetime(2099, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ]
    claims = [
        _line(alleged(conflict).model_dump(mode="json"), len(good) + 1 + i, at)
        for i, at in enumerate(future)
    ]
    path = tmp_path / "future.ndjson"
    path.write_text("\n".join(chained_lines([*good, *claims])) + "\n")
    for clock in (None, lambda: NOW):  # the real clock, and one the test sets
        appender = Appender(fresh_store) if clock is None else Appender(fresh_store, clock=clock)
        report = await import_file(appender, path)
        assert [bad.number for bad in report.bad] == [len(good) + 1, len(good) + 2], report
        assert all("is in the future" in bad.reason for bad in report.bad), report.bad
        assert report.imported == 0 and await fresh_store.head() == 0

    # The skew allowed for the exporting machine's clock, to the microsecond.
    at_edge = _line(alleged(conflict).model_dump(mode="json"), len(good) + 1, NOW + CLOCK_SKEW)
    path.write_text("\n".join(chained_lines([*good, at_edge])) + "\n")
    past_edge = at_edge.replace(
        format_instant(NOW + CLOCK_SKEW),
        format_instant(NOW + CLOCK_SKEW + timedelta(microseconds=1)),
    )
    (tmp_path / "past.ndjson").write_text("\n".join(chained_lines([*good, past_edge])) + "\n")
    refused = await import_file(Appender(fresh_store, clock=lambda: NOW), tmp_path / "past.ndjson")
    assert [bad.number for bad in refused.bad] == [len(good) + 1], refused
    assert await fresh_store.head() == 0
    accepted = await import_file(Appender(fresh_store, clock=lambda: NOW), path)
    assert accepted.bad == [] and accepted.imported == len(good) + 1


async def test_an_id_stored_with_other_content_is_refused_by_line(
    fresh_store: EventStore, conflict: str, tmp_path: Path
) -> None:
    """The same ids recorded at other times by another key: another log's history, not this
    one's. Each such line is a bad line naming what differs, and nothing is written (skipping
    them as "already stored" left ``verify --expect`` on the file's head finding this log
    rewritten)."""
    start = datetime(2022, 9, 15, tzinfo=UTC)
    events = [event.model_dump(mode="json") for event in seed_events(conflict)]
    made = chained_lines(
        [_line(event, i + 1, start + timedelta(hours=i)) for i, event in enumerate(events)]
    )
    (tmp_path / "made.ndjson").write_text("\n".join(made) + "\n")
    assert (await import_file(Appender(fresh_store), tmp_path / "made.ndjson")).imported == 6
    ours = before = [line async for line in export_lines(fresh_store)]
    _write(tmp_path / "ours.ndjson", ours)

    def theirs(index: int, **fields: object) -> list[str]:
        lines = [json.loads(line) for line in ours]
        lines[index] |= fields
        return chained_lines([json.dumps(line) for line in lines])

    other_time = format_instant(start + timedelta(minutes=30))
    cases: dict[str, tuple[list[str], list[int], str]] = {
        # what was recorded and by whom: that line, and every later one's chain hash
        "recorded_at": (theirs(1, recorded_at=other_time), [2, 3, 4, 5, 6], "recorded_at"),
        "key_id": (theirs(3, key_id="someone-else"), [4, 5, 6], "key_id"),
        "data": (theirs(5, data=events[5]["data"] | {"incidents": 99}), [6], "data"),
    }
    for name, (lines, numbers, words) in cases.items():
        path = tmp_path / f"{name}.ndjson"
        path.write_text("\n".join(lines) + "\n")
        report = await import_file(Appender(fresh_store), path)
        assert [bad.number for bad in report.bad] == numbers, (name, report.bad)
        assert all("stored already, differently" in bad.reason for bad in report.bad), name
        assert words in report.bad[0].reason, (name, report.bad[0].reason)
        assert all("hash" in bad.reason for bad in report.bad[1:]), (name, report.bad)
        assert report.imported == 0 and report.skipped == 0, name
        assert [line async for line in export_lines(fresh_store)] == before, name

    again = await import_file(Appender(fresh_store), tmp_path / "ours.ndjson")
    assert again.bad == [] and (again.imported, again.skipped) == (0, 6)


def _line(
    event: dict[str, object],
    position: int,
    recorded_at: datetime | None = None,
    schema_version: int | None = None,
) -> str:
    from events.model.types import SCHEMA_VERSIONS

    occurred = datetime.fromisoformat(str(event["occurred_at"]).replace("Z", "+00:00"))
    return json.dumps(
        {
            **event,
            "position": position,
            "version": position,
            "schema_version": schema_version or SCHEMA_VERSIONS.get(str(event["type"]), 1),
            "occurred_at": format_instant(occurred),
            "recorded_at": format_instant(recorded_at or datetime.now(UTC)),
            "source": {k: v for k, v in dict(event["source"]).items() if v is not None},
            "hash": "0" * 64,
        }
    )
