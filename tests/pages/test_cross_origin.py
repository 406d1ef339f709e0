"""Another site's page reading the service in a real browser (headless Chromium): a newsroom's
page served from one loopback origin reads a status (with its ETag, an exposed header) and
follows the stream (``EventSource``) from the service on another, which lists that origin in
``CEASEFIRE_CORS_ORIGINS``; the very same page served from an origin not listed
(``localhost`` instead of ``127.0.0.1``) is refused both by the browser.

Runs once (on SQLite): it tests what the browser is told, not the storage."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from tests.conftest import make_database
from tests.e2e.conftest import Keys, Server, free_port, make_keys, start_server
from tests.e2e.test_polling import agreement
from tests.pages.browser import open_browser

pytestmark = pytest.mark.slow

CONFLICT = "cross-origin-truce"

#: The newsroom's page: it records what it could read in ``window.results``.
NEWSROOM = b"""<!doctype html>
<meta charset="utf-8"><title>A newsroom's page</title>
<script>
window.results = {};
const asked = new URLSearchParams(location.search);
const api = asked.get("api"), slug = asked.get("conflict");
fetch(`${api}/v1/conflicts/${slug}/status`).then(
  async (r) => {
    const body = await r.json();
    window.results.status = {ok: r.ok, conflict: body.conflict, etag: r.headers.get("ETag")};
  },
  (error) => { window.results.status = {error: String(error)}; },
);
const stream = new EventSource(`${api}/v1/stream?conflict=${slug}&after=0`);
stream.addEventListener("agreement.signed", (message) => {
  window.results.stream = {type: JSON.parse(message.data).type, id: message.lastEventId};
  stream.close();
});
stream.onerror = () => {
  if (!window.results.stream) window.results.stream = {error: true};
  stream.close();
};
</script>
"""


class _Newsroom(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(NEWSROOM)))
        self.end_headers()
        self.wfile.write(NEWSROOM)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: pytest shows what a failing test needs."""


@pytest.fixture(scope="module")
def newsroom() -> Iterator[int]:
    """The newsroom's web server on a loopback port of its own; the port."""
    site = ThreadingHTTPServer(("127.0.0.1", free_port()), _Newsroom)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    try:
        yield site.server_address[1]
    finally:
        site.shutdown()
        site.server_close()


@pytest.fixture(scope="module")
def service(
    newsroom: int, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Keys]]:
    """The service on a database of its own, open to the newsroom at 127.0.0.1 only."""
    databases = make_database("sqlite", tmp_path_factory.mktemp("cross-origin"))
    url = next(databases)
    keys = asyncio.run(make_keys(url))
    with start_server(url, cors_origins=f"http://127.0.0.1:{newsroom}") as server:
        response = httpx.post(
            f"{server.base_url}/v1/events",
            json=agreement(CONFLICT),
            headers=keys.header(keys.writer),
            timeout=30,
        )
        assert response.status_code == 201, response.text
        yield server, keys
    databases.close()


def _read_from(host: str, newsroom: int, server: Server) -> dict[str, Any]:
    query = urlencode({"api": server.base_url, "conflict": CONFLICT})
    with open_browser() as browser:
        browser.open(f"http://{host}:{newsroom}/?{query}")
        browser.wait_for("window.results.status && window.results.stream")
        results: dict[str, Any] = browser.evaluate("window.results")
        return results


def test_a_listed_origin_reads_a_status_and_follows_the_stream(
    newsroom: int, service: tuple[Server, Keys]
) -> None:
    server, _ = service
    results = _read_from("127.0.0.1", newsroom, server)
    assert results["status"]["ok"] is True, json.dumps(results)
    assert results["status"]["conflict"] == CONFLICT
    assert results["status"]["etag"], "the ETag is exposed to the page"
    assert results["stream"] == {"type": "agreement.signed", "id": "1"}, json.dumps(results)


def test_an_origin_not_listed_is_refused(newsroom: int, service: tuple[Server, Keys]) -> None:
    server, _ = service
    results = _read_from("localhost", newsroom, server)
    assert "error" in results["status"], json.dumps(results)
    assert results["stream"] == {"error": True}, json.dumps(results)
