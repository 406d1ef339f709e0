"""One faulty receiver harms only its own deliveries: real receivers on loopback answering what
no receiver should (NUL bytes, invalid UTF-8, 64 KiB and more, absurd or non-ASCII
``Retry-After``, a hang, a reset, a redirect), beside a healthy one, all in the same batches
of the same worker. Every delivery ends recorded, succeeded or failed, and every request a
receiver got is a recorded attempt: nothing is left for a lease to send again."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from typing import Any

import pytest

from tests.factories import alleged, signed
from tests.webhooks.conftest import fast_settings, running_api
from tests.webhooks.receiver import Receiver, Reply, Responder, eventually

EVENTS = 3
BIG = b"\x00" + b"x" * (70 * 1024)


def faults(receiver: Receiver) -> dict[str, Responder]:
    """path -> how the receiver there answers every attempt."""
    return {
        "/nul-ok": lambda _r, _n: Reply(200, body=b"ok\x00and\x00more"),
        "/nul": lambda _r, _n: Reply(500, body=b"\x00\x00\x00"),
        "/utf8": lambda _r, _n: Reply(500, body=b"\xff\xfe\xc3( bad \xed\xa0\x80"),
        "/big": lambda _r, _n: Reply(500, body=BIG),
        "/retry-huge": lambda _r, _n: Reply(503, headers={"Retry-After": "9" * 20}),
        "/retry-sup2": lambda _r, _n: Reply(503, headers={"Retry-After": "²"}),
        "/hang": lambda _r, n: Reply(200, delay=4.0 if n == 1 else 0),
        "/reset": lambda _r, _n: Reply(reset=True),
        "/redirect": lambda _r, _n: Reply(
            302, headers={"Location": receiver.url("/redirect-target")}
        ),
    }


async def test_a_faulty_receiver_harms_only_its_own_deliveries(
    database_url: str,
    admin_key: str,
    receiver: Receiver,
    conflict: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="ceasefire.webhooks")
    settings = fast_settings(
        database_url, webhook_retry_schedule=[0, 0.05], webhook_timeout=1.5, webhook_lease=30
    )
    receiver.responders.update(faults(receiver))
    async with running_api(settings, admin_key) as api:
        hooks = {
            path: await api.subscribe(receiver.url(path), conflicts=[conflict])
            for path in ["/good", *faults(receiver)]
        }
        await api.record(signed(conflict))
        for i in range(EVENTS):
            await api.record(alleged(conflict, incidents=i + 1))

        async def settled() -> dict[str, list[dict[str, Any]]] | None:
            found = {path: await api.deliveries(hook["id"]) for path, hook in hooks.items()}
            done = all(
                len(ds) == EVENTS and all(d["status"] != "pending" for d in ds)
                for ds in found.values()
            )
            return found if done else None

        found: dict[str, list[dict[str, Any]]] = await eventually(settled, within=60)

        # Every request a receiver got is a recorded attempt: none is left unrecorded for a
        # lease to send again. (Not the other way round: an attempt on a pooled connection the
        # receiver had closed fails without reaching it.)
        sent = Counter(r.message_id for r in receiver.received)
        recorded = Counter(
            {d["message_id"]: len(d["attempts"]) for ds in found.values() for d in ds}
        )
        assert all(n <= recorded[m] for m, n in sent.items()), (sent, recorded)

        def attempts(path: str) -> list[dict[str, Any]]:
            return [a for d in found[path] for a in d["attempts"]]

        def answered(path: str, code: int) -> list[dict[str, Any]]:
            """The attempts at ``path`` answered ``code`` (on a loaded machine another may
            time out: a failed attempt like any other)."""
            found = [a for a in attempts(path) if a["status_code"] == code]
            assert found, path
            return found

        assert {d["status"] for d in found["/good"]} == {"succeeded"}
        assert {d["status"] for d in found["/nul-ok"]} == {"succeeded"}
        assert {d["status"] for d in found["/hang"]} == {"succeeded"}  # the 2nd attempt
        for path in set(faults(receiver)) - {"/nul-ok", "/hang"}:
            assert {d["status"] for d in found[path]} == {"failed"}, path
            assert all(len(d["attempts"]) == 2 for d in found[path]), path
        assert {a["response"] for a in answered("/nul-ok", 200)} == {"ok\ufffdand\ufffdmore"}
        assert {a["response"] for a in answered("/nul", 500)} == {"\ufffd" * 3}
        assert all("\ufffd" in a["response"] for a in answered("/utf8", 500))
        assert all(len(a["response"]) == 64 * 1024 for a in answered("/big", 500))
        answered("/retry-huge", 503)
        answered("/retry-sup2", 503)
        answered("/redirect", 302)
        assert all("timed out" in d["attempts"][0]["error"] for d in found["/hang"])
        assert all(a["status_code"] is None and a["error"] for a in attempts("/reset"))
        assert receiver.at("/redirect-target") == []

        # Pings to the faulty receivers answer, never 500.
        for path in faults(receiver):
            if path == "/hang":
                continue  # a timeout, as the delivery showed: no need to wait for it again
            response = await api.http.post(f"/v1/webhooks/{hooks[path]['id']}/ping")
            assert response.status_code == 200, (path, response.text)
            assert response.json()["delivered"] is (path == "/nul-ok"), path

    # One log line for each failed attempt, naming its delivery, and never a secret.
    failed_lines = [r.getMessage() for r in caplog.records if "attempt" in r.getMessage()]
    failed_lines = [m for m in failed_lines if " failed: " in m]
    failed_attempts = sum(
        1 for path in faults(receiver) for a in attempts(path) if a["status_code"] not in (200,)
    )
    assert len(failed_lines) == failed_attempts
    for d in found["/reset"]:
        assert sum(d["id"] in m for m in failed_lines) == 2
    assert any("HTTP 302" in m and "next attempt at" in m for m in failed_lines)
    assert any("no attempt left: failed" in m for m in failed_lines)
    every_line = "\n".join(r.getMessage() for r in caplog.records)
    for hook in hooks.values():
        assert hook["secret"] not in every_line
        assert hook["secret"].removeprefix("whsec_") not in every_line


#: Enough events that a hanging endpoint without a cap would take every slot of the worker.
HANGING_EVENTS = 48


async def test_a_hanging_endpoint_holds_only_its_share_of_the_worker(
    database_url: str, admin_key: str, receiver: Receiver, conflict: str
) -> None:
    """One endpoint hangs (it answers only when the test is done), another answers at once:
    every delivery to the good one arrives while the hanging one is still hanging, and the
    hanging one holds no more than its share of the worker's slots. The attempt timeout is far
    longer than the wait, so nothing here is freed by a timeout."""
    released = threading.Event()
    receiver.responders["/hang"] = lambda _r, _n: Reply(hold=released)
    settings = fast_settings(database_url, webhook_timeout=300, webhook_lease=600)
    async with running_api(settings, admin_key) as api:
        try:
            await api.subscribe(receiver.url("/hang"), conflicts=[conflict])
            good = await api.subscribe(receiver.url("/good"), conflicts=[conflict])
            await api.record(signed(conflict))
            for i in range(HANGING_EVENTS):
                await api.record(alleged(conflict, incidents=i + 1))

            async def all_good_recorded() -> bool:
                found = await api.deliveries(good["id"], status="succeeded", limit=100)
                return len(found) == HANGING_EVENTS

            await eventually(
                lambda: len({r.message_id for r in receiver.at("/good")}) == HANGING_EVENTS,
                within=90,
            )
            await eventually(all_good_recorded, within=30)
            assert not released.is_set()
            hanging = receiver.at("/hang")  # every one of them still waiting for its answer
            assert 1 <= len(hanging) <= settings.webhook_endpoint_concurrency, len(hanging)
        finally:
            released.set()  # the hanging attempts end now, and the worker stops at once
