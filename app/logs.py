"""The service's log lines: plain text by default, JSON lines with ``CEASEFIRE_LOG_FORMAT=json``.

Every logger of ours is under ``ceasefire`` (``ceasefire.requests``: one line per request,
``ceasefire.webhooks``: one per failed delivery attempt, ``ceasefire.api``: unexpected errors).
One handler on ``ceasefire`` writes them to stderr; they still propagate, so a host's own
logging configuration sees them too.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Literal

__all__ = ["JsonFormatter", "configure_logging"]

_HANDLER = "ceasefire"
#: Attributes every LogRecord has: whatever else a record carries came as ``extra``.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


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
        return json.dumps(line, default=str, ensure_ascii=False)


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
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
