"""Concurrent writers through a real server: the global feed never skips or repeats an event,
stream versions stay contiguous, and of several appends with one expected_version exactly one
wins."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Keys, Server, problem_of

WRITERS = 8
EVENTS = 2000
CONFLICTS = 3
PARTIES = ("Armenia", "Azerbaijan")


def _allegation(conflict: str, n: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "type": "violation.alleged",
        "conflict": conflict,
        "occurred_at": f"2022-09-{15 + n % 10:02d}T{n % 24:02d}:00:00Z",
        "source": {"name": f"writer desk {n}"},
        "data": {"alleged_by": PARTIES[n % 2], "accused": PARTIES[1 - n % 2]},
        **extra,
    }


def _agreement(conflict: str) -> dict[str, Any]:
    return {
        "type": "agreement.signed",
        "conflict": conflict,
        "occurred_at": "2022-09-14T16:00:00Z",
        "source": {"name": "mediator"},
        "data": {"agreement_id": "cf-1", "parties": list(PARTIES)},
    }


@pytest.fixture
async def clients(server: Server, keys: Keys) -> AsyncIterator[list[httpx.AsyncClient]]:
    """One client (its own connection pool) per writer, each already connected."""
    async with AsyncExitStack() as stack:
        made = [
            await stack.enter_async_context(
                httpx.AsyncClient(
                    base_url=server.base_url, headers=Keys.header(keys.writer), timeout=60
                )
            )
            for _ in range(WRITERS)
        ]
        await asyncio.gather(*(c.get("/healthz") for c in made))
        yield made


async def _sign(http: httpx.AsyncClient, conflict: str) -> dict[str, Any]:
    response = await http.post("/v1/events", json=_agreement(conflict))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_feed_reader_sees_every_acknowledged_event_once_in_order(
    clients: list[httpx.AsyncClient], server: Server
) -> None:
    conflicts = [f"conc-{uuid.uuid4().hex[:10]}-{i}" for i in range(CONFLICTS)]
    signed = [await _sign(clients[0], c) for c in conflicts]
    start = signed[0]["position"] - 1
    acknowledged: dict[str, dict[str, Any]] = {s["id"]: s for s in signed}
    writers_done = asyncio.Event()
    seen_while_writing = 0

    async def write(writer: int, http: httpx.AsyncClient) -> None:
        for k in range(EVENTS // WRITERS):
            n = writer * (EVENTS // WRITERS) + k
            response = await http.post("/v1/events", json=_allegation(conflicts[n % CONFLICTS], n))
            assert response.status_code == 201, response.text
            body = response.json()
            acknowledged[body["id"]] = body

    async def read() -> list[dict[str, Any]]:
        nonlocal seen_while_writing
        feed: list[dict[str, Any]] = []
        after = start
        async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as http:
            while True:
                finished = writers_done.is_set()  # read before the page: no race at the end
                response = await http.get("/v1/events", params={"after": after, "limit": 1000})
                assert response.status_code == 200, response.text
                page = response.json()
                for event in page["events"]:
                    assert event["position"] > after, "the feed went backwards or repeated"
                    after = event["position"]
                    if event["conflict"] in conflicts:
                        feed.append(event)
                        seen_while_writing += not finished
                assert page["next_after"] == after
                if finished and not page["events"]:
                    return feed
                if not page["events"]:
                    await asyncio.sleep(0.005)

    reader = asyncio.create_task(read())
    await asyncio.gather(*(write(i, http) for i, http in enumerate(clients)))
    writers_done.set()
    feed = await reader

    assert len(acknowledged) == EVENTS + CONFLICTS
    ids = [e["id"] for e in feed]
    assert len(ids) == len(set(ids)), "an event was seen twice"
    assert set(ids) == set(acknowledged), "an acknowledged event was never seen"
    for event in feed:
        ack = acknowledged[event["id"]]
        assert (event["position"], event["version"]) == (ack["position"], ack["version"])
    versions: dict[str, list[int]] = defaultdict(list)
    for event in feed:  # in position order
        versions[event["conflict"]].append(event["version"])
    for conflict in conflicts:
        assert versions[conflict] == list(range(1, len(versions[conflict]) + 1)), conflict
    assert sum(len(v) for v in versions.values()) == EVENTS + CONFLICTS
    assert seen_while_writing > 0, "the reader never read while the writers wrote"

    # And the projections agree with the log: every allegation counted once.
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        for conflict in conflicts:
            response = await http.get(f"/v1/conflicts/{conflict}/allegations")
            assert response.status_code == 200, response.text
            totals = response.json()["totals"]
            assert sum(t["made"] for t in totals.values()) == len(versions[conflict]) - 1


async def test_of_appends_with_one_expected_version_exactly_one_wins(
    clients: list[httpx.AsyncClient],
) -> None:
    for _ in range(5):
        conflict = f"race-{uuid.uuid4().hex[:10]}"
        await _sign(clients[0], conflict)
        bodies = [_allegation(conflict, n, expected_version=1) for n in range(WRITERS)]
        responses = await asyncio.gather(
            *(
                http.post("/v1/events", json=body)
                for http, body in zip(clients, bodies, strict=True)
            )
        )
        won = [r for r in responses if r.status_code == 201]
        assert len(won) == 1, [r.status_code for r in responses]
        assert won[0].json()["version"] == 2
        for lost in (r for r in responses if r.status_code != 201):
            problem = problem_of(lost, 409, "version-conflict")
            assert problem["current_version"] == 2
            assert problem["expected_version"] == 1
            assert problem["conflict"] == conflict

        # The winner retrying (same event, same stale expected_version) is told it is stored.
        winner = bodies[[r.status_code for r in responses].index(201)]
        retry = await clients[1].post("/v1/events", json=winner)
        assert retry.status_code == 200, retry.text
        stream = await clients[2].get(f"/v1/conflicts/{conflict}/events")
        assert [e["version"] for e in stream.json()["events"]] == [1, 2]
        assert stream.json()["events"][1]["id"] == winner["id"]
