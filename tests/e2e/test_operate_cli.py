"""The operator's commands as an operator runs them: ``ceasefire`` in a subprocess, on SQLite
and PostgreSQL. Export then import into an empty database, verify before and after someone
changes a payload behind the service's back, replay with its progress lines, and Ctrl-C in the
middle of a replay."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.services.appending import Appender
from events.log.database import create_engine
from events.log.store import EventStore
from tests.conftest import make_database
from tests.factories import alleged, seed_events
from tests.logtools import chained, dump_projections, scratch_tables, tamper

CEASEFIRE = str(Path(sys.executable).with_name("ceasefire"))


def _env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CEASEFIRE_")}
    env["CEASEFIRE_DATABASE_URL"] = url
    return env


def _ceasefire(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CEASEFIRE, *args], env=_env(url), capture_output=True, text=True, timeout=120
    )


async def _seed(url: str, extra: int = 0) -> None:
    store = EventStore(create_engine(url))
    appender = Appender(store)
    try:
        for event in seed_events():
            await appender.append([event])
        at = datetime(2022, 9, 23, 4, tzinfo=UTC)
        for start in range(0, extra, 100):
            batch = [
                alleged("armenia-azerbaijan", occurred_at=at + timedelta(seconds=start + i))
                for i in range(min(100, extra - start))
            ]
            await appender.append(batch)
    finally:
        await store.close()


@pytest.fixture
def target_url(db_kind: str, tmp_path: Path) -> Iterator[str]:
    """A second empty database of the same kind, to import into."""
    (tmp_path / "target").mkdir()
    yield from make_database(db_kind, tmp_path / "target")


async def test_export_import_and_verify(
    fresh_database_url: str, target_url: str, tmp_path: Path
) -> None:
    await _seed(fresh_database_url)
    exported = _ceasefire(fresh_database_url, "export")
    assert exported.returncode == 0, exported.stderr
    assert len(exported.stdout.splitlines()) == 6
    assert "exported 6 event(s)" in exported.stderr
    dump = tmp_path / "log.ndjson"
    dump.write_text(exported.stdout)

    first = _ceasefire(target_url, "import", str(dump))
    assert first.returncode == 0, first.stderr
    assert "imported 6 event(s), 0 already stored" in first.stdout
    again = _ceasefire(target_url, "import", str(dump))
    assert "imported 0 event(s), 6 already stored" in again.stdout

    bad = tmp_path / "bad.ndjson"
    lines = exported.stdout.splitlines()
    bad.write_text("\n".join([lines[0], "{oops", *lines[1:]]) + "\n")
    refused = _ceasefire(fresh_database_url, "import", str(bad))
    assert refused.returncode == 1
    assert f"{bad}:2: " in refused.stderr
    assert "nothing written: 1 bad line(s)" in refused.stderr

    clean = _ceasefire(fresh_database_url, "verify")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "the chain holds and every projection matches" in clean.stdout

    engine = create_engine(fresh_database_url)
    try:
        await tamper(engine, 4)
    finally:
        await engine.dispose()
    tampered = _ceasefire(fresh_database_url, "verify")
    assert tampered.returncode == 1
    assert "chain broken at position 4" in tampered.stdout


def _ceasefire_input(url: str, text: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CEASEFIRE, *args], input=text, env=_env(url), capture_output=True, text=True, timeout=120
    )


async def test_import_and_verify_read_standard_input(
    fresh_database_url: str, target_url: str
) -> None:
    """``import -`` takes an export piped in (``export | import -`` copies a log), bad lines
    named ``-:N``; ``verify --expect -`` takes the head as ``GET /v1/log/head`` answers it
    (piped from curl) or as ``POSITION:HASH``."""
    await _seed(fresh_database_url)
    exported = _ceasefire(fresh_database_url, "export").stdout
    lines = exported.splitlines()
    refused = _ceasefire_input(
        target_url, "\n".join([lines[0], "{oops", *lines[1:]]), "import", "-"
    )
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "-:2: " in refused.stderr and "nothing written: 1 bad line(s)" in refused.stderr
    done = _ceasefire_input(target_url, exported, "import", "-")
    assert done.returncode == 0, done.stderr
    assert "imported 6 event(s), 0 already stored" in done.stdout

    last = json.loads(lines[-1])
    head = {"position": last["position"], "hash": last["hash"]}
    for given in (json.dumps(head), f"{head['position']}:{head['hash']}\n"):
        checked = _ceasefire_input(target_url, given, "verify", "--expect", "-")
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert f"the log still extends the noted head {head['position']}:" in checked.stdout
    other = _ceasefire_input(
        target_url, json.dumps(head | {"hash": "0" * 64}), "verify", "--expect", "-"
    )
    assert other.returncode == 1 and "noted head" in other.stdout, other.stdout
    nonsense = _ceasefire_input(target_url, '{"head": 3}', "verify", "--expect", "-")
    assert nonsense.returncode == 2 and "error: --expect:" in nonsense.stderr


async def test_import_refuses_another_logs_history_and_events_from_the_future(
    fresh_database_url: str, target_url: str, tmp_path: Path
) -> None:
    """The same ids recorded at other times by another key are another log's history, and an
    event recorded in 2099 is no log's yet: each is a bad line, by number, exit 1, nothing
    written; the log still extends the head noted from its own export."""
    await _seed(fresh_database_url)
    exported = _ceasefire(fresh_database_url, "export")
    assert exported.returncode == 0, exported.stderr
    ours = [json.loads(line) for line in exported.stdout.splitlines()]
    (tmp_path / "ours.ndjson").write_text(exported.stdout)
    first = _ceasefire(target_url, "import", str(tmp_path / "ours.ndjson"))
    assert "imported 6 event(s), 0 already stored" in first.stdout, first.stderr
    head = f"{ours[-1]['position']}:{ours[-1]['hash']}"

    theirs = [line | {"key_id": "someone-else"} for line in ours]
    theirs[1] = theirs[1] | {"recorded_at": "2022-09-01T00:00:00.000000Z"}
    future = alleged("armenia-azerbaijan", occurred_at="2022-09-23T04:00:00Z")
    theirs_file = tmp_path / "theirs.ndjson"
    next_line = {
        **future.model_dump(mode="json", exclude_none=True),
        "occurred_at": "2022-09-23T04:00:00.000000Z",
        "position": 7,
        "version": 7,
        "schema_version": ours[-1]["schema_version"],
        "recorded_at": "2099-01-01T00:00:00.000000Z",
        "hash": "0" * 64,  # chained below
    }
    cases = [
        # every line another key's, and line 2 recorded at another time
        (theirs, {i: "key_id None stored, someone-else in the file" for i in range(1, 7)}),
        # this log's history, then an event from 2099
        ([*ours, next_line], {7: "recorded_at 2099-01-01T00:00:00+00:00 is in the future"}),
    ]
    for lines, expected in cases:
        theirs_file.write_text("".join(json.dumps(line) + "\n" for line in chained(lines)))
        refused = _ceasefire(target_url, "import", str(theirs_file))
        assert refused.returncode == 1, refused.stdout + refused.stderr
        reported = {
            int(line.split(":")[1]): line
            for line in refused.stderr.splitlines()
            if line.startswith(f"{theirs_file}:")
        }
        assert list(reported) == list(expected), refused.stderr
        for number, words in expected.items():
            assert words in reported[number], reported[number]
        assert f"nothing written: {len(expected)} bad line(s)" in refused.stderr
        if lines is theirs:
            assert "stored, 2022-09-01T00:00:00+00:00 in the file" in reported[2]
    checked = _ceasefire(target_url, "verify", "--expect", head)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"the log still extends the noted head {head}" in checked.stdout


async def test_replay_prints_progress_lines_and_a_summary(fresh_database_url: str) -> None:
    await _seed(fresh_database_url, extra=300)
    result = _ceasefire(fresh_database_url, "replay", "--batch-size", "50")
    assert result.returncode == 0, result.stderr
    assert "replay: " in result.stderr and "events/s" in result.stderr  # not a terminal: lines
    assert "\x1b[" not in result.stderr
    assert "from 306 events" in result.stdout
    one = _ceasefire(fresh_database_url, "replay", "--projection", "missions")
    assert one.returncode == 0 and "rebuilt missions from" in one.stdout
    unknown = _ceasefire(fresh_database_url, "replay", "--projection", "nope")
    assert unknown.returncode == 2 and "no projection 'nope'" in unknown.stderr


#: Runs the command with SIGINT as a terminal gives it. A process started in the background of
#: a non-interactive shell (`make test &`, a CI runner) inherits SIGINT ignored, Python then
#: installs no KeyboardInterrupt, and the replay would rightly run on through Ctrl-C.
_INTERRUPTIBLE = (
    sys.executable,
    "-c",
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.argv[1], sys.argv[1:])",
)


async def test_ctrl_c_in_the_middle_of_a_replay_leaves_the_live_tables(
    fresh_database_url: str,
) -> None:
    await _seed(fresh_database_url, extra=3000)
    engine = create_engine(fresh_database_url)
    try:
        before = await dump_projections(engine)
        process = await asyncio.create_subprocess_exec(
            *_INTERRUPTIBLE,
            CEASEFIRE,
            "replay",
            "--batch-size",
            "1",
            env=_env(fresh_database_url),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert process.stderr is not None
        first = (await process.stderr.readline()).decode()
        assert first.startswith("replay: "), first  # the first progress line: under way
        process.send_signal(signal.SIGINT)
        _, raw = await asyncio.wait_for(process.communicate(), timeout=60)
        err = raw.decode()
        assert process.returncode == 130, err
        assert "interrupted: the live projections are untouched" in err
        assert await dump_projections(engine) == before
        assert await scratch_tables(engine) == []

        again = _ceasefire(fresh_database_url, "replay")  # the next run starts clean
        assert again.returncode == 0, again.stderr
        assert await dump_projections(engine) == before
    finally:
        await engine.dispose()
