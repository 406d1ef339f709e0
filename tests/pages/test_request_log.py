"""One log line per request with its request id, which the answer carries too; JSON lines
with CEASEFIRE_LOG_FORMAT=json (the ``site`` server of tests/pages/conftest.py)."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Keys, Server


def logged(server: Server, request_id: str) -> dict[str, Any]:
    """The log line of the request with this id, once the server has written it."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for line in server.log().splitlines():
            if request_id in line and line.startswith("{"):
                found: dict[str, Any] = json.loads(line)
                if found.get("request_id") == request_id:
                    return found
        time.sleep(0.05)
    pytest.fail(f"no log line for {request_id}:\n{server.log()}")


def test_each_request_has_an_id_and_one_json_line(site: tuple[Server, Keys]) -> None:
    json_server, _ = site
    mine = httpx.get(
        f"{json_server.base_url}/v1/conflicts/nowhere/status",
        headers={"X-Request-ID": "newsroom-check.42"},
    )
    assert mine.status_code == 404
    assert mine.headers["x-request-id"] == "newsroom-check.42"
    line = logged(json_server, "newsroom-check.42")
    assert line["logger"] == "ceasefire.requests" and line["level"] == "INFO"
    assert line["method"] == "GET" and line["status"] == 404
    assert line["path"] == "/v1/conflicts/nowhere/status"
    assert line["message"].startswith("GET /v1/conflicts/nowhere/status 404 ")
    assert line["message"].endswith("request_id=newsroom-check.42")
    assert line["route"] == "/v1/conflicts/{conflict}/status"
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0

    # No id, or one that is not a plain token: a fresh one is made.
    for sent in ({}, {"X-Request-ID": 'a spaced "id"; with=stuff'}):
        answer = httpx.get(f"{json_server.base_url}/healthz", headers=sent)
        made = answer.headers["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{32}", made), made
        assert logged(json_server, made)["path"] == "/healthz"
    lines = [line for line in json_server.log().splitlines() if '"ceasefire.requests"' in line]
    assert len(lines) == len({json.loads(line)["request_id"] for line in lines})
