"""The ``ceasefire`` command's own options, as an operator types them: ``--version``, ``-h``
beside ``--help`` at every level, and a port out of range refused by name before anything
starts (``serve --port 84037`` used to listen on 18501: uvicorn takes the port modulo 65536).
None of these touches a database, so they run once, not per database."""

from __future__ import annotations

from importlib.metadata import version

import pytest

from tests.e2e.conftest import free_port
from tests.e2e.test_operate_cli import _ceasefire

#: A database URL nothing listens at: a command that got as far as using it would fail with
#: "cannot use the database", not with what these tests expect.
NOWHERE = f"postgresql+asyncpg://nobody@127.0.0.1:{free_port()}/nothing"


def test_version() -> None:
    done = _ceasefire(NOWHERE, "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"ceasefire {version('ceasefire-status')}"


@pytest.mark.parametrize(
    "command",
    [(), ("load",), ("import",), ("verify",), ("serve",), ("keys",), ("keys", "create")],
)
def test_dash_h_is_help(command: tuple[str, ...]) -> None:
    short = _ceasefire(NOWHERE, *command, "-h")
    long = _ceasefire(NOWHERE, *command, "--help")
    assert short.returncode == long.returncode == 0, short.stderr
    assert short.stdout == long.stdout
    assert "-h, --help" in short.stdout


@pytest.mark.parametrize("port", ["0", "65536", "84037", "-1"])
def test_serve_refuses_a_port_out_of_range(port: str) -> None:
    done = _ceasefire(NOWHERE, "serve", "--no-migrate", "--port", port)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Invalid value for '--port'" in done.stderr, done.stderr
    assert "cannot use the database" not in done.stderr
