"""Several API processes on one PostgreSQL database (docs/scaling.md): three uvicorn processes
(what ``ceasefire serve --workers 3`` runs behind one port; here each on its own port, so the
test chooses which one each request reaches), each with its own caches, listener and in-process
webhook worker. Eight writers spread over them while feed readers page through the others:
every acknowledged event is seen exactly once, a write made through one process is read
through another at once (read-your-writes across processes), and a webhook endpoint receives
each event once per attempt, whichever process's worker sends it; each process's ``/metrics``
counts every process's appends, and their attempts add up."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest

from tests.conftest import make_database
from tests.e2e.conftest import Keys, make_keys, start_servers
from tests.e2e.replica import tag_position
from tests.e2e.test_metrics import scrape, value
from tests.e2e.test_polling import agreement, allegation, post
from tests.webhooks.receiver import Receiver, Reply, eventually

pytestmark = pytest.mark.slow

WRITERS = 8
EACH = 6
#: Fast webhook retries, loopback allowed (the receiver is on 127.0.0.1).
WEBHOOKS = {
    "webhook_allow_http": "true",
    "webhook_allowed_subnets": "127.0.0.0/8",
    "webhook_retry_schedule": "0,0.05,0.1,0.1,0.1",
    "webhook_retry_jitter": "0",
    "webhook_poll_interval": "0.05",
    "webhook_timeout": "5",
    "webhook_lease": "20",
}


@pytest.fixture
def database(tmp_path: Path) -> Iterator[str]:
    yield from make_database("postgresql", tmp_path)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver().start()
    yield running
    running.stop()


async def test_writers_readers_and_webhooks_across_three_processes(
    database: str, receiver: Receiver
) -> None:
    keys = await make_keys(database)
    async with AsyncExitStack() as stack:
        servers = stack.enter_context(start_servers(database, 3, **WEBHOOKS))
        clients = [
            await stack.enter_async_context(httpx.AsyncClient(base_url=s.base_url, timeout=60))
            for s in servers
        ]
        await _run(clients, keys, receiver)


async def _run(clients: list[httpx.AsyncClient], keys: Keys, receiver: Receiver) -> None:
    # Every delivery fails once, then succeeds: two attempts per event, each sent once.
    receiver.responders["/hook"] = lambda _request, n: Reply(500 if n == 1 else 204)
    created = await clients[0].post(
        "/v1/webhooks", json={"url": receiver.url("/hook")}, headers=keys.header(keys.admin)
    )
    assert created.status_code == 201, created.text

    acknowledged: list[int] = []
    allegations: list[int] = []
    writing = True

    async def write(number: int) -> None:
        conflict = f"front-{number}"
        into = clients[number % len(clients)]
        elsewhere = clients[(number + 1) % len(clients)]
        acknowledged.append((await post(into, keys, agreement(conflict)))["position"])
        for _ in range(EACH):
            position = (await post(into, keys, allegation(conflict)))["position"]
            acknowledged.append(position)
            allegations.append(position)
            # Read through another process: it reflects the write at once.
            status = await elsewhere.get(
                f"/v1/conflicts/{conflict}/status", params={"min_position": position}
            )
            assert status.status_code == 200, status.text
            assert tag_position(status.headers["etag"]) == position

    async def read(http: httpx.AsyncClient) -> list[int]:
        seen: list[int] = []
        after = 0
        while writing or after < max(acknowledged):
            response = await http.get("/v1/events", params={"after": after, "limit": 9})
            assert response.status_code == 200, response.text
            page = response.json()
            positions = [event["position"] for event in page["events"]]
            assert positions == list(range(after + 1, after + 1 + len(positions))), (after, page)
            seen.extend(positions)
            after = page["next_after"]
            await asyncio.sleep(0.01)
        return seen

    readers = [asyncio.ensure_future(read(http)) for http in clients[1:]]
    await asyncio.gather(*(write(number) for number in range(WRITERS)))
    writing = False
    for seen in await asyncio.gather(*readers):
        assert sorted(seen) == sorted(set(seen))  # none twice
        assert set(acknowledged) <= set(seen)  # none missed

    # One delivery per allegation, each received exactly twice (the 500, then the 204).
    def delivered() -> bool:
        counts = Counter(r.message_id for r in receiver.received)
        return len(counts) >= len(allegations) and all(n >= 2 for n in counts.values())

    await eventually(delivered, within=60)
    counts = Counter(r.message_id for r in receiver.received)
    assert len(counts) == len(allegations)
    assert set(counts.values()) == {2}, counts
    sent = {_position_of(r.body) for r in receiver.received}
    assert sent == set(allegations)

    # /metrics (issue 19): each process counted every append, whichever process took it (its
    # own in-process, the others' through the database's notifications); the attempts, each
    # counted by the process whose worker sent it, add up to what the receiver got.
    for http in clients:
        samples = await scrape(http)
        assert value(samples, "ceasefire_log_appended_events_total") == len(acknowledged)
        assert value(samples, "ceasefire_log_head_position") == max(acknowledged)

    async def attempts_counted() -> bool:
        scraped = [await scrape(http) for http in clients]
        sent = "ceasefire_webhook_attempts_sent_total"
        return all(
            sum(value(samples, sent, outcome=outcome) for samples in scraped) == len(allegations)
            for outcome in ("5xx", "succeeded")
        )

    await eventually(attempts_counted)  # a worker counts an attempt once it has the answer


def _position_of(body: bytes) -> int:
    """The log position of the event a delivery carries (CloudEvents, the event as data)."""
    return int(json.loads(body)["data"]["position"])
