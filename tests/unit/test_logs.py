"""Every log line of ours is one line, whatever a value in it holds: the text format writes
control characters as ``\\xNN``, the JSON format as JSON escapes; a traceback keeps its lines."""

from __future__ import annotations

import json
import logging
import sys

from app.logs import JsonFormatter, TextFormatter, escape_controls

HOSTILE = "a\nfake line\r\x1b[31mred\x00\x7f\x9b\u2028b"


def _record(*args: object, exc_info: bool = False) -> logging.LogRecord:
    record = logging.makeLogRecord(
        {"name": "ceasefire.webhooks", "levelno": logging.WARNING, "levelname": "WARNING"}
    )
    record.msg, record.args = "delivery to %s failed: %s", args
    if exc_info:
        record.exc_info = sys.exc_info()
    return record


def test_escape_controls() -> None:
    assert escape_controls(HOSTILE) == ("a\\x0afake line\\x0d\\x1b[31mred\\x00\\x7f\\x9b\\u2028b")
    assert escape_controls(escape_controls(HOSTILE)) == escape_controls(HOSTILE)
    assert escape_controls("plain, ünïcödé \\ text") == "plain, ünïcödé \\ text"


def test_a_text_line_is_one_line_whatever_its_values_hold() -> None:
    line = TextFormatter("%(levelname)s %(name)s: %(message)s").format(
        _record("https://example.org/\x1b[2J", HOSTILE)
    )
    assert line == (
        "WARNING ceasefire.webhooks: delivery to https://example.org/\\x1b[2J failed: "
        + escape_controls(HOSTILE)
    )


def test_a_traceback_keeps_its_lines_after_a_line_of_one() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = _record("x", HOSTILE, exc_info=True)
    first, *rest = TextFormatter("%(message)s").format(record).split("\n")
    assert first == f"delivery to x failed: {escape_controls(HOSTILE)}"
    assert rest[0] == "Traceback (most recent call last):" and rest[-1] == "RuntimeError: boom"


def test_a_json_line_is_one_line_and_says_the_same() -> None:
    line = JsonFormatter().format(_record("x", HOSTILE))
    assert "\n" not in line and "\r" not in line
    for raw in ("\x1b", "\x00", "\x7f", "\x9b", "\u2028"):
        assert raw not in line, repr(raw)
    assert json.loads(line)["message"] == f"delivery to x failed: {HOSTILE}"
