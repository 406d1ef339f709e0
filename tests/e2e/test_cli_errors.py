"""A database the CLI cannot use, or a bad setting, is one line naming the setting: no
traceback, a non-zero exit. A database that is missing or not migrated says to run
``ceasefire migrate``, and no command creates a database file as a side effect (on every
database; the others are database-independent and run once)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from app.services.schema_migrations import alembic_config
from tests.conftest import make_database
from tests.e2e.conftest import free_port
from tests.e2e.test_operate_cli import CEASEFIRE, _ceasefire


def _one_line_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.mark.parametrize("command", [("keys", "list"), ("serve", "--port", "1")])
def test_an_unreachable_database_is_one_line_naming_the_setting(command: tuple[str, ...]) -> None:
    url = f"postgresql+asyncpg://nobody:secret-password@127.0.0.1:{free_port()}/nothing"
    done = _ceasefire(url, *command)
    assert done.returncode == 1
    line = _one_line_error(done.stderr)
    assert line.startswith("error: cannot use the database "), line
    assert "CEASEFIRE_DATABASE_URL" in line and "secret-password" not in line


def test_a_bad_setting_is_one_line_naming_it(tmp_path: Path) -> None:
    done = _ceasefire("mysql://nowhere/db", "keys", "list")
    assert done.returncode == 2
    line = _one_line_error(done.stderr)
    assert line.startswith("error: invalid settings: CEASEFIRE_DATABASE_URL='mysql://"), line


#: Commands that need a migrated database (and what each is given).
NEEDS_A_DATABASE = [
    ("export",),
    ("keys", "list"),
    ("import", "{file}"),
    ("verify",),
    ("worker",),
]


def test_outside_the_checkout_no_command_leaves_a_database_file_behind(tmp_path: Path) -> None:
    """Run in a directory without ``ceasefire.db`` and with ``CEASEFIRE_DATABASE_URL`` unset:
    each command says the default database does not exist and to run ``ceasefire migrate``,
    and the directory stays empty (connecting used to create an empty ``ceasefire.db``)."""
    work, files = tmp_path / "work", tmp_path / "files"
    work.mkdir()
    files.mkdir()
    (files / "log.ndjson").write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CEASEFIRE_")}
    for command in NEEDS_A_DATABASE:
        args = [arg.format(file=files / "log.ndjson") for arg in command]
        done = subprocess.run(
            [CEASEFIRE, *args], cwd=work, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 1, (command, done.stdout, done.stderr)
        line = _one_line_error(done.stderr)
        assert "(the default: CEASEFIRE_DATABASE_URL is unset) does not exist" in line, line
        assert "run `ceasefire migrate`" in line, line
        assert list(work.iterdir()) == [], (command, list(work.iterdir()))


@pytest.fixture(params=["empty", "behind"])
def unmigrated_url(db_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A database of this kind with no schema at all, or one migration behind the latest."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    previous = script.get_revision("head").down_revision
    assert isinstance(previous, str)
    yield from make_database(db_kind, tmp_path, None if request.param == "empty" else previous)


def test_an_unmigrated_database_is_one_line_naming_migrate(unmigrated_url: str) -> None:
    for command in [("export",), ("keys", "list"), ("serve", "--no-migrate", "--port", "1")]:
        done = _ceasefire(unmigrated_url, *command)
        assert done.returncode == 1, (command, done.stdout, done.stderr)
        line = _one_line_error(done.stderr)
        assert line.startswith("error: the database "), line
        assert "(set by CEASEFIRE_DATABASE_URL)" in line, line
        assert "has no schema" in line or "not the latest" in line, line
        assert line.endswith("run `ceasefire migrate` first"), line
    assert _ceasefire(unmigrated_url, "migrate").returncode == 0
    listed = _ceasefire(unmigrated_url, "keys", "list")
    assert listed.returncode == 0, listed.stderr
