"""docker-compose.yml, read as compose reads it: the database is healthy only once it listens
where the other services connect, the migration waits for it and runs once, the API restarts
and takes its settings from an env file of its own, every ``${…}`` is in the env example, and
the build context holds what the Dockerfile copies and no secret. ``docker compose config``
checks it too where Docker Compose is installed (it is not needed anywhere else)."""

from __future__ import annotations

import fnmatch
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from app.cli.ceasefire import cli
from app.settings import Settings

ROOT = Path(__file__).parents[2]
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / "deploy" / "ceasefire.env.example"
#: What a user who followed the README has beside the checkout, which no image may hold.
SECRETS_AND_DATA = [".env", "api.env", ".git/config", ".venv/bin/python", "ceasefire.db"]
SECRETS_AND_DATA += ["restored.db", "backup.ndjson", "app/__pycache__/main.cpython-311.pyc"]


def _services() -> dict[str, Any]:
    services: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())["services"]
    return services


def _parsed(command: list[str]) -> dict[str, Any]:
    """``command``'s options as the ``ceasefire`` CLI parses them (an unknown one fails)."""
    assert command[0] == "ceasefire", command
    group = typer.main.get_command(cli)
    assert isinstance(group, typer.core.TyperGroup)
    subcommand = group.commands[command[1]]
    params: dict[str, Any] = subcommand.make_context(command[1], list(command[2:])).params
    return params


def test_the_database_is_healthy_only_once_it_listens_on_tcp() -> None:
    test = _services()["db"]["healthcheck"]["test"]
    assert test[0] == "CMD-SHELL"
    words = shlex.split(test[1])
    assert words[0] == "pg_isready"
    # Not the init scripts' temporary server, which listens on the Unix socket only.
    assert words[words.index("-h") + 1] == "127.0.0.1", words


def test_migrate_waits_for_the_database_and_runs_once() -> None:
    migrate = _services()["migrate"]
    assert _parsed(migrate["command"])["wait"] >= 30
    assert migrate["depends_on"]["db"]["condition"] == "service_healthy"
    assert migrate.get("restart", "no") == "no"  # a one-off: restarted, it would run for ever


def test_the_long_running_services_restart() -> None:
    services = _services()
    for name in ("db", "api"):
        assert services[name].get("restart") in ("unless-stopped", "always"), name
    assert _parsed(services["api"]["command"])["no_migrate"] is True
    needs = services["api"]["depends_on"]
    assert needs["migrate"]["condition"] == "service_completed_successfully"


def test_the_api_takes_its_settings_from_an_ignored_env_file() -> None:
    api = _services()["api"]
    env_files = api["env_file"] if isinstance(api["env_file"], list) else [api["env_file"]]
    assert env_files == ["api.env"]
    ignored = subprocess.run(
        ["git", "-C", str(ROOT), "check-ignore", "--no-index", "-q", "api.env"], timeout=60
    )
    assert ignored.returncode == 0, "api.env holds CEASEFIRE_SECRET_KEY: .gitignore it"
    for service in _services().values():
        for name in service.get("environment", {}):
            if name.startswith("CEASEFIRE_") and not name.endswith("_PASSWORD"):
                assert name.removeprefix("CEASEFIRE_").lower() in Settings.model_fields, name


def test_every_interpolated_variable_is_in_the_env_example() -> None:
    used = set(re.findall(r"\$\{(\w+)", COMPOSE.read_text()))
    listed = set(re.findall(r"^(\w+)=", ENV_EXAMPLE.read_text(), flags=re.MULTILINE))
    assert used, "no ${…} found"
    assert used <= listed, used - listed


def _dockerignored(path: str, patterns: list[str]) -> bool:
    """Whether Docker leaves ``path`` out of the build context: the last pattern that matches
    it or a directory above it decides, ``!`` lets back in (the rules this file uses)."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for pattern in patterns:
        keep = pattern.startswith("!")
        glob = pattern.removeprefix("!")
        globs = {glob, glob.removeprefix("**/")}
        if any(fnmatch.fnmatchcase(p, g) for p in prefixes for g in globs):
            ignored = not keep
    return ignored


def _copied() -> list[str]:
    """The sources of the Dockerfile's COPY lines."""
    sources = []
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            words = [w for w in line.split()[1:] if not w.startswith("--")]
            sources += words[:-1]
    assert sources
    return sources


def test_the_build_context_holds_what_the_image_copies_and_no_secret() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for source in _copied():
        assert (ROOT / source).exists(), source
        assert not _dockerignored(source, patterns), source
        if (ROOT / source).is_dir():
            assert not _dockerignored(f"{source}/__init__.py", patterns), source
    for path in SECRETS_AND_DATA:
        assert _dockerignored(path, patterns), path


def _compose_usable() -> bool:
    if shutil.which("docker") is None:
        return False
    done = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=60)
    return done.returncode == 0


def test_docker_compose_accepts_it(tmp_path: Path) -> None:
    if not _compose_usable():
        pytest.skip("docker compose is not installed here")
    shutil.copy(COMPOSE, tmp_path / "docker-compose.yml")
    shutil.copy(ENV_EXAMPLE, tmp_path / ".env")
    shutil.copy(ROOT / ".env.example", tmp_path / "api.env")
    done = subprocess.run(
        ["docker", "compose", "config", "--quiet"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
