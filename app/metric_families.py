"""What an operator graphs: the service's metrics in the Prometheus text format (``/metrics``).

Counters and histograms move as requests are answered (``app.http.telemetry``) and events appended
(``app.api.events``); gauges of things the process holds (long-polls waiting, open streams,
the connection pool) are read when scraped; gauges of what the database holds (webhook
deliveries and their lag, the projections' checkpoint lag) are queried once per scrape. Each
app has its own registry, so several apps in one process (tests) do not mix their figures.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from events.log.store import storage_errors
from projections.jobs import projection_positions

__all__ = ["CONTENT_TYPE", "DeliveryFigures", "FiguresOf", "Metrics"]


class DeliveryFigures(Protocol):
    """What ``/metrics`` shows of the delivery log."""

    @property
    def by_status(self) -> Mapping[str, int]: ...
    @property
    def attempts_succeeded(self) -> int: ...
    @property
    def attempts_failed(self) -> int: ...
    @property
    def due(self) -> int: ...
    @property
    def oldest_pending(self) -> datetime | None: ...
    @property
    def log_head(self) -> int: ...
    @property
    def dispatched(self) -> int: ...


#: Reads the delivery log's figures on a connection, at a time.
FiguresOf = Callable[[AsyncConnection, datetime], Awaitable[DeliveryFigures]]

#: The text format every Prometheus version reads (what generate_latest writes by default:
#: names with underscores only); newer clients' "latest" (1.0.0) older servers refuse.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_LATENCY = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_DELIVERY_STATUSES = ("pending", "succeeded", "failed")


class Metrics:
    def __init__(self) -> None:
        registry = self.registry = CollectorRegistry()
        self.appends = Counter(
            "ceasefire_appends",
            "Events POSTed to /v1/events, by type and outcome: created, duplicate (already "
            "stored, nothing written), refused (a broken rule or a version conflict), failed.",
            ["type", "outcome"],
            registry=registry,
        )
        self.append_seconds = Histogram(
            "ceasefire_append_seconds",
            "Time to append one event (its transaction, projections included), by outcome.",
            ["outcome"],
            buckets=_LATENCY,
            registry=registry,
        )
        self.requests = Counter(
            "ceasefire_http_requests",
            "HTTP requests answered, by method, route template and status (a 304 is counted "
            "apart from a 200).",
            ["method", "route", "status"],
            registry=registry,
        )
        self.request_seconds = Histogram(
            "ceasefire_http_request_seconds",
            "Time from a request's arrival to the end of its answer, by method and route "
            "(a long-poll's wait and a stream's life included).",
            ["method", "route"],
            buckets=_LATENCY,
            registry=registry,
        )

        def gauge(name: str, documentation: str, *labels: str) -> Gauge:
            return Gauge(name, documentation, labels, registry=registry)

        self.long_polls = gauge(
            "ceasefire_long_polls_waiting", "Requests held by Prefer: wait, waiting for a change."
        )
        self.streams = gauge("ceasefire_streams_open", "Open /v1/stream connections.")
        self.pool = gauge(
            "ceasefire_db_pool_connections",
            "Database connections of this process's pool: in_use (checked out), idle, size.",
            "state",
        )
        self.deliveries = gauge(
            "ceasefire_webhook_deliveries",
            "Webhook deliveries in the delivery log, by status.",
            "status",
        )
        self.attempts = gauge(
            "ceasefire_webhook_attempts",
            "Webhook delivery attempts made, by outcome (succeeded: a 2xx; failed: anything else).",
            "outcome",
        )
        self.backlog = gauge(
            "ceasefire_webhook_backlog",
            "Pending deliveries due now (their next attempt time has come).",
        )
        self.delivery_lag = gauge(
            "ceasefire_webhook_delivery_lag_seconds",
            "Age of the oldest pending delivery (0 when none waits).",
        )
        self.dispatch_lag = gauge(
            "ceasefire_webhook_dispatch_lag_events",
            "Events in the log the webhook dispatcher has not yet turned into deliveries.",
        )
        self.projection_lag = gauge(
            "ceasefire_projection_lag_events",
            "Events in the log past the projections' checkpoint (0: up to date).",
        )

    def follow(self, *, waiting: Callable[[], int]) -> None:
        """Read the long-polls waiting from their owner when scraped."""
        self.long_polls.set_function(lambda: float(waiting()))

    async def scrape(self, engine: AsyncEngine, delivery_figures: FiguresOf) -> bytes:
        """The exposition, with the database's gauges read now; ``delivery_figures`` reads the
        delivery log's (``app.webhooks.deliveries``: passed in, so this module, which every
        folder of ``app`` uses, imports none of them)."""
        pool = engine.sync_engine.pool
        in_use = getattr(pool, "checkedout", lambda: 0)()
        self.pool.labels("in_use").set(in_use)
        self.pool.labels("idle").set(getattr(pool, "checkedin", lambda: 0)())
        self.pool.labels("size").set(getattr(pool, "size", lambda: 0)())
        now = datetime.now(UTC)
        with storage_errors():
            async with engine.connect() as conn:
                figures = await delivery_figures(conn, now)
                positions = await projection_positions(conn)
        for status in _DELIVERY_STATUSES:
            self.deliveries.labels(status).set(figures.by_status.get(status, 0))
        self.attempts.labels("succeeded").set(figures.attempts_succeeded)
        self.attempts.labels("failed").set(figures.attempts_failed)
        self.backlog.set(figures.due)
        oldest = figures.oldest_pending
        self.delivery_lag.set(0 if oldest is None else max((now - oldest).total_seconds(), 0))
        self.dispatch_lag.set(max(figures.log_head - figures.dispatched, 0))
        self.projection_lag.set(max(positions.head - positions.position, 0))
        return generate_latest(self.registry)
