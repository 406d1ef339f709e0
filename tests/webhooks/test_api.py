"""The subscription routes: admin only, validation, the secret shown once, SSRF refusals."""

from __future__ import annotations

import base64
import logging
import uuid
from collections.abc import AsyncIterator

import pytest

from tests.e2e.conftest import problem_of
from tests.factories import alleged, signed
from tests.webhooks.conftest import Api, fast_settings, running_api
from tests.webhooks.receiver import Receiver, Reply, eventually


@pytest.fixture
async def strict_api(database_url: str, admin_key: str) -> AsyncIterator[Api]:
    """The defaults of a real deployment: https only, no private address allowed."""
    settings = fast_settings(database_url, webhook_allow_http=False, webhook_allowed_subnets=[])
    async with running_api(settings, admin_key) as api:
        yield api


async def test_create_shows_the_secret_once_and_nothing_else_ever_does(
    api: Api, receiver: Receiver, conflict: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Every logger at INFO and ours at DEBUG. (The aiosqlite driver's own DEBUG output
    # prints statement parameters, whatever they hold: keep it off in production.)
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="ceasefire")
    receiver.responders["/hook"] = lambda _r, n: Reply(500 if n == 1 else 204)
    hook = await api.subscribe(receiver.url(), conflicts=[conflict], description="newsroom")
    secret = hook["secret"]
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32
    assert hook["event_types"] == ["violation.alleged"]
    assert hook["conflicts"] == [conflict] and hook["enabled"] is True

    await api.record(signed(conflict))
    await api.record(alleged(conflict))
    await eventually(lambda: api.deliveries(hook["id"], status="succeeded"))
    base = f"/v1/webhooks/{hook['id']}"
    answers = [
        await api.http.get("/v1/webhooks"),
        await api.http.get(base),
        await api.http.patch(base, json={"description": "changed"}),
        await api.http.get(f"{base}/deliveries"),
        await api.http.post(f"{base}/ping"),
    ]
    rotated = await api.http.post(f"{base}/rotate-secret")
    answers += [await api.http.get(base), await api.http.get("/v1/webhooks")]
    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert secret not in answer.text and "whsec_" not in answer.text
        assert "secret" not in answer.json()
    new_secret = rotated.json()["secret"]
    assert new_secret != secret
    assert secret not in caplog.text and new_secret not in caplog.text


async def test_only_admin_keys_manage_webhooks(
    api: Api, database_url: str, receiver: Receiver
) -> None:
    from tests.e2e.conftest import make_keys

    keys = await make_keys(database_url)
    for headers, status in (
        ({"Authorization": ""}, 401),
        ({"Authorization": f"Bearer {keys.reader}"}, 403),
        ({"Authorization": f"Bearer {keys.writer}"}, 403),
    ):
        for method, path in (("GET", "/v1/webhooks"), ("POST", "/v1/webhooks")):
            response = await api.http.request(
                method, path, headers=headers, json={"url": receiver.url()}
            )
            problem_of(response, status, "unauthorized" if status == 401 else "forbidden")


async def test_list_get_patch_delete(api: Api, receiver: Receiver, conflict: str) -> None:
    hook = await api.subscribe(receiver.url(), conflicts=[conflict])
    listed = (await api.http.get("/v1/webhooks")).json()["webhooks"]
    assert hook["id"] in {w["id"] for w in listed}

    base = f"/v1/webhooks/{hook['id']}"
    patched = await api.http.patch(
        base,
        json={
            "url": receiver.url("/other"),
            "event_types": ["agreement.signed", "violation.alleged"],
            "conflicts": None,
        },
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["url"] == receiver.url("/other")
    assert body["event_types"] == ["agreement.signed", "violation.alleged"]
    assert body["conflicts"] is None

    paused = (await api.http.patch(base, json={"enabled": False})).json()
    assert paused["enabled"] is False and paused["disabled_reason"]

    problem_of(await api.http.patch(base, json={"url": None}), 422, "validation-error")
    problem_of(await api.http.patch(base, json={"colour": "red"}), 422, "validation-error")
    assert (await api.http.delete(base)).status_code == 204
    problem_of(await api.http.get(base), 404, "unknown-webhook")
    problem_of(await api.http.delete(base), 404, "unknown-webhook")


async def test_unknown_ids_and_bad_bodies(api: Api, receiver: Receiver) -> None:
    missing = uuid.uuid4()
    for method, path in (
        ("GET", f"/v1/webhooks/{missing}"),
        ("PATCH", f"/v1/webhooks/{missing}"),
        ("POST", f"/v1/webhooks/{missing}/rotate-secret"),
        ("POST", f"/v1/webhooks/{missing}/ping"),
        ("GET", f"/v1/webhooks/{missing}/deliveries"),
        ("POST", f"/v1/webhooks/{missing}/recover?since=2026-01-01T00:00:00Z"),
    ):
        response = await api.http.request(method, path, json={} if method == "PATCH" else None)
        problem_of(response, 404, "unknown-webhook")
    hook = await api.subscribe(receiver.url(), conflicts=["nowhere"])
    problem_of(
        await api.http.post(f"/v1/webhooks/{hook['id']}/deliveries/{missing}/retry"),
        404,
        "unknown-delivery",
    )
    problem_of(
        await api.http.post(f"/v1/webhooks/{hook['id']}/recover?since=2026-01-01T00:00:00"),
        422,
        "validation-error",
    )
    for body in (
        {"url": receiver.url(), "event_types": ["violation.denied"]},
        {"url": receiver.url(), "event_types": []},
        {"url": receiver.url(), "conflicts": ["Not A Slug"]},
        {"url": receiver.url(), "conflicts": []},
        {"url": ""},
        {},
    ):
        problem_of(await api.http.post("/v1/webhooks", json=body), 422, "validation-error")


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/hook",
        "https://10.0.0.1/hook",
        "https://localhost/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://100.64.0.1/hook",
        "https://0.0.0.0/hook",
    ],
)
async def test_private_and_loopback_urls_are_refused(strict_api: Api, url: str) -> None:
    body = problem_of(
        await strict_api.http.post("/v1/webhooks", json={"url": url}), 422, "unsafe-webhook-url"
    )
    assert body["detail"].startswith("the URL is refused: ")
    assert any(
        kind in body["detail"]
        for kind in ("loopback", "private", "metadata", "CGNAT", "unspecified")
    ), body["detail"]
    assert (await strict_api.http.get("/v1/webhooks")).status_code == 200


async def test_scheme_rules_and_url_changes_are_checked_too(
    strict_api: Api, api: Api, receiver: Receiver
) -> None:
    for url, words in (
        ("http://93.184.215.14/hook", "must be https"),
        ("ftp://93.184.215.14/hook", "must be https"),
        ("https:///nohost", "no host"),
    ):
        body = problem_of(
            await strict_api.http.post("/v1/webhooks", json={"url": url}),
            422,
            "unsafe-webhook-url",
        )
        assert words in body["detail"], body
    hook = await api.subscribe(receiver.url(), conflicts=["nowhere"])
    problem_of(
        await strict_api.http.patch(
            f"/v1/webhooks/{hook['id']}", json={"url": "https://169.254.169.254/"}
        ),
        422,
        "unsafe-webhook-url",
    )
