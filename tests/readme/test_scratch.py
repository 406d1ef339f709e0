"""The README test's scratch directory holds copies of the tracked files only: a user's own
files beside the checkout (``backup.ndjson``, ``restored.db``…, which the examples also write)
are neither seen nor overwritten, whatever the examples do in the copy."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.readme.scratch import tracked_copy

STRAYS = {
    "backup.ndjson": "the user's own backup\n",
    "since.ndjson": "the user's own export\n",
    "one.ndjson": "the user's own export\n",
    "restored.db": "the user's own database",
    "ceasefire.db": "the user's own database",
}


def _checkout(root: Path) -> None:
    """A git checkout with two tracked files, a ``.venv``, and the user's untracked files."""
    (root / "docs").mkdir(parents=True)
    (root / "README.md").write_text("# read me\n")
    (root / "docs" / "run.sh").write_text("#!/bin/sh\n")
    (root / "docs" / "run.sh").chmod(0o755)
    os.utime(root / "README.md", (1_000_000_000, 1_000_000_000))
    subprocess.run(["git", "init", "-q", str(root)], check=True, timeout=60)
    subprocess.run(["git", "-C", str(root), "add", "README.md", "docs"], check=True, timeout=60)
    for name, content in STRAYS.items():
        (root / name).write_text(content)
    (root / ".venv" / "bin").mkdir(parents=True)
    (root / ".venv" / "bin" / "ceasefire").write_text("#!/bin/sh\n")
    (root / ".venv" / ".installed").write_text("")


def test_only_tracked_files_are_copied_and_the_checkout_is_never_written(tmp_path: Path) -> None:
    root, scratch = tmp_path / "checkout", tmp_path / "scratch"
    _checkout(root)
    scratch.mkdir()

    tracked_copy(root, scratch)

    copied = {
        str(p.relative_to(scratch))
        for p in scratch.rglob("*")
        if p.is_file() and ".venv" not in p.parts
    }
    assert copied == {"README.md", "docs/run.sh"}
    assert not (scratch / "README.md").is_symlink()
    assert (scratch / "README.md").stat().st_mtime == 1_000_000_000  # make sees the same ages
    assert os.access(scratch / "docs" / "run.sh", os.X_OK)
    # What the README's examples do in the copy: write the files of those names, edit one.
    for name in STRAYS:
        (scratch / name).write_text("written by an example\n")
    (scratch / "README.md").write_text("changed in the copy\n")
    (scratch / ".venv" / ".installed").write_text("touched by make in the copy\n")

    for name, content in STRAYS.items():
        assert (root / name).read_text() == content, name
    assert (root / "README.md").read_text() == "# read me\n"
    assert (root / ".venv" / ".installed").read_text() == ""
    # The installed tools are the checkout's.
    assert (scratch / ".venv" / "bin" / "ceasefire").resolve() == (
        root / ".venv" / "bin" / "ceasefire"
    ).resolve()
