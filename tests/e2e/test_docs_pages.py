"""``/docs`` (Swagger UI) and ``/redoc`` render in a real browser with the network limited to
the app: every request the pages make goes to the server, none fails, no console error.
Once, on SQLite (the session's shared server): the pages are files over ``/openapi.json``."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Server
from tests.pages.browser import open_browser

pytestmark = pytest.mark.slow


#: Each page, and a script that is truthy once it has rendered the document.
PAGES = {
    # Swagger UI: one block per operation.
    "/docs": "document.querySelectorAll('.opblock').length >= 20",
    # ReDoc: the menu lists the operations by summary.
    "/redoc": "document.body.innerText.includes('Record an event')",
}


def test_the_docs_render_offline(server: Server, db_kind: str) -> None:
    if db_kind != "sqlite":
        pytest.skip("the docs pages are the same files on every database: checked on SQLite")
    with open_browser() as browser:
        for path, rendered in PAGES.items():
            browser.open(f"{server.base_url}{path}")
            browser.wait_for(rendered, timeout=60)
        elsewhere = [
            url
            for url in browser.requests
            if not url.startswith((server.base_url, "data:", "blob:"))
        ]
        assert elsewhere == []
        assert browser.errors == []
        assert sum(url.endswith("/openapi.json") for url in browser.requests) == 2
