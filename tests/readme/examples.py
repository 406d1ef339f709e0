"""The README's shell examples as steps: each command with the answers it says it prints.

In a ```sh block, a command is a line (with its ``\\`` continuations and any lines an open
quote carries on); the comment lines after it that start with ``# →`` say what it prints
(a ``# →`` line continues on the next comment lines indented by two spaces or more). An
expected answer matches the output when its pieces between ``…`` appear in it in order,
whitespace ignored; ``# → exit N`` says the command ends with status N (0 unless said). Other
comments are prose.

Not every example can run here (``make test`` is the suite itself). A block is left out with an
HTML comment ``<!-- not run: why -->`` on the line before its fence; one command with
``# not run: why`` at the end of its first line. Nothing else is left out.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

__all__ = ["Block", "Step", "matches", "parse"]

_FENCE = re.compile(r"^```(\w*)\s*$")
_SKIP_BLOCK = re.compile(r"^<!--\s*not run:\s*(.+?)\s*-->\s*$")
_SKIP_STEP = re.compile(r"#\s*not run:\s*(\S.*)$")
SHELLS = ("sh", "bash", "shell", "console")


@dataclass
class Step:
    command: str
    line: int
    expected: list[str] = field(default_factory=list)
    skipped: str | None = None


@dataclass
class Block:
    language: str
    line: int
    text: str
    skipped: str | None = None
    steps: list[Step] = field(default_factory=list)


def _complete(command: str) -> bool:
    if command.rstrip().endswith("\\"):
        return False
    try:
        shlex.split(command, comments=True)
    except ValueError:  # an open quote: the command goes on
        return False
    return True


def _steps(lines: list[str], first: int) -> list[Step]:
    steps: list[Step] = []
    i = 0
    while i < len(lines):
        text = lines[i]
        stripped = text.strip()
        if stripped.startswith("#") and steps and stripped.startswith("# →"):
            expected = stripped.removeprefix("# →").strip()
            while i + 1 < len(lines) and re.match(r"^\s*#\s{2,}\S", lines[i + 1]):
                i += 1
                expected += " " + lines[i].strip().removeprefix("#").strip()
            steps[-1].expected.append(expected)
            i += 1
            continue
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        start = i
        command = text
        while not _complete(command) and i + 1 < len(lines):
            i += 1
            command += "\n" + lines[i]
        skip = _SKIP_STEP.search(lines[start])
        steps.append(Step(command, first + start, skipped=skip.group(1) if skip else None))
        i += 1
    return steps


def parse(readme: str) -> list[Block]:
    """Every fenced block of the README, shell blocks split into steps."""
    blocks: list[Block] = []
    lines = readme.splitlines()
    i = 0
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if fence is None:
            i += 1
            continue
        skip = _SKIP_BLOCK.match(lines[i - 1]) if i else None
        start = i + 1
        end = start
        while not lines[end].startswith("```"):
            end += 1
        body = lines[start:end]
        block = Block(fence.group(1), start, "\n".join(body) + "\n", skip and skip.group(1))
        if block.language in SHELLS:
            block.steps = _steps(body, start + 1)
        blocks.append(block)
        i = end + 1
    return blocks


def matches(expected: str, output: str) -> bool:
    """Whether the pieces of ``expected`` between ``…`` appear in ``output`` in order, all
    whitespace ignored."""
    squeezed = re.sub(r"\s+", "", output)
    at = 0
    for piece in re.sub(r"\s+", "", expected).split("…"):
        found = squeezed.find(piece, at)
        if found < 0:
            return False
        at = found + len(piece)
    return True
