"""Progress output: a bar on a terminal, plain throttled lines otherwise."""

from __future__ import annotations

import io

from app.cli.progress import progress_reporter


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_when_not_a_terminal() -> None:
    out = io.StringIO()
    with progress_reporter("replay", stream=out, every=3600) as report:
        report(10, 100)
        report(20, 100)  # within the interval: not printed
        report(100, 100)  # the end is always printed
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("replay: 10/100 events (10%), ")
    assert "events/s" in lines[0] and "left" in lines[0]
    assert lines[1].startswith("replay: 100/100 events (100%)")


def test_a_bar_with_rate_on_a_terminal() -> None:
    out = Terminal()
    with progress_reporter("replay", stream=out) as report:
        report(50, 100)
        report(100, 100)
    text = out.getvalue()
    assert "replay" in text and "100/100" in text and "events/s" in text
