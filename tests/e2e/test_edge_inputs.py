"""Inputs that were 500s (issue 10, case 9), against a real server whose every log line is
kept: an instant with no UTC spelling and NULs are 4xx problems, and no secret or key appears
in the log of ``ceasefire serve`` (its level, its access log)."""

from __future__ import annotations

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
