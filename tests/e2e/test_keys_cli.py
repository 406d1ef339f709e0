"""``ceasefire keys create|list|revoke`` as an operator runs them, on both databases."""

from __future__ import annotations

import re

from tests.e2e.test_operate_cli import _ceasefire


def test_create_list_revoke(database_url: str) -> None:
    created = _ceasefire(database_url, "keys", "create", "--role", "writer", "--name", "desk")
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    assert re.fullmatch(r"cfk_[A-Za-z0-9_-]{43}", secret)
    key_id = re.search(r"key ([0-9a-f-]{36})", created.stderr)
    assert key_id is not None

    listed = _ceasefire(database_url, "keys", "list")
    assert listed.stdout.splitlines()[0].split() == ["id", "role", "prefix", "name", "state"]
    line = next(line for line in listed.stdout.splitlines() if key_id[1] in line)
    assert "writer" in line and "active" in line and secret not in listed.stdout

    assert _ceasefire(database_url, "keys", "revoke", key_id[1]).returncode == 0
    listed = _ceasefire(database_url, "keys", "list")
    assert "revoked" in next(line for line in listed.stdout.splitlines() if key_id[1] in line)
    again = _ceasefire(database_url, "keys", "revoke", key_id[1])
    assert again.returncode == 1 and "no active key" in again.stderr


def test_a_bad_role_or_setting_is_a_message_not_a_traceback(database_url: str) -> None:
    bad_role = _ceasefire(database_url, "keys", "create", "--role", "root", "--name", "x")
    assert bad_role.returncode == 2 and "Traceback" not in bad_role.stderr
    bad_url = _ceasefire("mysql://nowhere/db", "keys", "list")
    assert bad_url.returncode == 2 and "invalid settings" in bad_url.stderr
    assert "Traceback" not in bad_url.stderr
