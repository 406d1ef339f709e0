"""Fixtures of the webhook tests: a receiver, the app in-process with its worker, fast settings.

Every test here runs with ``LoopbackOnlyBackend`` under the SSRF guard (autouse), so no
delivery can leave the machine. Retry timings are made fast through settings (a schedule of
tenths of a second), never by waiting real minutes.

The webhook tests share a database of their own (``database_url`` is overridden here): any
process running a worker on the suite's shared database (the e2e servers do, with default
settings) would otherwise claim these tests' deliveries too. Within it they keep apart by
subscribing with ``conflicts=[conflict]``; the subscriptions a test makes through ``api`` are
deleted after it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from app.http.limits import BodyLimit
from app.main import create_fastapi
from app.settings import Settings
from app.webhooks import sender as sender_module
from events.log.store import EventStore
from tests.conftest import make_database, make_key
from tests.webhooks.receiver import LoopbackOnlyBackend, Receiver

#: Loopback is what the receiver listens on; the tests let it through the guard.
LOOPBACK = ["127.0.0.0/8", "::1/128"]


def fast_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "webhook_allow_http": True,
        "webhook_allowed_subnets": LOOPBACK,
        "webhook_retry_schedule": [0, 0.05, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1],
        "webhook_retry_jitter": 0,
        "webhook_poll_interval": 0.05,
        "webhook_connect_timeout": 1,
        "webhook_timeout": 3,
        "webhook_lease": 10,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
def database_url(db_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from make_database(db_kind, tmp_path_factory.mktemp(f"webhooks-{db_kind}"))


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> LoopbackOnlyBackend:
    backend = LoopbackOnlyBackend()
    monkeypatch.setattr(sender_module, "network_backend_factory", lambda: backend)
    return backend


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver().start()
    yield running
    running.stop()


@pytest.fixture(scope="session")
async def admin_key(database_url: str) -> str:
    return await make_key(database_url, "admin", "webhook tests")


@dataclass
class Api:
    """The app in-process (with its lifespan, hence its webhook worker) and a client."""

    http: httpx.AsyncClient
    store: EventStore
    settings: Settings
    created: list[str] = field(default_factory=list)

    async def subscribe(self, url: str, **body: Any) -> dict[str, Any]:
        response = await self.http.post("/v1/webhooks", json={"url": url, **body})
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        self.created.append(created["id"])
        return created

    async def deliveries(self, webhook_id: str, **params: Any) -> list[dict[str, Any]]:
        response = await self.http.get(f"/v1/webhooks/{webhook_id}/deliveries", params=params)
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()["deliveries"]
        return found

    async def webhook(self, webhook_id: str) -> dict[str, Any]:
        response = await self.http.get(f"/v1/webhooks/{webhook_id}")
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    async def record(self, event: Any) -> dict[str, Any]:
        """Append one event through ``POST /v1/events``."""
        response = await self.http.post("/v1/events", json=event.model_dump(mode="json"))
        assert response.status_code == 201, response.text
        appended: dict[str, Any] = response.json()
        return appended


@asynccontextmanager
async def running_api(settings: Settings, admin_key: str) -> AsyncIterator[Api]:
    app = create_fastapi(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=BodyLimit(app, settings.max_body_bytes))
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://api.test",
            headers={"Authorization": f"Bearer {admin_key}"},
        ) as http:
            api = Api(http, app.state.store, settings)
            try:
                yield api
            finally:
                for webhook_id in api.created:
                    await http.delete(f"/v1/webhooks/{webhook_id}")


@pytest.fixture
async def api(database_url: str, admin_key: str) -> AsyncIterator[Api]:
    async with running_api(fast_settings(database_url), admin_key) as running:
        yield running


def unique_path() -> str:
    return f"/hook-{uuid.uuid4().hex[:8]}"
