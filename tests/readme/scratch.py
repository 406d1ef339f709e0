"""Where the README's examples run: a copy of the repository's tracked files, never the
working tree itself.

A user who followed the README has ``backup.ndjson``, ``restored.db``… of their own beside the
checkout; the examples write files of those names. So the examples get a scratch directory
holding a copy of what ``git ls-files`` lists (a clean clone's files, as edited in the working
tree, modification times kept so ``make`` judges them as in the checkout), and nothing else:
no untracked file is seen, and no write reaches the checkout.

The one thing shared is the environment the README names, ``.venv``: a directory of its own
whose entries (``bin``, ``lib``…) link to the checkout's, so ``.venv/bin/ceasefire`` runs the
installed tool, while ``make``'s marker files (``.venv/.installed``…) are copies that a
``make demo`` in the scratch directory may touch without touching the user's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

__all__ = ["tracked_copy", "tracked_files"]


def tracked_files(root: Path) -> list[str]:
    """The paths git tracks under ``root`` (relative, as git lists them); files deleted in the
    working tree but not yet from the index are left out."""
    listed = subprocess.run(
        ["git", "-C", str(root), "ls-files", "-z", "--cached"],
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout.decode()
    return [path for path in listed.split("\0") if path and os.path.lexists(root / path)]


def tracked_copy(root: Path, into: Path, *, venv: str = ".venv") -> None:
    """Copy ``root``'s tracked files into the empty directory ``into``, and give it a ``venv``
    that runs ``root``'s (see the module's docstring)."""
    for path in tracked_files(root):
        target = into / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / path, target, follow_symlinks=False)
    environment = root / venv
    if environment.is_dir():
        (into / venv).mkdir()
        for entry in environment.iterdir():
            if entry.name.startswith(".") and entry.is_file():
                shutil.copy2(entry, into / venv / entry.name)
            else:
                (into / venv / entry.name).symlink_to(entry)
