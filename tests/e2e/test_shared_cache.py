"""A real shared cache in front of the server: nginx ``proxy_cache`` from Debian's packages, on
loopback, with a configuration of its own (tests/e2e/nginx.py, which bench/scale.py uses too).

Anonymous status reads carry ``public, max-age`` (``CEASEFIRE_CACHE_MAX_AGE``): within it nginx
answers from its store without asking the server; after it nginx revalidates with the stored
ETag (``If-None-Match``) and the server answers 304; a new allegation reaches readers through
the cache on the first revalidation after it, never later."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.e2e.conftest import Keys, Server, start_server
from tests.e2e.nginx import Nginx, nginx_binary, running_nginx
from tests.e2e.replica import tag_position
from tests.e2e.test_polling import agreement, allegation, post

pytestmark = pytest.mark.slow

MAX_AGE = 2


@pytest.fixture(scope="module")
def origin(database_url: str, db_kind: str) -> Iterator[Server]:
    if db_kind != "postgresql" and "postgresql" in os.environ.get(
        "CEASEFIRE_TEST_DATABASES", "sqlite,postgresql"
    ):
        pytest.skip("the cache sees the same HTTP on both databases: run once, on PostgreSQL")
    with start_server(database_url, cache_max_age=str(MAX_AGE)) as server:
        yield server


@pytest.fixture(scope="module")
def nginx(origin: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    if nginx_binary() is None:
        reason = "nginx is not installed (apt-get install nginx; .ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    host_port = origin.base_url.removeprefix("http://")
    with running_nginx(host_port, tmp_path_factory.mktemp("nginx")) as running:
        yield running


@pytest.fixture
async def cached(nginx: Nginx) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=nginx.base_url, timeout=30) as http:
        yield http


async def test_status_reads_are_served_revalidated_and_refreshed_by_nginx(
    nginx: Nginx, origin: Server, cached: httpx.AsyncClient, keys: Keys, conflict: str
) -> None:
    path = f"/v1/conflicts/{conflict}/status"
    async with httpx.AsyncClient(base_url=origin.base_url, timeout=30) as direct:
        signed = await post(direct, keys, agreement(conflict))

        stored_at = time.monotonic()  # no later than nginx stores it
        first = await cached.get(path)
        assert first.status_code == 200, first.text
        assert first.headers["cache-control"] == f"public, max-age={MAX_AGE}"
        assert first.headers["vary"] == "Authorization"
        assert first.headers["x-cache-status"] == "MISS"
        assert tag_position(first.headers["etag"]) == signed["position"]

        # Within max-age: from the cache, the origin not asked.
        again = await cached.get(path)
        if time.monotonic() - stored_at < MAX_AGE:
            assert again.headers["x-cache-status"] == "HIT"
            assert again.content == first.content

        # After it (nginx counts whole seconds): revalidated with the ETag, the origin answers
        # 304, the stored body is used.
        revalidated = await _first_not_from_storage(cached, path, first.headers["etag"])
        assert revalidated.status_code == 200
        assert revalidated.headers["x-cache-status"] == "REVALIDATED"
        assert revalidated.content == first.content
        await _logged(nginx, path, ("REVALIDATED", "304"))

        # A new allegation: readers get it on the first revalidation after it; every answer
        # before that one is the cache's stored copy.
        alleged = await post(direct, keys, allegation(conflict))
        refreshed = await _first_not_from_storage(cached, path, first.headers["etag"])
        assert refreshed.headers["x-cache-status"] == "EXPIRED"  # refetched: a new ETag
        assert tag_position(refreshed.headers["etag"]) == alleged["position"]
        assert refreshed.json()["position"] == alleged["position"]


async def _logged(nginx: Nginx, path: str, entry: tuple[str, str]) -> None:
    """nginx logs a request after answering it: wait for the line."""
    for _ in range(200):
        if entry in nginx.upstream_statuses(path):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"nginx never logged {entry}: {nginx.upstream_statuses(path)}")


async def _first_not_from_storage(
    cached: httpx.AsyncClient, path: str, stored_tag: str
) -> httpx.Response:
    """Read through the cache until an answer is not a stored copy (max-age passed); each
    stored copy on the way must be the one stored before."""
    for _ in range(10 * (MAX_AGE + 2)):
        response = await cached.get(path)
        if response.headers["x-cache-status"] != "HIT":
            return response
        assert response.headers["etag"] == stored_tag
        await asyncio.sleep(0.1)
    raise AssertionError("the cache kept serving its copy past max-age")


async def test_keyed_reads_are_private_and_pinned_views_immutable(
    nginx: Nginx, origin: Server, cached: httpx.AsyncClient, keys: Keys, conflict: str
) -> None:
    path = f"/v1/conflicts/{conflict}/status"
    async with httpx.AsyncClient(base_url=origin.base_url, timeout=30) as direct:
        await post(direct, keys, agreement(conflict))
    keyed = [await cached.get(path, headers=keys.header(keys.reader)) for _ in range(2)]
    for response in keyed:
        assert response.status_code == 200
        assert response.headers["cache-control"] == "private, no-cache"
        assert response.headers["x-cache-status"] == "MISS"  # never stored for others

    # Pinned in both clocks to a settled past: the same bytes for good.
    pinned = {"as_of": "2022-09-20T00:00:00Z", "known_at": "2000-01-01T00:00:00Z"}
    first = await cached.get(path, params=pinned)
    assert first.headers["cache-control"] == "public, max-age=31536000, immutable"
    # Pinned in as_of only: the log may still learn of that time.
    recent = await cached.get(path, params={"as_of": "2022-09-20T00:00:00Z"})
    assert recent.headers["cache-control"] == f"public, max-age={MAX_AGE}"
