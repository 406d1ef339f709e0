"""A database the CLI cannot use, or a bad setting, is one line naming the setting: no
traceback, a non-zero exit. Database-independent: runs once."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.e2e.conftest import free_port
from tests.e2e.test_operate_cli import _ceasefire


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


def test_an_unmigrated_database_is_one_line_saying_migrate(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    sqlite3.connect(path).close()
    done = _ceasefire(f"sqlite+aiosqlite:///{path}", "keys", "list")
    assert done.returncode == 1
    line = _one_line_error(done.stderr)
    assert line.startswith("error: cannot use the database "), line
    assert line.endswith("run `ceasefire migrate`"), line
