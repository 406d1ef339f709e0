"""``ceasefire load --keep-recorded-at -``: the command itself, reading standard input, on a
database of its own on each backend: the times kept (``export`` shows them), a bad line named
as ``-:N`` with exit 1 and nothing written, and a file named by path as before."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.e2e.test_operate_cli import CEASEFIRE, _ceasefire, _env
from tests.factories import alleged, signed

LINES = [
    {
        **json.loads(signed("backfilled").model_dump_json(exclude_none=True)),
        "recorded_at": "2022-09-14T17:00:00Z",
    },
    {
        **json.loads(
            alleged("backfilled", occurred_at="2022-09-22T18:00:00+04:00").model_dump_json(
                exclude_none=True
            )
        ),
        "recorded_at": "2022-09-23T08:00:00Z",
    },
]


def _load_stdin(url: str, text: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CEASEFIRE, "load", "--keep-recorded-at", "-"],
        input=text,
        env=_env(url),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_standard_input_with_recording_times(fresh_database_url: str) -> None:
    backwards = [LINES[0] | {"recorded_at": "2022-09-24T00:00:00Z"}, LINES[1]]
    refused = _load_stdin(fresh_database_url, "\n".join(json.dumps(line) for line in backwards))
    assert refused.returncode == 1, refused.stderr
    assert "-:2: recorded_at 2022-09-23T08:00:00+00:00 goes backwards" in refused.stderr
    assert "nothing written: 1 bad line(s)" in refused.stderr
    assert _ceasefire(fresh_database_url, "export").stdout == ""

    done = _load_stdin(fresh_database_url, "\n".join(json.dumps(line) for line in LINES))
    assert done.returncode == 0, done.stderr
    assert "appended 2 event(s), 0 already stored" in done.stdout
    # replay's progress, as lines when stderr is no terminal: the check, then the write
    assert "load: check: 2/2 events (100%)" in done.stderr, done.stderr
    assert "load: write: 2/2 events (100%)" in done.stderr, done.stderr
    assert "\x1b[" not in done.stderr
    exported = [
        json.loads(line) for line in _ceasefire(fresh_database_url, "export").stdout.splitlines()
    ]
    assert [e["recorded_at"] for e in exported] == [
        "2022-09-14T17:00:00.000000Z",
        "2022-09-23T08:00:00.000000Z",
    ]
    assert exported[1]["occurred_at"] == "2022-09-22T14:00:00.000000Z"
    assert exported[1]["data"]["utc_offset"] == "+04:00"
    assert _ceasefire(fresh_database_url, "verify").returncode == 0


def test_a_file_by_path_and_a_missing_one(fresh_database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson"
    path.write_text("\n".join(json.dumps(line) for line in LINES) + "\n")
    done = _ceasefire(fresh_database_url, "load", "--keep-recorded-at", str(path))
    assert done.returncode == 0 and "appended 2 event(s)" in done.stdout, done.stderr
    missing = _ceasefire(fresh_database_url, "load", str(tmp_path / "nothing.ndjson"))
    assert missing.returncode == 2 and "no file" in missing.stderr
