"""Deliveries end to end: the app in-process with its worker, a real receiver on loopback."""

from __future__ import annotations

import json
import re
from typing import Any

from cloudevents.core.bindings.http import HTTPMessage, from_http_event
from standardwebhooks.webhooks import Webhook as StandardWebhook

from app.webhooks.signing import verify
from tests.factories import alleged, signed
from tests.webhooks.conftest import Api
from tests.webhooks.receiver import Receiver, Reply, eventually


def assert_verified(secret: str, request: Any) -> dict[str, Any]:
    """Verify with the standardwebhooks package and with our helper; parse with the
    CloudEvents SDK; check the raw keys (the SDK would fill in a missing id or time)."""
    payload: dict[str, Any] = StandardWebhook(secret).verify(request.body, request.headers)
    verify(secret, request.headers, request.body)
    assert request.headers["content-type"] == "application/cloudevents+json"
    assert re.fullmatch(r"msg_[0-9a-f]{32}", request.headers["webhook-id"])
    raw = json.loads(request.body)
    assert set(raw) == {
        "specversion",
        "id",
        "source",
        "type",
        "time",
        "subject",
        "datacontenttype",
        "data",
    }
    event = from_http_event(HTTPMessage(headers=request.headers, body=request.body))
    assert event.get_specversion() == raw["specversion"] == "1.0"
    assert event.get_id() == raw["id"] == raw["data"]["id"]
    assert event.get_type() == raw["type"] == raw["data"]["type"]
    assert event.get_subject() == raw["subject"] == raw["data"]["conflict"]
    assert event.get_datacontenttype() == "application/json"
    assert event.get_data() == raw["data"]
    assert payload == raw
    return raw


async def test_an_allegation_is_delivered_signed_as_a_cloudevent(
    api: Api, receiver: Receiver, conflict: str
) -> None:
    hook = await api.subscribe(receiver.url(), conflicts=[conflict])
    await api.record(signed(conflict))
    appended = await api.record(alleged(conflict))

    [request] = await eventually(lambda: receiver.at())
    raw = assert_verified(hook["secret"], request)
    assert raw["id"] == appended["id"]
    feed = (await api.http.get("/v1/events", params={"after": appended["position"] - 1})).json()
    assert raw["data"] == feed["events"][0]
    assert raw["time"].startswith("2022-09-23T03:40:00")

    [delivery] = await eventually(lambda: api.deliveries(hook["id"], status="succeeded"))
    assert delivery["message_id"] == request.headers["webhook-id"]
    assert delivery["event_type"] == "violation.alleged"
    assert [a["status_code"] for a in delivery["attempts"]] == [204]
    assert len(await api.deliveries(hook["id"])) == 1  # the agreement was not subscribed to


async def test_failing_the_first_three_attempts_the_fourth_arrives_with_the_same_id(
    api: Api, receiver: Receiver, conflict: str
) -> None:
    receiver.responders["/hook"] = lambda _r, n: Reply(500 if n <= 3 else 200)
    hook = await api.subscribe(receiver.url(), conflicts=[conflict])
    await api.record(signed(conflict))
    await api.record(alleged(conflict))

    requests = await eventually(lambda: len(receiver.at()) >= 4 and receiver.at())
    assert len({r.message_id for r in requests}) == 1
    for request in requests:
        assert_verified(hook["secret"], request)
    [delivery] = await eventually(lambda: api.deliveries(hook["id"], status="succeeded"))
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 500, 500, 200]
    assert [a["number"] for a in delivery["attempts"]] == [1, 2, 3, 4]
