"""One server for the tests of what people see (the page, the log lines), on a SQLite database
of its own: they test the page and the logging, not the storage, so they run once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.conftest import make_database
from tests.e2e.conftest import Keys, Server, make_keys, start_server


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Keys]]:
    """The server, with JSON log lines (tests/pages/test_request_log.py reads them)."""
    databases = make_database("sqlite", tmp_path_factory.mktemp("page"))
    url = next(databases)
    keys = asyncio.run(make_keys(url))
    with start_server(url, log_format="json", log_requests="true") as server:
        yield server, keys
    databases.close()
