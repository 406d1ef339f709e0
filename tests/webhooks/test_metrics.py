"""``/metrics`` parses with prometheus_client's own parser, and its figures move as a client
appends, reads (200s and 304s apart), long-polls and as the worker delivers a webhook (attempts
and failures by outcome); the dispatcher shows no lag while nothing subscribes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.http.limits import BodyLimit
from app.http.telemetry import RequestTelemetry
from app.main import create_fastapi
from tests.conftest import make_key
from tests.factories import alleged, signed
from tests.webhooks.conftest import Api, fast_settings, running_api
from tests.webhooks.receiver import Receiver, Reply, eventually

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
async def http(database_url: str, admin_key: str) -> AsyncIterator[httpx.AsyncClient]:
    """The whole app in-process (its worker included), request telemetry and all."""
    settings = fast_settings(database_url)
    app = create_fastapi(settings)
    async with app.router.lifespan_context(app):
        wrapped = RequestTelemetry(BodyLimit(app, settings.max_body_bytes), app.state.metrics)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=wrapped),
            base_url="http://api.test",
            headers={"Authorization": f"Bearer {admin_key}"},
        ) as client:
            yield client


async def scrape(http: httpx.AsyncClient) -> Samples:
    response = await http.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def post(http: httpx.AsyncClient, event: Any, status: int) -> None:
    response = await http.post("/v1/events", json=event.model_dump(mode="json"))
    assert response.status_code == status, response.text


async def test_the_figures_move(http: httpx.AsyncClient, receiver: Receiver, conflict: str) -> None:
    before = await scrape(http)
    for name in (
        "ceasefire_long_polls_waiting",
        "ceasefire_streams_open",
        "ceasefire_projection_lag_events",
        "ceasefire_webhook_backlog",
        "ceasefire_webhook_delivery_lag_seconds",
        "ceasefire_webhook_dispatch_lag_events",
    ):
        assert (name, ()) in before, name
    assert ("ceasefire_db_pool_connections", (("state", "in_use"),)) in before

    hook = await http.post("/v1/webhooks", json={"url": receiver.url(), "conflicts": [conflict]})
    assert hook.status_code == 201, hook.text
    agreement = signed(conflict)
    await post(http, agreement, 201)
    await post(http, agreement, 200)  # the same event again: a duplicate
    refused = alleged(conflict, accused="Nobody", agreement_id="cf-1")
    await post(http, refused, 422)  # not a party to the agreement it names: refused
    await post(http, alleged(conflict), 201)

    status = f"/v1/conflicts/{conflict}/status"
    first = await http.get(status)
    tag = first.headers["etag"]
    assert (await http.get(status, headers={"If-None-Match": tag})).status_code == 304

    waiting = asyncio.create_task(
        http.get(status, headers={"If-None-Match": tag, "Prefer": "wait=30"})
    )

    async def one_waiting() -> bool:
        return value(await scrape(http), "ceasefire_long_polls_waiting") >= 1

    await eventually(one_waiting)
    await post(http, alleged(conflict, occurred_at="2022-09-23T05:00:00Z"), 201)
    assert (await waiting).status_code == 200

    async def delivered() -> bool:
        answer = await http.get(
            f"/v1/webhooks/{hook.json()['id']}/deliveries", params={"status": "succeeded"}
        )
        return len(answer.json()["deliveries"]) == 2

    await eventually(delivered)  # both allegations delivered, their outcomes recorded
    after = await scrape(http)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    appends = "ceasefire_appends_total"
    assert moved(appends, type="agreement.signed", outcome="created") == 1
    assert moved(appends, type="agreement.signed", outcome="duplicate") == 1
    assert moved(appends, type="violation.alleged", outcome="refused") == 1
    assert moved(appends, type="violation.alleged", outcome="created") == 2
    assert moved("ceasefire_append_seconds_count", outcome="created") == 3
    reads = "ceasefire_http_requests_total"
    route = "/v1/conflicts/{conflict}/status"
    assert moved(reads, method="GET", route=route, status="200") == 2  # one after the wait
    assert moved(reads, method="GET", route=route, status="304") == 1
    assert moved(reads, method="POST", route="/v1/events", status="201") == 3
    assert moved("ceasefire_webhook_deliveries", status="succeeded") >= 2
    assert moved("ceasefire_webhook_attempts", outcome="succeeded") >= 2
    assert value(after, "ceasefire_long_polls_waiting") == 0
    assert value(after, "ceasefire_projection_lag_events") == 0


def moved_between(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


async def test_no_dispatch_lag_without_subscriptions(
    fresh_database_url: str, receiver: Receiver, conflict: str
) -> None:
    """With no subscription the dispatcher rightly does nothing: the events it has not
    looked at are no lag (the issue saw 17). A subscription starts at the head: no lag either;
    its events count until dispatched."""
    lag = "ceasefire_webhook_dispatch_lag_events"
    admin = await make_key(fresh_database_url, "admin", "metrics")
    async with running_api(fast_settings(fresh_database_url), admin) as api:
        await api.record(signed(conflict))
        await api.record(alleged(conflict))
        samples = await scrape(api.http)
        assert value(samples, "ceasefire_log_head_position") == 2
        assert value(samples, lag) == 0
        await api.subscribe(receiver.url(), conflicts=[conflict])
        assert value(await scrape(api.http), lag) == 0
        await api.record(alleged(conflict, occurred_at="2022-09-23T05:00:00Z"))
        await eventually(lambda: len(receiver.at()) == 1)

        async def caught_up() -> bool:
            return value(await scrape(api.http), lag) == 0

        await eventually(caught_up)


async def test_attempts_and_failures_by_outcome(
    api: Api, receiver: Receiver, conflict: str
) -> None:
    """Every attempt this process's worker sends is counted by outcome; a delivery given up
    is counted once, by its last attempt's outcome."""
    receiver.responders["/down"] = lambda _request, _count: Reply(status=503)
    await api.record(signed(conflict))
    up = await api.subscribe(receiver.url(), conflicts=[conflict])
    down = await api.subscribe(receiver.url("/down"), conflicts=[conflict])
    before = await scrape(api.http)
    await api.record(alleged(conflict))  # what they subscribe to (by default)

    async def settled() -> list[dict[str, Any]] | None:
        sent = await api.deliveries(up["id"], status="succeeded")
        failed = await api.deliveries(down["id"], status="failed")
        return failed if sent and failed else None

    [failed] = await eventually(settled)
    after = await scrape(api.http)
    sent = "ceasefire_webhook_attempts_sent_total"
    given_up = "ceasefire_webhook_deliveries_failed_total"
    assert moved_between(before, after, sent, outcome="succeeded") == 1
    assert moved_between(before, after, sent, outcome="5xx") == len(failed["attempts"]) > 1
    assert moved_between(before, after, given_up, outcome="5xx") == 1
    assert moved_between(before, after, given_up, outcome="succeeded") == 0
