"""The service's log lines: plain text by default, JSON lines with ``CEASEFIRE_LOG_FORMAT=json``.

Every logger of ours is under ``ceasefire`` (``ceasefire.requests``: one line per request,
``ceasefire.webhooks``: one per failed delivery attempt, ``ceasefire.api``: unexpected errors).
One handler on ``ceasefire`` writes them to stderr; they still propagate, so a host's own
logging configuration sees them too.

A line is one line: whatever a client or a receiver sent (a path with ``%0a``, an ANSI escape
``%1b``) cannot forge another or drive the terminal that shows it. The text format writes each
control character of a message as ``\\xNN`` (``escape_controls``); the JSON format escapes
them as JSON does (``\\u001b``), C1 controls and line separators included.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Literal

__all__ = ["JsonFormatter", "TextFormatter", "configure_logging", "escape_controls"]

_HANDLER = "ceasefire"
#: Attributes every LogRecord has: whatever else a record carries came as ``extra``.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
#: What a terminal or a log reader may take for a line break or a command: the C0 controls,
#: DEL, the C1 controls, and the Unicode line and paragraph separators.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
#: What ``json.dumps(..., ensure_ascii=False)`` leaves as it is among those.
_RAW_IN_JSON = re.compile("[\x7f-\x9f\u2028\u2029]")


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    """``text`` on one line: each control character written as ``\\xNN`` (``\\u2028`` for
    the line separators). Text without them comes back as it is, so escaping twice is
    escaping once."""
    return _CONTROLS.sub(_escaped, text)


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message``, the message (and its arguments) on one line; a
    traceback, which the service writes itself, keeps its lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return escape_controls(super().formatMessage(record))


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, and the record's extras
    (``request_id``, ``status``…) as fields of their own."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        text = json.dumps(line, default=str, ensure_ascii=False)
        return _RAW_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def configure_logging(log_format: Literal["text", "json"]) -> None:
    """Install (or replace) the one handler of the ``ceasefire`` loggers, at INFO."""
    logger = logging.getLogger("ceasefire")
    for handler in [h for h in logger.handlers if h.get_name() == _HANDLER]:
        logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER)
    handler.setFormatter(
        JsonFormatter()
        if log_format == "json"
        else TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
