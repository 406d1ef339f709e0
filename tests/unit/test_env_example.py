""".env.example lists every setting with its default, and nothing else: read back as the
environment, it gives exactly the defaults of app/settings.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.settings import Settings

EXAMPLE = Path(__file__).parents[2] / ".env.example"
_LINE = re.compile(r"^(?P<unset># )?CEASEFIRE_(?P<name>[A-Z_]+)=(?P<value>.*)$")


def _listed() -> dict[str, str | None]:
    listed: dict[str, str | None] = {}
    for line in EXAMPLE.read_text().splitlines():
        match = _LINE.match(line)
        if match:
            name = match["name"].lower()
            assert name not in listed, f"{name} listed twice"
            listed[name] = None if match["unset"] else match["value"]
    return listed


def test_every_setting_is_listed_and_nothing_else() -> None:
    assert set(_listed()) == set(Settings.model_fields)


def test_the_listed_values_are_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(f"CEASEFIRE_{name.upper()}", raising=False)
    defaults = Settings()
    for name, value in _listed().items():
        if value is None:
            assert getattr(defaults, name) in (None, ()), f"{name} has a default to list"
        else:
            monkeypatch.setenv(f"CEASEFIRE_{name.upper()}", value)
    assert Settings() == defaults
