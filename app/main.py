"""The ASGI application: ``create_app(settings)`` builds it, ``app`` is the default one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp

from app import docs, openapi, problems
from app.api import (
    admin,
    conflicts,
    embeds,
    events,
    health,
    keys,
    metrics,
    stream,
    webhook_deliveries,
    webhooks,
)
from app.capacity import Gauge
from app.composition import build
from app.conditional import CachePolicy, ConditionalReads
from app.direct import DirectDoor
from app.head import HeadAsGet
from app.keys import KEYS_CHANNEL, KeyCache
from app.limits import BodyLimit
from app.logs import configure_logging
from app.metrics import Metrics
from app.pages import routes as pages
from app.problems import AnsweredErrors
from app.settings import Settings, get_settings
from app.shutdown import ending_on_signal
from app.streaming import StreamHub
from app.telemetry import RequestTelemetry
from app.webhooks.worker import running as webhooks_running
from app.webhooks.worker import webhooks_of
from events.database import create_engine
from events.heads import Heads
from events.notifications import AppendNotifier, start_listener
from events.routing import ReadDatabase, ReadRouter

__all__ = ["create_app"]


def read_router(engine: AsyncEngine, settings: Settings, *, heads_pool_size: int = 4) -> ReadRouter:
    """Reads go to the hot standbys of ``CEASEFIRE_READ_DATABASE_URL`` when there are any
    (``events.routing``), to the primary's ``engine`` otherwise. ``heads_pool_size``: the
    primary's head lookups' share of the process's connection budget (``app.composition``)."""
    replicas = []
    for url in settings.read_database_url:
        replica = create_engine(url, pool_size=settings.pool_size)
        replicas.append(ReadDatabase(replica, Heads(replica), is_primary=False))
    return ReadRouter(
        ReadDatabase(engine, Heads(engine, pool_size=heads_pool_size), is_primary=True),
        replicas,
        catch_up=settings.replica_catch_up.total_seconds(),
        retry=settings.replica_retry.total_seconds(),
    )


#: The app's routers, in the order FastAPI tries them: the polled reads first, then appends.
#: This FastAPI matches a request against each included router in turn, at tens of microseconds
#: a router (a fifth of a status poll's time when its router came third).
ROUTERS = (
    conflicts.router,
    events.router,
    stream.router,
    health.router,
    webhooks.router,
    webhook_deliveries.router,
    admin.router,
    keys.router,
    embeds.router,
    metrics.router,
    pages.router,
)


def create_fastapi(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        built = build(settings)
        engine = built.store.engine
        app.state.store, app.state.appender = built.store, built.appender
        notifier = AppendNotifier()
        app.state.store.on_append.append(notifier.publish)
        app.state.conditional = ConditionalReads(
            notifier,
            read_router(engine, settings, heads_pool_size=built.budget.heads),
            cache_bytes=settings.representation_cache_bytes,
            salt_from=f"{app.version}|{settings.contested_window.total_seconds()}",
            max_waiting=settings.max_long_polls,
            policy=CachePolicy(settings.cache_max_age, settings.cache_stale_while_revalidate),
            immutable_after=settings.cache_immutable_after,
        )
        webhooks = webhooks_of(built.store, settings)
        # The process's one listening connection, for every channel it listens on.
        channels = {KEYS_CHANNEL: app.state.key_cache.on_revoked}
        if webhooks.worker is not None:
            channels.update(webhooks.worker.channels())
        app.state.streams = StreamHub(
            app.state.conditional.router, notifier, buffer_bytes=settings.stream_buffer_bytes
        )
        app.state.stream_count = Gauge("streams", settings.max_streams)
        app.state.metrics.follow(waiting=lambda: app.state.conditional.waiting.count)
        listener = await start_listener(
            engine, notifier, sqlite_poll=settings.sqlite_notify_poll, channels=channels
        )
        try:
            async with (
                webhooks_running(webhooks) as app.state.webhooks,
                admin.jobs_running(app),
            ):
                with ending_on_signal(notifier.close):
                    yield
        finally:
            notifier.close()
            await app.state.conditional.router.close()
            await listener.stop()
            await app.state.store.close()

    app = FastAPI(
        title="Ceasefire Status Service",
        version="0.1.0",
        description="An append-only log of what happens around ceasefires, folded into views: "
        "is this ceasefire holding right now, since when, and who accuses whom how often.",
        lifespan=lifespan,
        # Served by app.docs from installed files, not from a CDN.
        docs_url=None,
        redoc_url=None,
        openapi_tags=[
            {"name": "health", "description": "Liveness and readiness."},
            {"name": "events", "description": "The log: append, read, follow live."},
            {"name": "conflicts", "description": "Views folded from the log, at any time."},
            {"name": "webhooks", "description": "Signed deliveries of new events."},
            {"name": "admin", "description": "Projections and their rebuilds; API keys."},
        ],
    )
    app.state.settings = settings
    app.state.metrics = Metrics()
    app.state.key_cache = KeyCache(settings.key_cache_seconds)
    problems.install(app)
    openapi.install(app, settings)
    # The OpenAPI document lists its tags in openapi_tags' order.
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", pages.static_files(), name="static")
    docs.install(app)
    return app


def create_app(settings: Settings | None = None) -> ASGIApp:
    """The whole app behind the door of the routes answered directly (``app.direct``),
    wrapped in the body guard (size, deadline, NULs: it must sit outside
    FastAPI), in HEAD-as-GET, in the guard that keeps a connection open after an answered 500,
    and outermost in the request id, log line and HTTP metrics of every request."""
    settings = settings or get_settings()
    configure_logging(settings.log_format)
    fastapi = create_fastapi(settings)
    return RequestTelemetry(
        AnsweredErrors(
            HeadAsGet(
                BodyLimit(
                    DirectDoor(fastapi, ROUTERS),
                    settings.max_body_bytes,
                    timeout=settings.body_timeout.total_seconds(),
                )
            )
        ),
        fastapi.state.metrics,
        log_requests=settings.log_requests,
    )
