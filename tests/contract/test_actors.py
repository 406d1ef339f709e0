"""Actors on every database: the state loaded from ``proj_actors`` is the state the fold makes,
the replay rebuilds the same rows, and a log written before actors existed (names no actor has,
spellings that differ) exports, imports byte for byte, replays and verifies."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.cli.importer import import_file
from app.services.appending import Appender
from events.log.chain import verify_chain
from events.log.database import create_engine
from events.log.export import export_lines
from events.log.store import EventStore
from events.model.evolve import evolve
from events.model.state import ConflictState
from events.model.types import Event, event_adapter
from projections.inline import load_state
from projections.queries.actors import read_actors
from projections.runner import replay
from tests.conftest import make_database
from tests.factories import alleged, corrected, registered, signed
from tests.logtools import dump_projections

C = "israel-lebanon"


def _mission(conflict: str, organizations: list[str]) -> Event:
    return event_adapter.validate_python(
        {
            "type": "mission.dispatched",
            "conflict": conflict,
            "occurred_at": "2024-11-27T02:00:00Z",
            "source": {"name": "test desk"},
            "data": {
                "mission_id": "mechanism",
                "agreement_id": "coh",
                "organization": "United States",
                "organizations": organizations,
            },
        }
    )


async def _history(appender: Appender, conflict: str = C) -> None:
    agreement = signed(
        conflict, "coh", "2024-11-26T10:00:00Z", parties=("Israel", "Hezbollah"), mediators=()
    )
    await appender.append([agreement])
    await appender.append([registered(conflict, "hezbollah", aliases=("Hizbollah", "Hizbullah"))])
    await appender.append([_mission(conflict, ["France", "UNIFIL"])])
    await appender.append([alleged(conflict, "Israel", "Hizbollah", "2024-12-02T10:00:00Z")])
    fix = corrected(
        conflict,
        agreement.id,
        "agreement.signed",
        {
            "agreement_id": "coh",
            "parties": ["Israel", "Hezbollah"],
            "mediators": ["United States", "france"],
            "kind": "cessation_of_hostilities",
        },
        occurred_at="2024-11-28T00:00:00Z",
    )
    await appender.append([fix])


async def test_the_state_loaded_from_the_tables_is_the_state_the_fold_makes(
    fresh_store: EventStore, fresh_appender: Appender
) -> None:
    await _history(fresh_appender)
    stored = await fresh_store.read_stream(C)
    by_id = {e.id: e for e in stored}
    folded = ConflictState(C)
    for event in stored:
        folded = evolve(folded, event, by_id.get)
    async with fresh_store.engine.connect() as conn:
        loaded = await load_state(conn, C)
    assert loaded.actors == folded.actors
    assert sorted(loaded.actors.by_name) == [
        "France",
        "Hezbollah",
        "Israel",
        "UNIFIL",
        "United States",
    ]
    assert loaded.actors.by_name["Hezbollah"].aliases == ("Hizbollah", "Hizbullah")
    # What was stored: canonical names, the source's spelling kept.
    claim = stored[3]
    assert claim.data.accused == "Hezbollah"  # type: ignore[union-attr]
    assert claim.data.as_written == {"accused": "Hizbollah"}  # type: ignore[union-attr]
    correction = stored[4].data.data  # type: ignore[union-attr]
    assert correction["mediators"] == ["United States", "France"]
    assert correction["as_written"] == {"mediators.1": "france"}


async def test_the_actors_view_reads_roles_at_as_of(
    fresh_store: EventStore, fresh_appender: Appender
) -> None:
    await _history(fresh_appender)
    async with fresh_store.engine.connect() as conn:
        view = await read_actors(conn, C, as_of=datetime(2024, 12, 31, tzinfo=UTC), known_at=None)
        early = await read_actors(
            conn, C, as_of=datetime(2024, 11, 26, 12, tzinfo=UTC), known_at=None
        )
    roles = {a.name: (a.roles, a.kind) for a in view.actors}
    assert roles == {
        "France": (["mediator", "monitor"], None),
        "Hezbollah": (["party"], "armed_group"),
        "Israel": (["party"], None),
        "UNIFIL": (["monitor"], None),
        # a mediator by the correction, which applies from its recording to every as_of
        "United States": (["mediator", "monitor"], None),
    }
    assert [(a.name, a.roles) for a in early.actors] == [
        ("France", ["mediator"]),
        ("Hezbollah", ["party"]),
        ("Israel", ["party"]),
        ("United States", ["mediator"]),
    ]


async def test_replay_builds_the_same_actor_rows(
    fresh_store: EventStore, fresh_appender: Appender
) -> None:
    await _history(fresh_appender)
    await _history(fresh_appender, "second")
    before = await dump_projections(fresh_store.engine)
    assert len(before["proj_actors"]) > 10
    await replay(fresh_store, batch_size=3)
    assert await dump_projections(fresh_store.engine) == before


@pytest.fixture
def target_url(db_kind: str, tmp_path: Path) -> Iterator[str]:
    """A second database of the same kind, to import into."""
    (tmp_path / "target").mkdir()
    yield from make_database(db_kind, tmp_path / "target")


async def test_an_old_log_naming_nobody_imports_byte_for_byte_replays_and_verifies(
    fresh_store: EventStore, target_url: str, tmp_path: Path
) -> None:
    """Events as a log written before actors holds them (written here as history, the way an
    import stores them): an allegation by a name no actor has, an accused spelt otherwise."""
    appender = Appender(fresh_store)
    old = [
        signed(C, "coh", "2024-11-26T10:00:00Z", parties=("Israel", "Hezbollah")),
        alleged(C, "Old Observatory", "HEZBOLLAH", "2024-12-02T10:00:00Z"),
        alleged(C, "Israel", "hezbollah", "2024-12-02T11:00:00Z", agreement_id="coh"),
    ]
    async with appender.ingesting(history=True) as ingesting:
        await ingesting.append(old, None, [None] * len(old))
    exported = [line async for line in export_lines(fresh_store)]
    assert "Old Observatory" in exported[1] and "as_written" not in "".join(exported)
    (tmp_path / "old.ndjson").write_text("".join(line + "\n" for line in exported))

    target = EventStore(create_engine(target_url))
    try:
        report = await import_file(Appender(target), tmp_path / "old.ndjson")
        assert report.bad == [] and report.imported == len(old)
        assert [line async for line in export_lines(target)] == exported  # every byte, hashes too
        assert (await verify_chain(target)).ok
        before = await dump_projections(target.engine)
        await replay(target)
        assert await dump_projections(target.engine) == before
        async with target.engine.connect() as conn:
            state = await load_state(conn, C)
        assert sorted(state.actors.by_name) == ["Hezbollah", "Israel"]  # the parties only
        # A new append is canonical, and the unknown observer must be registered first.
        new = Appender(target)
        result = await new.append([alleged(C, "Israel", "HEZBOLLAH", "2024-12-03T10:00:00Z")])
        assert result.events[0].data.accused == "Hezbollah"  # type: ignore[union-attr]
    finally:
        await target.close()
