"""Deliveries end to end: the app in-process with its worker, a real receiver on loopback."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cloudevents.core.bindings.http import HTTPMessage, from_http_event
from standardwebhooks.webhooks import Webhook as StandardWebhook
from standardwebhooks.webhooks import WebhookVerificationError

from app.webhooks.signing import verify
from tests.factories import alleged, dispatched, signed
from tests.webhooks.conftest import Api, fast_settings, running_api
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
    assert raw["source"] == "/v1/events"  # no CEASEFIRE_PUBLIC_URL: a path
    feed = (await api.http.get("/v1/events", params={"after": appended["position"] - 1})).json()
    # The event as the feed shows it, less what only an admin's view adds (who appended it).
    shown = {k: v for k, v in feed["events"][0].items() if k != "key_id"}
    assert raw["data"] == shown
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


async def test_a_receiver_down_for_a_while_gets_the_whole_backlog_once_back(
    database_url: str, admin_key: str, receiver: Receiver, conflict: str
) -> None:
    # About 20 s of attempts: enough that a loaded machine cannot exhaust them before the
    # receiver is back, and the first ones close together so the test does not wait long.
    settings = fast_settings(
        database_url, webhook_retry_schedule=[0, 0.1, 0.2, 0.3, 0.5, 0.5, 1, 1, 1, 1, 1, 1, 4, 4, 4]
    )
    async with running_api(settings, admin_key) as api:
        hook = await api.subscribe(receiver.url(), conflicts=[conflict])
        receiver.stop()  # connections to its port are refused from now on
        await api.record(signed(conflict))
        appended = [await api.record(alleged(conflict, incidents=i + 1)) for i in range(10)]

        async def all_failed_twice() -> bool:
            found = await api.deliveries(hook["id"])
            return len(found) == 10 and all(len(d["attempts"]) >= 2 for d in found)

        await eventually(all_failed_twice)
        for delivery in await api.deliveries(hook["id"]):
            assert delivery["status"] == "pending"
            assert all(a["status_code"] is None and a["error"] for a in delivery["attempts"])
        receiver.start()  # back, on the same port

        await eventually(lambda: len({r.message_id for r in receiver.at()}) == 10)
        ids = {json.loads(r.body)["id"] for r in receiver.at()}
        assert ids == {a["id"] for a in appended}
        for request in receiver.at():
            assert_verified(hook["secret"], request)
        await eventually(
            lambda: _count(api.deliveries(hook["id"], status="succeeded"), 10), within=10
        )


async def _count(found: Any, expected: int) -> bool:
    return len(await found) == expected


async def test_rotation_sends_both_signatures_until_the_old_secret_expires(
    database_url: str, admin_key: str, receiver: Receiver, conflict: str
) -> None:
    # The first delivery must land inside the overlap, on a loaded machine too: 5 s.
    settings = fast_settings(database_url, webhook_secret_overlap=5)
    async with running_api(settings, admin_key) as api:
        hook = await api.subscribe(receiver.url(), conflicts=[conflict])
        old = hook["secret"]
        rotated = (await api.http.post(f"/v1/webhooks/{hook['id']}/rotate-secret")).json()
        new = rotated["secret"]
        assert new != old and new.startswith("whsec_")
        await api.record(signed(conflict))
        await api.record(alleged(conflict))

        [first] = await eventually(lambda: receiver.at())
        signatures = first.headers["webhook-signature"].split(" ")
        assert len(signatures) == 2 and all(s.startswith("v1,") for s in signatures)
        assert_verified(old, first)
        assert_verified(new, first)

        await eventually(
            lambda: (
                datetime.now(UTC) > datetime.fromisoformat(rotated["previous_secret_expires_at"])
            )
        )
        await api.record(alleged(conflict, incidents=2))
        second = (await eventually(lambda: len(receiver.at()) == 2 and receiver.at()))[1]
        assert len(second.headers["webhook-signature"].split(" ")) == 1
        assert_verified(new, second)
        with pytest.raises(WebhookVerificationError):
            StandardWebhook(old).verify(second.body, second.headers)


async def test_410_gone_disables_the_endpoint_and_re_enabling_resumes_it(
    api: Api, receiver: Receiver, conflict: str
) -> None:
    gone = True
    receiver.responders["/hook"] = lambda _r, _n: Reply(410 if gone else 204)
    hook = await api.subscribe(receiver.url(), conflicts=[conflict])
    await api.record(signed(conflict))
    await api.record(alleged(conflict))

    disabled = await eventually(lambda: _when(api.webhook(hook["id"]), lambda w: not w["enabled"]))
    assert "410" in disabled["disabled_reason"]
    [delivery] = await api.deliveries(hook["id"])
    assert delivery["status"] == "pending"
    assert [a["status_code"] for a in delivery["attempts"]] == [410]
    await api.record(alleged(conflict, incidents=2))  # recorded while disabled: waits

    gone = False
    response = await api.http.patch(f"/v1/webhooks/{hook['id']}", json={"enabled": True})
    assert response.status_code == 200 and response.json()["disabled_reason"] is None
    await eventually(lambda: _count(api.deliveries(hook["id"], status="succeeded"), 2))
    assert len({r.message_id for r in receiver.at()}) == 2


async def _when(found: Any, test: Any) -> Any:
    value = await found
    return value if test(value) else None


async def test_an_endpoint_failing_every_attempt_for_the_set_time_is_disabled(
    database_url: str, admin_key: str, receiver: Receiver, conflict: str
) -> None:
    settings = fast_settings(
        database_url,
        webhook_disable_after=0.3,
        webhook_retry_schedule=[0] + [0.1] * 20,
    )
    receiver.responders["/hook"] = lambda _r, _n: Reply(503)
    async with running_api(settings, admin_key) as api:
        hook = await api.subscribe(receiver.url(), conflicts=[conflict])
        await api.record(signed(conflict))
        await api.record(alleged(conflict))
        disabled = await eventually(
            lambda: _when(api.webhook(hook["id"]), lambda w: not w["enabled"])
        )
        assert disabled["disabled_reason"].startswith("every attempt has failed since")
        [delivery] = await api.deliveries(hook["id"])
        # Disabled only once failures span the set time, never on the first failure; how
        # many attempts fit in that span depends on the worker's pace, so count none.
        attempts = delivery["attempts"]
        assert delivery["status"] == "pending" and len(attempts) >= 2
        first, last = (datetime.fromisoformat(a["at"]) for a in (attempts[0], attempts[-1]))
        ended = last + timedelta(milliseconds=attempts[-1]["latency_ms"])
        assert ended - first >= timedelta(seconds=0.3)

        receiver.responders["/hook"] = lambda _r, _n: Reply(200)
        await api.http.patch(f"/v1/webhooks/{hook['id']}", json={"enabled": True})
        [done] = await eventually(lambda: api.deliveries(hook["id"], status="succeeded"))
        assert done["attempts"][-1]["status_code"] == 200


async def test_retry_after_is_honoured(
    database_url: str, admin_key: str, receiver: Receiver, conflict: str
) -> None:
    # Retry-After is capped at the schedule's longest delay: 2 s here.
    settings = fast_settings(database_url, webhook_retry_schedule=[0, 0.05, 2])
    receiver.responders["/hook"] = lambda _r, n: Reply(
        503 if n == 1 else 200, headers={"Retry-After": "1"}
    )
    async with running_api(settings, admin_key) as api:
        hook = await api.subscribe(receiver.url(), conflicts=[conflict])
        await api.record(signed(conflict))
        await api.record(alleged(conflict))

        [waiting] = await eventually(
            lambda: _when(api.deliveries(hook["id"]), lambda d: d and d[0]["attempts"] and d)
        )
        first = datetime.fromisoformat(waiting["attempts"][0]["at"])
        scheduled = datetime.fromisoformat(waiting["next_attempt_at"])
        assert scheduled - first >= timedelta(seconds=1)  # the schedule alone said 0.05 s
        await eventually(lambda: len(receiver.at()) == 2)
        assert receiver.at()[1].at - receiver.at()[0].at >= 0.9


async def test_after_the_last_attempt_it_is_failed_and_kept_then_retry_and_recover(
    database_url: str, admin_key: str, receiver: Receiver, conflict: str
) -> None:
    settings = fast_settings(database_url, webhook_retry_schedule=[0, 0.05, 0.05])
    receiver.responders["/hook"] = lambda _r, _n: Reply(500, body=b"no thanks")
    async with running_api(settings, admin_key) as api:
        hook = await api.subscribe(receiver.url(), conflicts=[conflict])
        await api.record(signed(conflict))
        for i in range(3):
            await api.record(alleged(conflict, incidents=i + 1))
        failed = await eventually(
            lambda: _when(api.deliveries(hook["id"], status="failed"), lambda d: len(d) == 3 and d)
        )
        for delivery in failed:
            assert [a["status_code"] for a in delivery["attempts"]] == [500, 500, 500]
            assert delivery["attempts"][0]["response"] == "no thanks"
            assert delivery["next_attempt_at"] is None

        receiver.responders["/hook"] = lambda _r, _n: Reply(200)
        one = failed[0]
        response = await api.http.post(f"/v1/webhooks/{hook['id']}/deliveries/{one['id']}/retry")
        assert response.status_code == 202
        [done] = await eventually(lambda: api.deliveries(hook["id"], status="succeeded"))
        assert done["id"] == one["id"] and len(done["attempts"]) == 4
        assert {r.message_id for r in receiver.at()} >= {one["message_id"]}

        response = await api.http.post(
            f"/v1/webhooks/{hook['id']}/recover",
            params={"since": (datetime.now(UTC) - timedelta(hours=1)).isoformat()},
        )
        assert response.status_code == 202 and response.json() == {"requeued": 2}
        await eventually(lambda: _count(api.deliveries(hook["id"], status="succeeded"), 3))
        assert len(await api.deliveries(hook["id"], status="failed")) == 0


async def test_redirects_are_not_followed_and_at_most_64_kib_of_the_answer_is_kept(
    api: Api, receiver: Receiver, conflict: str
) -> None:
    receiver.responders["/hook"] = lambda _r, n: (
        Reply(302, headers={"Location": receiver.url("/elsewhere")})
        if n == 1
        else Reply(200, body=b"x" * 100_000)
    )
    hook = await api.subscribe(receiver.url(), conflicts=[conflict])
    await api.record(signed(conflict))
    await api.record(alleged(conflict))
    [delivery] = await eventually(lambda: api.deliveries(hook["id"], status="succeeded"))
    assert [a["status_code"] for a in delivery["attempts"]] == [302, 200]
    assert len(delivery["attempts"][1]["response"]) == 64 * 1024
    assert receiver.at("/elsewhere") == []


async def test_a_slow_receiver_times_out(
    database_url: str, admin_key: str, receiver: Receiver, conflict: str
) -> None:
    settings = fast_settings(database_url, webhook_timeout=0.3)
    receiver.responders["/hook"] = lambda _r, n: Reply(200, delay=1.0 if n == 1 else 0)
    async with running_api(settings, admin_key) as api:
        hook = await api.subscribe(receiver.url(), conflicts=[conflict])
        await api.record(signed(conflict))
        await api.record(alleged(conflict))
        [delivery] = await eventually(lambda: api.deliveries(hook["id"], status="succeeded"))
        # A starved machine may time out a retry too; the first must, the last must not.
        first, *_, last = delivery["attempts"]
        assert first["status_code"] is None and "timed out" in first["error"]
        assert last["status_code"] == 200


async def test_any_event_type_can_be_subscribed_to(
    api: Api, receiver: Receiver, conflict: str
) -> None:
    hook = await api.subscribe(
        receiver.url(),
        conflicts=[conflict],
        event_types=["agreement.signed", "mission.dispatched"],
    )
    await api.record(signed(conflict))
    await api.record(alleged(conflict))
    await api.record(dispatched(conflict))
    requests = await eventually(lambda: len(receiver.at()) == 2 and receiver.at())
    types = sorted(assert_verified(hook["secret"], r)["type"] for r in requests)
    assert types == ["agreement.signed", "mission.dispatched"]


async def test_ping_sends_a_signed_test_event_now(api: Api, receiver: Receiver) -> None:
    hook = await api.subscribe(receiver.url(), conflicts=["nowhere"])
    response = await api.http.post(f"/v1/webhooks/{hook['id']}/ping")
    assert response.status_code == 200, response.text
    outcome = response.json()
    assert outcome["delivered"] is True and outcome["status_code"] == 204
    [request] = receiver.at()
    assert request.message_id == outcome["message_id"]
    StandardWebhook(hook["secret"]).verify(request.body, request.headers)
    raw = json.loads(request.body)
    assert raw["type"] == "webhook.ping" and raw["data"]["webhook_id"] == hook["id"]
    event = from_http_event(HTTPMessage(headers=request.headers, body=request.body))
    assert event.get_id() == raw["id"] and event.get_type() == "webhook.ping"

    receiver.stop()
    refused = (await api.http.post(f"/v1/webhooks/{hook['id']}/ping")).json()
    assert refused["delivered"] is False and refused["status_code"] is None
    assert refused["error"]


async def test_with_a_public_url_the_source_is_absolute(
    database_url: str, admin_key: str, receiver: Receiver, conflict: str
) -> None:
    """A receiver of several services' events tells them apart by ``source``: with
    ``CEASEFIRE_PUBLIC_URL`` it is the service's feed, absolute, in deliveries and pings."""
    public = "https://ceasefire.example.org/status"
    settings = fast_settings(database_url, public_url=public)
    async with running_api(settings, admin_key) as api:
        hook = await api.subscribe(receiver.url(), conflicts=[conflict])
        await api.record(signed(conflict))
        await api.record(alleged(conflict))
        [delivered] = await eventually(lambda: receiver.at())
        ping = await api.http.post(f"/v1/webhooks/{hook['id']}/ping")
        assert ping.status_code == 200 and ping.json()["delivered"] is True, ping.text
    pinged = [r for r in receiver.at() if r is not delivered]
    assert len(pinged) == 1
    for request in (delivered, *pinged):
        raw = json.loads(request.body)
        assert raw["source"] == f"{public}/v1/events", raw
        event = from_http_event(HTTPMessage(headers=request.headers, body=request.body))
        assert event.get_source() == raw["source"]
