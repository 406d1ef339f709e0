"""What an operator graphs: the service's metrics in the Prometheus text format (``/metrics``).

Counters and histograms move as requests are answered (``app.http.telemetry``), events appended
(``app.api.events``), appends heard of (``log_reached``: the process's append notifier, which
hears every process's appends, the CLI's too) and webhook attempts made (``attempted``: the
in-process worker); gauges of things the process holds (long-polls waiting, open streams, the
connection pool) are read when scraped; gauges of what the database holds (the log's head,
webhook deliveries and their lag, the projections' checkpoint lag, a replay's progress) are
queried once per scrape. The process's own figures (``process_*``: CPU, memory, descriptors)
come from prometheus_client's collector. Each app has its own registry, so several apps in one
process (tests) do not mix their figures.
"""

from __future__ import annotations

import platform
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Protocol

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    ProcessCollector,
)
from prometheus_client.exposition import generate_latest
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from events.log.store import storage_errors
from projections.jobs import STALE_AFTER, Job, projection_positions

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
#: A long-poll waits up to 60 s (``Prefer: wait``'s cap, ``app.reads.entity_tags.MAX_WAIT``).
_WAIT = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 45.0, 60.0, 65.0)
#: A stream lives as long as its reader keeps it: seconds to a day.
_LIFE = (1.0, 10.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 4 * 3600.0, 12 * 3600.0, 86400.0)
_DELIVERY_STATUSES = ("pending", "succeeded", "failed")


class Metrics:
    def __init__(self) -> None:
        registry = self.registry = CollectorRegistry()
        self.appends = Counter(
            "ceasefire_appends",
            "Events POSTed to this process's /v1/events, by type and outcome: created, "
            "duplicate (already stored, nothing written), refused (a broken rule or a version "
            "conflict), failed. Every process's appends, the CLI's too: "
            "ceasefire_log_appended_events_total.",
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
            "Time from a request's arrival to the end of its answer, by method and route; "
            "long-polls that waited and streams are timed apart (ceasefire_http_long_poll_"
            "seconds, ceasefire_http_stream_seconds).",
            ["method", "route"],
            buckets=_LATENCY,
            registry=registry,
        )
        self.long_poll_seconds = Histogram(
            "ceasefire_http_long_poll_seconds",
            "Time from arrival to answer of the requests that waited (Prefer: wait, answered "
            "with Preference-Applied), by method and route: the wait and the answer.",
            ["method", "route"],
            buckets=_WAIT,
            registry=registry,
        )
        self.stream_seconds = Histogram(
            "ceasefire_http_stream_seconds",
            "Life of a text/event-stream answer (/v1/stream), from arrival to close, by "
            "method and route.",
            ["method", "route"],
            buckets=_LIFE,
            registry=registry,
        )
        self.log_appended = Counter(
            "ceasefire_log_appended_events",
            "Events appended to the log since this process started, by any process (this "
            "one's API, the CLI, other servers): the head's advance as the append "
            "notifications and each scrape find it. Every process counts every append: "
            "take the max across processes, not the sum.",
            registry=registry,
        )
        self.attempts_sent = Counter(
            "ceasefire_webhook_attempts_sent",
            "Webhook delivery attempts this process's worker made, by outcome: succeeded "
            "(2xx), 3xx, 4xx, 5xx, other (a status outside 100-599), timeout, error (no "
            "answer: refused, reset, a malformed answer).",
            ["outcome"],
            registry=registry,
        )
        self.deliveries_failed = Counter(
            "ceasefire_webhook_deliveries_failed",
            "Deliveries this process's worker gave up on (no attempt left in the schedule), "
            "by the outcome of their last attempt (as ceasefire_webhook_attempts_sent_total).",
            ["outcome"],
            registry=registry,
        )
        self.build = Info(
            "ceasefire_build",
            "What this process runs: the service's version, Python's, and the database kind "
            "(sqlite, postgresql).",
            registry=registry,
        )
        ProcessCollector(registry=registry)
        #: The newest log position heard of; None until the first is (``log_reached``).
        self._head_heard: int | None = None

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
            "Webhook delivery attempts in the delivery log, by every worker, by outcome "
            "(succeeded: a 2xx; failed: anything else).",
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
        self.log_head = gauge(
            "ceasefire_log_head_position",
            "Position of the newest event in the log (every process's appends, the CLI's too).",
        )
        self.replay_folded = gauge(
            "ceasefire_replay_folded_events",
            "Events the projection job running now (a rebuild or a verify, from the API or the "
            "CLI) has folded, as its last heartbeat said; no sample when none runs.",
            "kind",
        )
        self.replay_total = gauge(
            "ceasefire_replay_total_events",
            "Events the projection job running now folds up to (the log's head as it last "
            "looked); no sample when none runs.",
            "kind",
        )

    def follow(
        self,
        *,
        waiting: Callable[[], int],
        version: str,
        database: str,
        head: int | None,
    ) -> None:
        """Read the long-polls waiting from their owner when scraped; say what the process
        runs; count appends from ``head`` (None when the log could not be read at start: then
        from the first position heard of)."""
        self.long_polls.set_function(lambda: float(waiting()))
        self.build.info(
            {"version": version, "python": platform.python_version(), "database": database}
        )
        self._head_heard = head

    def log_reached(self, position: int) -> None:
        """The log's head is at ``position`` or further: count the events since the last
        position heard of. Fed by the append notifier (which may hear one append twice, and
        others' out of order) and by each scrape, so only the advance counts."""
        heard = self._head_heard
        if heard is None:
            self._head_heard = position
        elif position > heard:
            self._head_heard = position
            self.log_appended.inc(position - heard)

    def attempted(self, outcome: str, status: str) -> None:
        """A webhook attempt ended with ``outcome`` (``app.webhooks.retry.Outcome.kind``),
        leaving its delivery ``status``."""
        self.attempts_sent.labels(outcome).inc()
        if status == "failed":
            self.deliveries_failed.labels(outcome).inc()

    def _replay_progress(self, running: Job | None, now: datetime) -> None:
        """The running projection job's progress; none for a job gone silent (its process
        died: the next start marks it abandoned)."""
        self.replay_folded.clear()
        self.replay_total.clear()
        if running is not None and now - running.updated_at < STALE_AFTER:
            self.replay_folded.labels(running.kind).set(running.done)
            self.replay_total.labels(running.kind).set(running.total)

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
        self.log_head.set(positions.head)
        self.log_reached(positions.head)
        self._replay_progress(positions.running, now)
        return generate_latest(self.registry)
