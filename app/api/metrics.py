"""``/metrics``: the service's metrics in the Prometheus text format (``app.metric_families``).

A read like any other: open, or behind a reader key with ``CEASEFIRE_REQUIRE_READ_KEY=true``.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from app.deps import MetricsDep, ReaderKey, StoreDep
from app.http.openapi import OPEN_READ
from app.http.problems import problem_responses
from app.metric_families import CONTENT_TYPE
from app.webhooks.deliveries import delivery_figures

__all__ = ["router"]

router = APIRouter(tags=["health"])

_EXAMPLE = """\
# HELP ceasefire_appends_total Events POSTed to /v1/events, by type and outcome: ...
# TYPE ceasefire_appends_total counter
ceasefire_appends_total{outcome="created",type="violation.alleged"} 42.0
# HELP ceasefire_long_polls_waiting Requests held by Prefer: wait, waiting for a change.
# TYPE ceasefire_long_polls_waiting gauge
ceasefire_long_polls_waiting 3.0
"""


@router.get(
    "/metrics",
    operation_id="get_metrics",
    response_class=Response,
    responses={
        **problem_responses(401, 503),
        200: {
            "description": "Every metric of this process, in the Prometheus text format "
            "(version 0.0.4); the names are listed in the README.",
            "content": {"text/plain": {"schema": {"type": "string"}, "example": _EXAMPLE}},
        },
    },
    summary="Metrics for Prometheus: appends, reads, long-polls, streams, webhooks, lag, "
    "replays, pool, process",
    openapi_extra=OPEN_READ,
)
async def get_metrics(metrics: MetricsDep, store: StoreDep, _key: ReaderKey) -> Response:
    """Counters and histograms of this process since it started; gauges read now (the log's
    head, webhook deliveries, the projections' lag and a replay's progress from the
    database)."""
    body = await metrics.scrape(store.engine, delivery_figures)
    return Response(body, media_type=CONTENT_TYPE)
