"""The ``Host`` header a client sends is in no answer, on a real server: the Atom feed's links,
the trailing-slash redirect's ``Location`` and a page's ``Link: rel="next"`` are absolute
paths, or start with ``CEASEFIRE_PUBLIC_URL`` when it is set. (So no answer depends on
``Host``, and none needs ``Vary: Host``; a cached feed cannot carry one client's ``Host`` to
the next.)"""

from __future__ import annotations

from collections.abc import Iterator

import feedparser
import httpx
import pytest

from tests.e2e.conftest import Keys, Server, start_server
from tests.e2e.test_polling import agreement, post

FORGED = {"Host": "evil.example"}
PUBLIC = "https://ceasefire.example.org/status"


def _reflects_no_host(response: httpx.Response) -> None:
    answer = "\n".join(f"{k}: {v}" for k, v in response.headers.items()) + response.text
    assert "evil.example" not in answer, answer[:2000]


def _links(response: httpx.Response, url: str) -> dict[str, str]:
    """The feed's links by rel, resolved as a feed reader resolves them."""
    headers = {"content-location": url, "content-type": response.headers["content-type"]}
    feed = feedparser.parse(response.content, response_headers=headers)
    assert feed.bozo == 0, feed.bozo_exception
    return {item.rel: item.href for item in feed.feed.links}


async def test_the_feed_links_to_absolute_paths_whatever_the_host(
    server: Server, keys: Keys, conflict: str
) -> None:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        await post(http, keys, agreement(conflict))
        path = f"/v1/conflicts/{conflict}/feed.atom"
        forged = await http.get(path, headers=FORGED)  # first: it would be the one cached
        assert forged.status_code == 200, forged.text
        plain = await http.get(path)
    for response in (forged, plain):
        _reflects_no_host(response)
        assert f'href="{path}"' in response.text
        assert _links(response, f"{server.base_url}{path}") == {
            "self": f"{server.base_url}{path}",
            "alternate": f"{server.base_url}/conflicts/{conflict}",
        }
        assert "host" not in response.headers.get("vary", "").lower()


@pytest.mark.parametrize(
    ("asked", "location"),
    [
        ("/v1/events/?after=1", "/v1/events?after=1"),
        ("/v1/conflicts/", "/v1/conflicts"),
        ("/healthz/", "/healthz"),
        ("/static", "/static/"),  # (which lists nothing: a 404 once followed)
    ],
)
async def test_the_trailing_slash_redirect_is_an_absolute_path(
    client: httpx.AsyncClient, asked: str, location: str
) -> None:
    response = await client.get(asked, headers=FORGED)
    assert response.status_code == 307, response.text
    assert response.headers["location"] == location
    _reflects_no_host(response)
    followed = await client.get(asked, follow_redirects=True)
    assert followed.status_code == (404 if asked == "/static" else 200), followed.text


async def test_a_path_nothing_matches_either_way_is_still_a_404(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/nothing/", "/static/nothing/", "/v1/conflicts/x/status/y/"):
        response = await client.get(path, headers=FORGED)
        assert response.status_code == 404, (path, response.text)
        _reflects_no_host(response)


@pytest.fixture(scope="module")
def public_server(database_url: str) -> Iterator[Server]:
    with start_server(database_url, public_url=f"{PUBLIC}/") as server:
        yield server


async def test_with_a_public_url_links_start_with_it(
    public_server: Server, keys: Keys, conflict: str
) -> None:
    async with httpx.AsyncClient(base_url=public_server.base_url, timeout=30) as http:
        await post(http, keys, agreement(conflict))
        path = f"/v1/conflicts/{conflict}/feed.atom"
        feed = await http.get(path, headers=FORGED)
        redirect = await http.get("/v1/events/?after=1", headers=FORGED)
        await post(http, keys, agreement(f"{conflict}-2"))  # a second conflict: a next page
        page = await http.get("/v1/conflicts", params={"limit": 1}, headers=FORGED)
        plain = await http.get("/v1/conflicts", params={"limit": 1})
    assert page.status_code == 200, page.text
    assert page.headers["link"].startswith(f"<{PUBLIC}/v1/conflicts?"), page.headers["link"]
    assert 'rel="next"' in page.headers["link"] and "limit=1" in page.headers["link"]
    assert plain.headers["link"] == page.headers["link"]
    _reflects_no_host(page)
    _reflects_no_host(feed)
    assert _links(feed, f"{public_server.base_url}{path}") == {
        "self": f"{PUBLIC}{path}",
        "alternate": f"{PUBLIC}/conflicts/{conflict}",
    }
    assert redirect.status_code == 307
    assert redirect.headers["location"] == f"{PUBLIC}/v1/events?after=1"
    _reflects_no_host(redirect)
