"""Dependencies every route shares, as ``Annotated`` aliases: the one way a route reaches the
app's services (so ``dependency_overrides`` reaches every use); a route never reads
``request.app.state`` itself."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.http.capacity import Gauge, PerClient
from app.http.problems import ProblemError
from app.metric_families import Metrics
from app.reads.conditional import ConditionalRead, ConditionalReads
from app.reads.streaming import StreamHub
from app.services.api_keys import ApiKey, KeyCache, Role, find_key
from app.services.appending import Appender
from app.settings import Settings
from app.webhooks.machinery import Webhooks
from app.webhooks.subscriptions import write_transaction
from events.log.store import EventStore, storage_errors
from projections.freshness import snapshot

T = TypeVar("T")

__all__ = [
    "AdminKey",
    "AppenderDep",
    "ConnDep",
    "JsonContent",
    "KeyCacheDep",
    "MetricsDep",
    "ReaderKey",
    "RebuildsDep",
    "SettingsDep",
    "SnapshotDep",
    "StoreDep",
    "StreamCountDep",
    "StreamHubDep",
    "StreamsPerClientDep",
    "WebhooksDep",
    "WriterKey",
    "app_state",
    "authorize",
    "conditional_read",
    "reading",
    "require",
    "writing",
]


def app_state(name: str, kind: type[T]) -> Callable[[Request], Awaitable[T]]:
    """The dependency that hands a route the app's ``name`` service (set up by
    ``app.main``): the one place ``request.app.state`` is read for a route."""

    # ``async def`` although it does not await: FastAPI runs a plain ``def`` dependency in a
    # worker thread, one thread hop per request for each (bench/status.py).
    async def dependency(request: Request) -> T:
        value: T = getattr(request.app.state, name)
        return value

    dependency.__name__ = f"get_{name}"
    return dependency


get_settings = app_state("settings", Settings)
get_store = app_state("store", EventStore)
get_appender = app_state("appender", Appender)
get_metrics = app_state("metrics", Metrics)
get_key_cache = app_state("key_cache", KeyCache)
#: The process's webhook machinery: its sender, and the worker a change wakes.
get_webhooks = app_state("webhooks", Webhooks)
get_stream_hub = app_state("streams", StreamHub)
#: The event streams open in this process, under their cap (``CEASEFIRE_MAX_STREAMS``).
get_stream_count = app_state("stream_count", Gauge)
get_streams_per_client = app_state("streams_per_client", PerClient)
#: The projection rebuilds started by this process (cancelled when it stops).
get_rebuilds: Callable[[Request], Awaitable[set[asyncio.Task[None]]]] = app_state("rebuilds", set)


@asynccontextmanager
async def reading(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A read connection whose driver errors are ours (503, not 500). For a read that must give
    its connection back before the request ends; ``ConnDep`` otherwise."""
    with storage_errors():
        async with engine.connect() as conn:
            yield conn


@asynccontextmanager
async def writing(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A write transaction whose driver errors are ours (503, not 500). Not a dependency: a
    dependency's transaction would commit after the response is sent, so the client, and a
    worker the route wakes, could look before the write is there."""
    with storage_errors():
        async with write_transaction(engine) as conn:
            yield conn


async def get_conn(
    store: Annotated[EventStore, Depends(get_store)],
) -> AsyncIterator[AsyncConnection]:
    """A connection for one request's reads. No transaction is held open across the response."""
    async with reading(store.engine) as conn:
        yield conn


async def get_snapshot(
    store: Annotated[EventStore, Depends(get_store)],
) -> AsyncIterator[AsyncConnection]:
    """A connection for one request's reads that must agree with each other: every statement
    sees one snapshot (``projections.freshness.snapshot``)."""
    with storage_errors():
        async with snapshot(store.engine) as conn:
            yield conn


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[EventStore, Depends(get_store)]
AppenderDep = Annotated[Appender, Depends(get_appender)]
ConnDep = Annotated[AsyncConnection, Depends(get_conn)]
SnapshotDep = Annotated[AsyncConnection, Depends(get_snapshot)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
KeyCacheDep = Annotated[KeyCache, Depends(get_key_cache)]
WebhooksDep = Annotated[Webhooks, Depends(get_webhooks)]
StreamHubDep = Annotated[StreamHub, Depends(get_stream_hub)]
StreamCountDep = Annotated[Gauge, Depends(get_stream_count)]
StreamsPerClientDep = Annotated[PerClient, Depends(get_streams_per_client)]
RebuildsDep = Annotated[set[asyncio.Task[None]], Depends(get_rebuilds)]

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer cfk_…`")


async def authorize(
    request: Request, role: Role, credentials: HTTPAuthorizationCredentials | None
) -> ApiKey | None:
    """The key a request may act with in ``role`` (None: a reader with no key, where none is
    required); 401 or 403 as a problem otherwise."""
    settings: Settings = request.app.state.settings
    if role == "reader" and not settings.require_read_key and credentials is None:
        return None
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ProblemError(
            401,
            "unauthorized",
            "an API key is required: Authorization: Bearer <key>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    cache: KeyCache = request.app.state.key_cache
    key = cache.get(credentials.credentials)
    if key is None:
        async with reading(request.app.state.store.engine) as conn:
            key = await find_key(conn, credentials.credentials)
        if key is not None and key.revoked_at is None:
            cache.put(credentials.credentials, key)
    if key is None or key.revoked_at is not None:
        raise ProblemError(
            401,
            "unauthorized",
            "the API key is unknown or revoked",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    if not key.allows(role):
        raise ProblemError(403, "forbidden", f"this route needs a key with the {role} role")
    return key


def require(role: Role) -> Callable[..., Awaitable[ApiKey | None]]:
    # The app's state is read from the request, not through StoreDep and SettingsDep: each
    # sub-dependency costs FastAPI a solving pass on every request of every route.
    async def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> ApiKey | None:
        return await authorize(request, role, credentials)

    return dependency


async def require_json(request: Request) -> None:
    """A request body must be JSON. Without this check FastAPI hands a form or text body to
    validation as raw bytes and answers a puzzling 422. A body with no Content-Type at all is
    read as JSON, as FastAPI does."""
    content_type = request.headers.get("content-type")
    if content_type is None:
        return
    media = content_type.partition(";")[0].strip().lower()
    if media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    ):
        return
    raise ProblemError(
        415,
        "unsupported-media-type",
        "the request body must be application/json",
        headers={"Accept-Post": "application/json"},
    )


#: Declare it after the key, so a request without a key is a 401 before it is a 415.
JsonContent = Annotated[None, Depends(require_json)]

ReaderKey = Annotated[ApiKey | None, Depends(require("reader"))]
WriterKey = Annotated[ApiKey | None, Depends(require("writer"))]
AdminKey = Annotated[ApiKey | None, Depends(require("admin"))]


async def conditional_read(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ConditionalRead:
    """A conditional read's request, service, settings and reader's key, in one dependency:
    every conditional read needs a reader's key, so its routes do not each declare one beside
    it, and the key is authorised here from the bearer scheme (``authorize``, as ``ReaderKey``
    does), one level of dependencies fewer. The headers are read here rather than declared as
    FastAPI parameters, and the service and settings read from the app's state rather than
    through ``ConditionalDep`` and ``SettingsDep``: every parameter and sub-dependency costs
    FastAPI a validation or solving pass on every request, and these are the reads clients poll
    (bench/status.py). The OpenAPI document still declares both headers on every conditional
    read (``app.http.openapi``)."""
    state = request.app.state
    reads: ConditionalReads = state.conditional
    settings: Settings = state.settings
    key = await authorize(request, "reader", credentials)
    return ConditionalRead(request, reads, request.headers.get("if-none-match"), settings, key)
