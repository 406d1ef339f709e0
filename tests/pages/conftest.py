"""One server for the tests of what people see (the pages, the log lines), on a SQLite database
of its own: they test the pages and the logging, not the storage, so they run once. Beside it,
a second loopback origin that frames the embed (``framer``): the only origin the server's
``CEASEFIRE_EMBED_ORIGINS`` lets frame it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import quoteattr

import pytest

from tests.conftest import make_database
from tests.e2e.conftest import Keys, Server, free_port, make_keys, start_server


class _Framing(BaseHTTPRequestHandler):
    """``/?src=<url>``: a page of another site that frames ``src``."""

    def do_GET(self) -> None:
        src = parse_qs(urlsplit(self.path).query).get("src", ["about:blank"])[0]
        body = (
            "<!doctype html><html lang=en><title>A newsroom</title><link rel=icon href=data:,>"
            f"<iframe id=card title='Ceasefire card' src={quoteattr(src)} width=400 height=240>"
            "</iframe></html>"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def framer() -> Iterator[str]:
    """The base URL of the other site (``http://127.0.0.1:<port>``)."""
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Framing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory, framer: str) -> Iterator[tuple[Server, Keys]]:
    """The server, with JSON log lines (tests/pages/test_request_log.py reads them), whose
    embed the ``framer`` origin may frame."""
    databases = make_database("sqlite", tmp_path_factory.mktemp("page"))
    url = next(databases)
    keys = asyncio.run(make_keys(url))
    with start_server(url, log_format="json", log_requests="true", embed_origins=framer) as server:
        yield server, keys
    databases.close()
