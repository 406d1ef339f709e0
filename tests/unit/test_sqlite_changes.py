"""The SQLite applier the append and the replay share: its statements, and what it refuses."""

from __future__ import annotations

import random
import sqlite3
from datetime import UTC, datetime
from uuid import UUID

import pytest

from projections.changes import Changes
from projections.sqlite_changes import sqlite_statements

T0 = datetime(2022, 9, 14, 16, 0, tzinfo=UTC)
EVENT = UUID("12345678-1234-5678-1234-567812345678")


def _changes() -> Changes:
    changes = Changes()
    changes.close("proj_corrections", {"event_id": EVENT}, T0)
    changes.insert(
        "proj_mission_ends",
        {
            "event_id": EVENT,
            "conflict": "c",
            "mission_id": "m",
            "ended_at": T0,
            "reason": None,
            "version": 2,
            "known_from": T0,
            "known_until": None,
        },
    )
    return changes


def test_closes_come_first_with_values_as_sqlite_stores_them() -> None:
    (close, close_rows), (insert, insert_rows) = sqlite_statements(_changes())
    assert close == (
        'UPDATE "proj_corrections" SET known_until = ? WHERE known_until IS NULL AND "event_id" = ?'
    )
    assert [list(r) for r in close_rows] == [["2022-09-14 16:00:00.000000", EVENT.hex]]
    assert insert.startswith('INSERT INTO "proj_mission_ends" ("event_id", "conflict"')
    assert [list(r) for r in insert_rows] == [
        [
            EVENT.hex,
            "c",
            "m",
            "2022-09-14 16:00:00.000000",
            None,
            2,
            "2022-09-14 16:00:00.000000",
            None,
        ]
    ]


def test_targets_name_the_tables_written_and_leave_the_others_out() -> None:
    statements = sqlite_statements(_changes(), {"proj_mission_ends": "rebuild_proj_mission_ends"})
    assert [s.split('"')[1] for s, _ in statements] == ["rebuild_proj_mission_ends"]


def test_a_table_that_is_not_a_projection_is_refused() -> None:
    changes = Changes()
    changes.insert("events", {"position": 1})
    with pytest.raises(ValueError, match="not a projection table"):
        sqlite_statements(changes)


def test_the_statements_run_on_sqlite3() -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE proj_corrections (event_id, known_until)")
    conn.execute(
        "CREATE TABLE proj_mission_ends (event_id, conflict, mission_id, ended_at, reason, "
        "version, known_from, known_until)"
    )
    conn.execute("INSERT INTO proj_corrections VALUES (?, NULL)", (EVENT.hex,))
    for statement, params in sqlite_statements(_changes()):
        conn.executemany(statement, params)
    assert conn.execute("SELECT known_until FROM proj_corrections").fetchall() == [
        ("2022-09-14 16:00:00.000000",)
    ]
    assert conn.execute("SELECT count(*) FROM proj_mission_ends").fetchone() == (1,)


def _mission_ends(count: int) -> Changes:
    changes = Changes()
    for i in range(count):
        changes.insert(
            "proj_mission_ends",
            {
                "event_id": UUID(int=i),
                "conflict": "c",
                "mission_id": f"m-{i}",
                "ended_at": T0,
                "reason": None,
                "version": i,
                "known_from": T0,
                "known_until": None,
            },
        )
    return changes


def _rows_per_statement(statement: str) -> int:
    return statement.count("(?")


def test_many_rows_go_in_multi_row_chunks_and_all_arrive() -> None:
    """A replay batch's rows: chunks of as many rows as one statement binds, and the rest in
    chunks of powers of two, largest first; every row inserted once, in order."""
    statements = sqlite_statements(_mission_ends(5000))
    sizes = [_rows_per_statement(s) for s, _ in statements]
    per = sizes[0]
    assert per * len(statements[0][1]) <= 5000 < per * (len(statements[0][1]) + 1)
    rest = sizes[1:]
    assert rest == sorted(rest, reverse=True) and all(s & (s - 1) == 0 for s in rest)
    assert per * len(statements[0][1]) + sum(rest) == 5000
    conn = sqlite3.connect(":memory:")
    conn.execute(
        "CREATE TABLE proj_mission_ends (event_id, conflict, mission_id, ended_at, reason, "
        "version, known_from, known_until)"
    )
    for statement, params in statements:
        conn.executemany(statement, params)
    versions = [v for (v,) in conn.execute("SELECT version FROM proj_mission_ends ORDER BY rowid")]
    assert versions == list(range(5000))


def test_a_replay_prepares_a_bounded_set_of_statements_whatever_its_batches_hold() -> None:
    """Each distinct text is a prepared statement ``sqlite3`` keeps in its cache (128 per
    connection), hundreds of kB for one of hundreds of rows: a text per batch's row count made
    a replay's memory grow with the log. A hundred row counts from 1 to 3,000 use at most
    ``1 + log2(per)`` texts for a table."""
    counts = random.Random(21).sample(range(1, 3001), 100)
    texts = {
        statement for count in counts for statement, _ in sqlite_statements(_mission_ends(count))
    }
    per = max(_rows_per_statement(t) for t in texts)
    assert len(texts) <= 1 + per.bit_length()
