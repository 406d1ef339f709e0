"""``import`` recomputes the chain of the file it is given: an export changed after the fact
(content, recording time, author, hash, order, a line dropped) is refused at the first line
where it shows, and nothing is written. What it imports keeps each line's key id, so the log
imported whole is the very log exported: same positions, same hashes."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.cli.importer import import_file
from app.services.appending import Appender
from events.log.database import create_engine
from events.log.export import export_lines
from events.log.store import EventStore
from tests.conftest import make_database
from tests.factories import alleged, seed_events

Edit = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]


def _set(index: int, **fields: Any) -> Edit:
    def edit(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [line | fields if i == index else line for i, line in enumerate(lines)]

    return edit


def _more_incidents(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    changed = dict(lines[4])
    changed["data"] = changed["data"] | {"incidents": 99}
    return [*lines[:4], changed, *lines[5:]]


def _swap(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [*lines[:2], lines[3], lines[2], *lines[4:]]


def _renumbered_swap(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    third, fourth = lines[2], lines[3]
    return [*lines[:2], fourth | {"position": 3}, third | {"position": 4}, *lines[4:]]


def _drop(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [*lines[:3], *lines[4:]]


def _author(key_id: str | None) -> Edit:
    """The last line (the one appended with a key) said to be someone else's, or no one's."""

    def edit(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        last = {k: v for k, v in lines[-1].items() if k != "key_id"}
        return [*lines[:-1], last if key_id is None else last | {"key_id": key_id}]

    return edit


#: The key id the last event of the exported log is appended with.
_WRITER = "0b6f4a52-3c1e-4d55-9d1a-7f0e8c2b9a11"


#: (edit, the first bad line, words its reason says)
TAMPERING: dict[str, tuple[Edit, int, str]] = {
    "content": (_more_incidents, 5, "hash does not match"),
    "backdated": (_set(5, recorded_at="2022-09-01T00:00:00.000000Z"), 6, "recording time"),
    "garbage hash": (_set(1, hash="ab" * 32), 2, "hash does not match"),
    "order": (_swap, 3, "position 3 is missing"),
    "order, renumbered": (_renumbered_swap, 3, "hash does not match"),
    "dropped": (_drop, 4, "position 4 is missing"),
}
_LAST = len(seed_events()) + 1
TAMPERING |= {
    "another author": (_author("cli"), _LAST, "hash does not match"),
    "author removed": (_author(None), _LAST, "hash does not match"),
}


@pytest.fixture
def target_url(db_kind: str, tmp_path: Path) -> Iterator[str]:
    directory = tmp_path / "target"
    directory.mkdir()
    yield from make_database(db_kind, directory)


async def test_a_changed_export_is_refused_and_nothing_written(
    fresh_store: EventStore, target_url: str, tmp_path: Path, fresh_appender: Appender
) -> None:
    for event in seed_events("verified"):
        await fresh_appender.append([event])
    await fresh_appender.append(
        [alleged("verified", occurred_at="2022-09-24T00:00:00Z")], key_id=_WRITER
    )
    exported = [json.loads(line) async for line in export_lines(fresh_store)]
    assert len(exported) == _LAST and exported[-1]["key_id"] == _WRITER
    target = EventStore(create_engine(target_url))
    try:
        for name, (edit, first_bad, words) in TAMPERING.items():
            path = tmp_path / f"{name}.ndjson"
            path.write_text("".join(json.dumps(line) + "\n" for line in edit(exported)))
            report = await import_file(Appender(target), path)
            assert report.bad, name
            assert report.bad[0].number == first_bad, (name, report.bad)
            assert words in report.bad[0].reason, (name, report.bad[0].reason)
            assert report.imported == 0 and await target.head() == 0, name

        # A file that starts later must continue the importing log's chain.
        later = tmp_path / "later.ndjson"
        later.write_text("".join(json.dumps(line) + "\n" for line in exported[3:]))
        refused = await import_file(Appender(target), later)
        assert refused.bad[0].number == 1 and "holds no event at 3" in refused.bad[0].reason

        whole = tmp_path / "whole.ndjson"
        whole.write_text("".join(json.dumps(line) + "\n" for line in exported[:3]))
        assert (await import_file(Appender(target), whole)).imported == 3
        continued = await import_file(Appender(target), later)
        assert continued.bad == [] and continued.imported == len(exported) - 3
        assert [json.loads(line) async for line in export_lines(target)] == exported
    finally:
        await target.close()
