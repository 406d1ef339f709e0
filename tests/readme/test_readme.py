"""The README runs as written: its shell examples, in order, against a real server on a fresh
database, each printed answer checked against the ``# →`` lines beside it.

The examples run in a scratch directory holding a copy of the repository's tracked files
(``tests/readme/scratch.py``: so ``.venv/bin/ceasefire`` and ``tests/fixtures/…`` resolve as
in a clone, files the examples write, the database ``./ceasefire.db`` included, land there, and
nothing the user has beside the checkout is read or overwritten), with no ``CEASEFIRE_*``
setting but those the README itself sets. The server is ``.venv/bin/ceasefire serve`` on a
free port (what ``make serve`` runs): the examples' ``127.0.0.1:8000`` is rewritten to it, and
the webhook recipe's and the back-filled log's ports to free ones. Shell variables an example
sets (``KEY=…``) carry over to the next ones. Every file the examples leave behind must be one
``.gitignore`` ignores, so following the README leaves a clean ``git status``. Runs once: it
tests the README, not a database.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import free_port
from tests.readme.examples import SHELLS, matches, parse
from tests.readme.scratch import tracked_copy, tracked_files

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parents[2]
README = ROOT / "README.md"
STEP_SECONDS = 120
#: ``# → exit 28``: the exit status the step ends with (0 unless said).
_EXIT = re.compile(r"^exit \d+$")


def test_every_example_is_run_or_says_why_not() -> None:
    blocks = parse(README.read_text())
    shells = [b for b in blocks if b.language in SHELLS]
    assert shells, "no shell examples found"
    for block in blocks:
        assert block.language, f"README.md:{block.line}: a fence without a language"
        if block.language == "python":  # each Python example is a file the tests run
            examples = [p.read_text() for p in (ROOT / "docs" / "examples").glob("*.py")]
            assert block.text in examples, f"README.md:{block.line}: not a file in docs/examples"
    for block in shells:
        if block.skipped is None:
            assert block.steps, f"README.md:{block.line}: a block with no command"


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The examples' working directory: a copy of the tracked files only."""
    work = tmp_path_factory.mktemp("readme")
    tracked_copy(ROOT, work)
    return work


@pytest.fixture(scope="module")
def bookkeeping(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test's own files (the server's log, the shell state), outside the scratch
    directory, so that what is left there is what the examples wrote."""
    return tmp_path_factory.mktemp("readme-test")


def _environment(ports: dict[str, int]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CEASEFIRE_")}
    env.update({name: str(port) for name, port in ports.items()})
    return env


@pytest.fixture(scope="module")
def serving(scratch: Path, bookkeeping: Path) -> Iterator[tuple[int, dict[str, str]]]:
    port = free_port()
    env = _environment(
        {
            "WEBHOOKS_PORT": free_port(),
            "RECEIVER_PORT": free_port(),
            "README_PORT": port,
            "BACKFILL_PORT": free_port(),
        }
    )
    server_log = bookkeeping / "server.log"
    log = server_log.open("wb")
    process = subprocess.Popen(
        [".venv/bin/ceasefire", "serve", "--port", str(port)],
        cwd=scratch,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, server_log.read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, server_log.read_text()
            time.sleep(0.05)
        yield port, env
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


def _localised(command: str, port: int) -> str:
    return re.sub(r"127\.0\.0\.1:8000\b", f"127.0.0.1:{port}", command)


def _written(scratch: Path) -> set[str]:
    """The files in ``scratch`` that are not copies of tracked ones (the linked ``.venv``
    aside): what the examples wrote."""
    tracked = set(tracked_files(ROOT))
    return {
        str(path.relative_to(scratch))
        for path in scratch.rglob("*")
        if not path.is_dir()
        and path.relative_to(scratch).parts[0] != ".venv"
        and str(path.relative_to(scratch)) not in tracked
    }


def _ignored(paths: set[str]) -> set[str]:
    """Those of ``paths`` that the checkout's ignore rules ignore (``git check-ignore``)."""
    done = subprocess.run(
        ["git", "-C", str(ROOT), "check-ignore", "--no-index", "--stdin", "-z"],
        input="\0".join(sorted(paths)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode in (0, 1), done.stderr  # 1: none of them is ignored
    return set(filter(None, done.stdout.split("\0")))


def test_the_readme_runs_as_written(
    scratch: Path, bookkeeping: Path, serving: tuple[int, dict[str, str]]
) -> None:
    port, env = serving
    state = bookkeeping / "shell-state"
    ran = 0
    for block in parse(README.read_text()):
        if block.language not in SHELLS or block.skipped:
            continue
        for step in block.steps:
            if step.skipped:
                continue
            script = (
                f"set -a\n[ -f {state} ] && . {state}\n"
                f"{_localised(step.command, port)}\n"
                f"status=$?\nexport -p > {state}\nexit $status\n"
            )
            started = time.monotonic()
            done = subprocess.run(
                ["bash", "-c", script],
                cwd=scratch,
                env=env,
                capture_output=True,
                text=True,
                timeout=STEP_SECONDS,
            )
            print(f"{time.monotonic() - started:6.2f}s README.md:{step.line}")
            output = done.stdout + done.stderr
            where = f"README.md:{step.line}: {step.command}\n--- printed ---\n{output}"
            exits = [int(e.split()[1]) for e in step.expected if _EXIT.match(e)]
            assert done.returncode == (exits or [0])[0], f"exit {done.returncode}\n{where}"
            for expected in step.expected:
                if not _EXIT.match(expected):
                    assert matches(expected, output), f"expected {expected!r}\n{where}"
            ran += 1
    assert ran >= 10, ran
    written = _written(scratch)
    assert "backup.ndjson" in written, sorted(written)
    unignored = written - _ignored(written)
    assert not unignored, f"files the README's examples write that .gitignore misses: {unignored}"
