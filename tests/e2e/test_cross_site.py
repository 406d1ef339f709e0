"""Every kind of answer a real server gives carries ``X-Content-Type-Options: nosniff`` and
``Referrer-Policy`` (``app.http.cross_site``): the page, a view and its 304, the badge, the
feed, the stream, metrics, health, a problem, a redirect. Without ``CEASEFIRE_CORS_ORIGINS``
(the shared server's default) a preflight is refused as before (405) and no answer allows
another origin."""

from __future__ import annotations

import httpx

from tests.e2e.conftest import Keys, Server
from tests.e2e.test_polling import agreement, post


def _checked(response: httpx.Response) -> None:
    where = f"{response.request.method} {response.request.url} -> {response.status_code}"
    assert response.headers.get("x-content-type-options") == "nosniff", where
    assert response.headers.get("referrer-policy") == "no-referrer", where
    assert "access-control-allow-origin" not in response.headers, where


async def test_every_kind_of_answer_says_nosniff_and_no_referrer(
    server: Server, keys: Keys, conflict: str
) -> None:
    origin = {"Origin": "https://news.example"}
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30, headers=origin) as http:
        await post(http, keys, agreement(conflict))
        status = await http.get(f"/v1/conflicts/{conflict}/status")
        not_modified = await http.get(
            f"/v1/conflicts/{conflict}/status", headers={"If-None-Match": status.headers["etag"]}
        )
        assert not_modified.status_code == 304
        answers = [
            status,
            not_modified,
            await http.get("/"),
            await http.get(f"/v1/conflicts/{conflict}/badge.svg"),
            await http.get(f"/v1/conflicts/{conflict}/feed.atom"),
            await http.get("/metrics"),
            await http.get("/healthz"),
            await http.get("/v1/conflicts/no-such-conflict/status"),
            await http.get("/v1/events/"),  # the trailing-slash redirect
            await http.head(f"/v1/conflicts/{conflict}/status"),
            await http.options(
                f"/v1/conflicts/{conflict}/status",
                headers={"Access-Control-Request-Method": "GET"},
            ),
        ]
        async with http.stream("GET", "/v1/stream", params={"conflict": conflict}) as stream:
            answers.append(stream)
    assert answers[-2].status_code == 405  # no CORS configured: the preflight is refused
    for response in answers:
        _checked(response)
