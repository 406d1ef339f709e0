"""The ASGI application: ``create_app(settings)`` builds it, ``app`` is the default one."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp

from app import docs
from app.api import (
    admin,
    conflicts,
    embeds,
    events,
    health,
    keys,
    metrics,
    pages,
    stream,
    webhook_deliveries,
    webhooks,
)
from app.composition import Serving, serving
from app.http import openapi, problems
from app.http.capacity import Gauge, PerClient
from app.http.cross_site import cross_site
from app.http.head_requests import HeadAsGet
from app.http.limits import BodyLimit
from app.http.problems import AnsweredErrors
from app.http.telemetry import RequestTelemetry
from app.logs import configure_logging
from app.metric_families import Metrics
from app.settings import Settings, get_settings
from app.shutdown import ending_on_signal
from events.model.errors import StorageUnavailableError

__all__ = ["create_app"]


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


async def _follow(metrics: Metrics, served: Serving, *, version: str) -> None:
    """Hand ``/metrics`` what it reads from the running process: the long-polls waiting, the
    appends the notifier hears of (every process's), the worker's attempts, the build. The
    log's head at start is where the appends are counted from; unknown (the database is
    away), the first position heard of is."""
    store = served.services.store
    head: int | None = None
    with contextlib.suppress(StorageUnavailableError):
        head = await store.head()
    metrics.follow(
        waiting=lambda: served.conditional.waiting.count,
        version=version,
        database=store.dialect,
        head=head,
    )
    served.notifier.on_publish.append(lambda _conflict, position: metrics.log_reached(position))
    if served.webhooks.worker is not None:
        served.webhooks.worker.on_attempt.append(metrics.attempted)


def create_fastapi(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Built by the composition root (app.composition); the app only holds what it built.
        async with serving(settings, version=app.version) as served:
            app.state.store = served.services.store
            app.state.appender = served.services.appender
            app.state.key_cache = served.key_cache
            app.state.conditional = served.conditional
            app.state.streams = served.streams
            app.state.webhooks = served.webhooks
            app.state.stream_count = Gauge("streams", settings.max_streams)
            app.state.streams_per_client = PerClient("streams", settings.max_streams_per_client)
            await _follow(app.state.metrics, served, version=app.version)
            async with admin.jobs_running(app):
                with ending_on_signal(served.notifier.close):
                    yield

    app = FastAPI(
        title="Ceasefire Status Service",
        version="0.1.0",
        description="An append-only log of what happens around ceasefires, folded into views: "
        "is this ceasefire holding right now, since when, and who accuses whom how often.",
        lifespan=lifespan,
        # Starlette's would build its Location from the Host header: app.http.links answers it.
        redirect_slashes=False,
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
    problems.install(app)
    openapi.install(app, settings)
    # The OpenAPI document lists its tags in openapi_tags' order.
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", pages.static_files(), name="static")
    docs.install(app)
    return app


def create_app(settings: Settings | None = None) -> ASGIApp:
    """The FastAPI app wrapped in the body guard (size, deadline, NULs: it must sit outside
    FastAPI), in HEAD-as-GET, in the guard that keeps a connection open after an answered 500,
    in what other sites may do with the answers (their headers, CORS: around the 500 too), and
    outermost in the request id, log line and HTTP metrics of every request."""
    settings = settings or get_settings()
    configure_logging(settings.log_format)
    fastapi = create_fastapi(settings)
    return RequestTelemetry(
        cross_site(
            AnsweredErrors(
                HeadAsGet(
                    BodyLimit(
                        fastapi,
                        settings.max_body_bytes,
                        timeout=settings.body_timeout.total_seconds(),
                        max_header_bytes=settings.max_header_bytes,
                    )
                )
            ),
            settings,
        ),
        fastapi.state.metrics,
        log_requests=settings.log_requests,
    )
