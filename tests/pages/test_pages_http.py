"""What the pages answer over HTTP, on the pages' server: conditional reads like the API's (a
strong ETag, 304 while it is current, the same Cache-Control), a policy that lets only the
embed be framed, and only by ``CEASEFIRE_EMBED_ORIGINS``; problems for bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import SEED
from tests.e2e.conftest import Keys, Server

CONFLICT = "armenia-azerbaijan"


@pytest.fixture(scope="module")
def http(site: tuple[Server, Keys]) -> Iterator[httpx.Client]:
    server, keys = site
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        if client.get(f"/v1/conflicts/{CONFLICT}/status").status_code == 404:
            for line in SEED.read_text().splitlines():
                answer = client.post(
                    "/v1/events", json=json.loads(line), headers=keys.header(keys.writer)
                )
                assert answer.status_code == 201, answer.text
        yield client


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/?q=armenia&sort=name&page=1",
        "/?as_of=2022-09-24T00:00:00Z",
        f"/conflicts/{CONFLICT}",
        f"/conflicts/{CONFLICT}?as_of=2022-09-24T00:00:00Z&known_at=2030-01-01T00:00:00Z",
        f"/embed/conflicts/{CONFLICT}",
    ],
)
def test_a_page_is_a_conditional_read(http: httpx.Client, path: str) -> None:
    first = http.get(path)
    assert first.status_code == 200, first.text
    assert first.headers["content-type"] == "text/html; charset=utf-8"
    tag = first.headers["etag"]
    assert tag.startswith('"p') and first.headers["cache-control"] == "no-cache"
    again = http.get(path, headers={"If-None-Match": tag})
    assert again.status_code == 304, again.text
    assert again.headers["etag"] == tag and again.content == b""


def test_a_page_changes_its_tag_when_its_conflict_changes(
    http: httpx.Client, site: tuple[Server, Keys]
) -> None:
    _, keys = site
    page = http.get(f"/conflicts/{CONFLICT}")
    listed = http.get("/")
    other = {
        "type": "conflict.described",
        "conflict": "pages-http-other",
        "occurred_at": "2024-01-01T00:00:00Z",
        "source": {"name": "test desk"},
        "data": {"title": "Elsewhere", "countries": ["FR"], "region": "Europe"},
    }
    assert http.post("/v1/events", json=other, headers=keys.header(keys.writer)).status_code == 201
    # Another conflict's event: the conflict's page stands, the list (its order) does not.
    assert (
        http.get(
            f"/conflicts/{CONFLICT}", headers={"If-None-Match": page.headers["etag"]}
        ).status_code
        == 304
    )
    assert http.get("/", headers={"If-None-Match": listed.headers["etag"]}).status_code == 200


def test_only_the_embed_may_be_framed_and_only_by_the_origins_set(
    http: httpx.Client, framer: str
) -> None:
    for path in ("/", f"/conflicts/{CONFLICT}"):
        policy = http.get(path).headers["content-security-policy"]
        assert policy.endswith("frame-ancestors 'self'"), policy
    policy = http.get(f"/embed/conflicts/{CONFLICT}").headers["content-security-policy"]
    assert policy.endswith(f"frame-ancestors 'self' {framer}"), policy
    assert "default-src 'self'" in policy


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/conflicts/no-such-conflict", 404),
        ("/embed/conflicts/no-such-conflict", 404),
        ("/conflicts/Not_A_Slug", 422),
        ("/?sort=loudest", 422),
        ("/?page=0", 422),
        ("/?q=" + "x" * 101, 422),
        (f"/conflicts/{CONFLICT}?before=0", 422),
        (f"/conflicts/{CONFLICT}?as_of=yesterday", 422),
    ],
)
def test_bad_input_is_a_problem(http: httpx.Client, path: str, status: int) -> None:
    response = http.get(path)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"


def test_a_search_with_nothing_found_and_a_page_past_the_end(http: httpx.Client) -> None:
    assert "0 conflicts matching" in http.get("/?q=%25_nothing%25").text
    assert 'class="conflict"' not in http.get("/?page=999").text
