"""Inputs that were 500s (issue 10, case 9), against a real server whose every log line is
kept: an instant with no UTC spelling and NULs are 4xx problems, and no secret or key appears
in the log of ``ceasefire serve`` (its level, its access log). A path cannot forge a log line,
and made-up methods and paths add no series to /metrics (issue 22, items 9 and 10)."""

from __future__ import annotations

import socket
import time
import uuid

import httpx
import pytest

from tests.e2e.conftest import Keys, Server, problem_of

pytestmark = pytest.mark.slow


@pytest.fixture
def talkative(edge_server: Server) -> Server:
    """``ceasefire serve``: its log level (info) and its access log."""
    return edge_server


async def test_500s_of_old_are_problems_and_the_log_keeps_no_secret(
    talkative: Server, keys: Keys, conflict: str
) -> None:
    admin = Keys.header(keys.admin)
    async with httpx.AsyncClient(base_url=talkative.base_url, timeout=30, headers=admin) as http:
        hook = {"url": "http://127.0.0.1:9/hook", "conflicts": [conflict]}
        nul = await http.post("/v1/webhooks", json=hook | {"description": "a\u0000b"})
        assert problem_of(nul, 422, "validation-error")["errors"][0]["loc"] == [
            "body",
            "description",
        ]
        created = await http.post("/v1/webhooks", json=hook | {"description": "newsroom"})
        assert created.status_code == 201, created.text
        secret = created.json()["secret"]
        base = f"/v1/webhooks/{created.json()['id']}"
        try:
            patched = await http.patch(base, json={"description": "x\u0000"})
            problem_of(patched, 422, "validation-error")
            recover = await http.post(
                f"{base}/recover", params={"since": "0001-01-01T00:00:01+01:53"}
            )
            assert problem_of(recover, 422, "validation-error")["errors"][0]["loc"] == [
                "query",
                "since",
            ]
            rotated = (await http.post(f"{base}/rotate-secret")).json()["secret"]
            assert (await http.get(base)).status_code == 200
            wrong = {"Authorization": f"Bearer {keys.admin}x"}
            assert (await http.get(base, headers=wrong)).status_code == 401
            for key in (keys.reader, keys.writer):
                refused = await http.get(base, headers=Keys.header(key))
                assert refused.status_code == 403
        finally:
            await http.delete(base)
    log = talkative.log()
    assert "POST /v1/webhooks" in log  # every request is in it: the check below reads something
    for secret_text in (secret, rotated, keys.admin, keys.writer, keys.reader, "whsec_"):
        assert secret_text not in log, f"{secret_text[:12]}… is in the server's log"


def _raw_request(server: Server, method: str, target: str, request_id: str) -> bytes:
    """One request sent as these bytes (no client library re-encodes the target); the head
    of the answer."""
    host, port = server.base_url.removeprefix("http://").split(":")
    head = (
        f"{method} {target} HTTP/1.1\r\nHost: {host}\r\nX-Request-ID: {request_id}\r\n"
        "Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head.encode("latin-1"))
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer.split(b"\r\n\r\n", 1)[0]


def _line_of(server: Server, request_id: str) -> str:
    """The log line of that request, once the server has written it."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for line in server.log().splitlines():
            if f"request_id={request_id}" in line:
                return line
        time.sleep(0.05)
    pytest.fail(f"no log line for {request_id}:\n{server.log()[-3000:]}")


FORGED = "2026-01-01 00:00:00,000 INFO ceasefire.requests: GET /v1/admin/keys 200"


@pytest.mark.parametrize(
    "target",
    [
        f"/v1/conflicts/x%0a{FORGED.replace(' ', '%20')}/status",
        f"/v1/conflicts/x%0d%0a{FORGED.replace(' ', '%20')}",
        "/v1/conflicts/%1b[2J%1b[31mred/status",  # ANSI: clear the screen, then red
        f"/v1/events?after=%0a{FORGED.replace(' ', '%20')}",
        "/nowhere/%c2%9b31m",  # a C1 control (CSI)
    ],
)
def test_a_path_cannot_forge_a_log_line(talkative: Server, target: str) -> None:
    request_id = f"forge-{uuid.uuid4().hex[:12]}"
    _raw_request(talkative, "GET", target, request_id)
    line = _line_of(talkative, request_id)
    assert line.split(": ", 1)[1].startswith("GET /"), line
    log = talkative.log()
    for control in ("\x1b", "\x9b", "\r"):
        assert control not in log, repr(control)
    assert not any(text.startswith(FORGED[:10]) for text in log.splitlines()), log[-3000:]


def _series(exposition: str) -> set[str]:
    return {
        line.rsplit(" ", 1)[0]
        for line in exposition.splitlines()
        if line.startswith("ceasefire_http_")
    }


#: Methods the HTTP parser lets through (llhttp's list: WebDAV, UPnP...) that no route has.
#: (A server parsing with h11 lets any token through.)
UNKNOWN_METHODS = [
    "COPY",
    "LOCK",
    "MKCOL",
    "MOVE",
    "PROPFIND",
    "PROPPATCH",
    "SEARCH",
    "UNLOCK",
    "BIND",
    "REBIND",
    "UNBIND",
    "ACL",
    "REPORT",
    "MKACTIVITY",
    "CHECKOUT",
    "MERGE",
    "NOTIFY",
    "SUBSCRIBE",
    "UNSUBSCRIBE",
    "PURGE",
    "MKCALENDAR",
    "LINK",
    "UNLINK",
]


async def test_made_up_methods_and_paths_add_no_series(talkative: Server) -> None:
    """Each method the service does not know is labelled ``other``, each path no route
    matches ``unmatched``: a client making them up cannot grow /metrics."""

    async def send(http: httpx.AsyncClient, method: str, n: int) -> None:
        for path in ("/v1/events", f"/made/up/{n}", f"/v1/conflicts/x/made-up-{n}"):
            response = await http.request(method, path)
            assert response.status_code in (404, 405), (method, path, response.status_code)

    async with httpx.AsyncClient(base_url=talkative.base_url, timeout=30) as http:
        for n, method in enumerate(UNKNOWN_METHODS[:2]):  # the labels they get exist now
            await send(http, method, n)
        await http.get("/metrics")  # and those of a scrape
        before = _series((await http.get("/metrics")).text)
        for n, method in enumerate(UNKNOWN_METHODS[2:], start=2):
            await send(http, method, n)
        after = (await http.get("/metrics")).text
    assert _series(after) == before
    assert 'method="other"' in after and 'route="unmatched"' in after
    for method in UNKNOWN_METHODS:
        assert f'method="{method}"' not in after
    assert "/made/up" not in after and "made-up" not in after
