"""Cheap polling against a real server: strong ETags, 304 without the projection tables,
long-poll released by an append through this process or another one, and by the clock."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from events.log.database import create_engine
from tests.e2e.conftest import Keys, Server, gauge, make_keys, start_server
from tests.webhooks.receiver import eventually

pytestmark = pytest.mark.slow

SIGNED = "2022-09-14T16:00:00Z"


def event(conflict: str, type_: str, data: dict[str, Any], occurred_at: str) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "type": type_,
        "conflict": conflict,
        "occurred_at": occurred_at,
        "source": {"name": "e2e desk"},
        "data": data,
    }


def agreement(conflict: str, occurred_at: str = SIGNED, **data: Any) -> dict[str, Any]:
    return event(
        conflict,
        "agreement.signed",
        {"agreement_id": "cf-1", "parties": ["Armenia", "Azerbaijan"], **data},
        occurred_at,
    )


def allegation(conflict: str, occurred_at: str = "2022-09-23T03:40:00Z") -> dict[str, Any]:
    return event(
        conflict,
        "violation.alleged",
        {"alleged_by": "Armenia", "accused": "Azerbaijan"},
        occurred_at,
    )


async def post(http: httpx.AsyncClient, keys: Keys, body: dict[str, Any]) -> dict[str, Any]:
    response = await http.post("/v1/events", json=body, headers=keys.header(keys.writer))
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


def urls(conflict: str) -> list[str]:
    return [
        "/v1/conflicts",
        f"/v1/conflicts/{conflict}/status",
        f"/v1/conflicts/{conflict}/status?as_of=2022-09-24T00:00:00Z",
        f"/v1/conflicts/{conflict}/status?known_at=2030-01-01T00:00:00Z",
        f"/v1/conflicts/{conflict}/allegations",
        f"/v1/conflicts/{conflict}/timeline",
        "/v1/events?after=0&limit=5",
        f"/v1/conflicts/{conflict}/events",
    ]


async def test_every_read_of_state_has_a_strong_etag_and_a_304(
    client: httpx.AsyncClient, keys: Keys, conflict: str
) -> None:
    await post(client, keys, agreement(conflict))
    await post(client, keys, allegation(conflict))
    for url in urls(conflict):
        first = await client.get(url)
        assert first.status_code == 200, (url, first.text)
        tag = first.headers["etag"]
        assert tag.startswith('"') and tag.endswith('"'), (url, tag)  # strong: no W/
        assert first.headers["cache-control"] == "no-cache"
        again = await client.get(url)
        assert again.headers["etag"] == tag and again.content == first.content, url
        not_modified = await client.get(url, headers={"If-None-Match": tag})
        assert not_modified.status_code == 304, url
        assert not_modified.content == b""
        # RFC 9110 15.4.5: what a 200 would carry of ETag, Cache-Control and Date
        assert not_modified.headers["etag"] == tag
        assert not_modified.headers["cache-control"] == "no-cache"
        assert "date" in not_modified.headers
        listed = await client.get(url, headers={"If-None-Match": f'"x", W/{tag}'})
        assert listed.status_code == 304, url  # weak comparison, any tag of the list
        star = await client.get(url, headers={"If-None-Match": "*"})
        assert star.status_code == 304, url
        other = await client.get(url, headers={"If-None-Match": '"s1.00000000"'})
        assert other.status_code == 200, url


async def test_an_append_changes_the_tag(
    client: httpx.AsyncClient, keys: Keys, conflict: str
) -> None:
    await post(client, keys, agreement(conflict))
    url = f"/v1/conflicts/{conflict}/status"
    before = await client.get(url)
    await post(client, keys, allegation(conflict))
    after = await client.get(url, headers={"If-None-Match": before.headers["etag"]})
    assert after.status_code == 200
    assert after.headers["etag"] != before.headers["etag"]
    assert after.json()["allegations"]["Armenia"]["made"] == 1
    assert before.json()["as_of"] is None  # a view of now: equal states, equal bytes


async def test_an_unknown_conflict_is_a_404_even_with_a_tag(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/v1/conflicts/no-such-conflict/status", headers={"If-None-Match": "*"}
    )
    assert response.status_code == 404


async def long_poll(http: httpx.AsyncClient, url: str, tag: str, wait: int) -> httpx.Response:
    return await http.get(url, headers={"If-None-Match": tag, "Prefer": f"wait={wait}"})


async def waiting(http: httpx.AsyncClient) -> int:
    """Long-polls the server holds now (``ceasefire_long_polls_waiting``)."""
    return int(await gauge(http, "ceasefire_long_polls_waiting"))


async def until_waiting(http: httpx.AsyncClient, count: int) -> None:
    """Until the server holds ``count`` long-polls: one started after ``waiting`` answered
    ``count - 1`` has then matched its tag and waits, so what the test does next happens to a
    waiting request. (A fixed sleep could end before it got there: the append would then be
    seen at once, and the test would pass without exercising the wait.)"""

    async def held() -> bool:
        return await waiting(http) >= count

    await eventually(held)


async def test_a_long_poll_is_released_by_an_append(
    client: httpx.AsyncClient, keys: Keys, conflict: str
) -> None:
    await post(client, keys, agreement(conflict))
    url = f"/v1/conflicts/{conflict}/status"
    tag = (await client.get(url)).headers["etag"]
    before = await waiting(client)
    polling = asyncio.create_task(long_poll(client, url, tag, 1000))
    await until_waiting(client, before + 1)
    assert not polling.done()
    appended = await post(client, keys, allegation(conflict))
    response = await polling
    assert response.status_code == 200
    assert response.headers["preference-applied"] == "wait=60"  # asked 1000: cut to 60
    assert response.json()["position"] == appended["position"]
    assert response.headers["etag"] != tag


async def test_a_long_poll_with_nothing_new_ends_in_a_304(
    client: httpx.AsyncClient, keys: Keys, conflict: str
) -> None:
    await post(client, keys, agreement(conflict))
    url = f"/v1/conflicts/{conflict}/allegations"
    tag = (await client.get(url)).headers["etag"]
    other = f"{conflict}-other"
    before = await waiting(client)
    # 3 s: time enough, on a loaded machine, to see it wait before it ends
    polling = asyncio.create_task(long_poll(client, url, tag, 3))
    await until_waiting(client, before + 1)
    await post(client, keys, agreement(other))  # another conflict does not release it
    response = await polling
    assert response.status_code == 304
    assert response.headers["preference-applied"] == "wait=3"
    assert response.headers["etag"] == tag


async def test_a_long_poll_without_a_current_tag_answers_at_once(
    client: httpx.AsyncClient, keys: Keys, conflict: str
) -> None:
    await post(client, keys, agreement(conflict))
    response = await long_poll(client, f"/v1/conflicts/{conflict}/status", '"stale"', 60)
    assert response.status_code == 200
    assert "preference-applied" not in response.headers


async def test_the_clock_releases_a_view_of_now(
    client: httpx.AsyncClient, keys: Keys, conflict: str
) -> None:
    """An agreement that becomes effective in a moment: its pending status is tagged as good
    until then, and a long-poll on it is answered with the new state when it comes."""
    now = datetime.now(UTC)
    effective = (now + timedelta(seconds=3)).isoformat()
    await post(client, keys, agreement(conflict, now.isoformat(), effective_at=effective))
    url = f"/v1/conflicts/{conflict}/status"
    first = await client.get(url)
    assert first.json()["state"] == "pending"
    response = await long_poll(client, url, first.headers["etag"], 30)
    assert response.status_code == 200
    assert response.json()["state"] == "holding"
    assert response.headers["etag"] != first.headers["etag"]
    # and a plain conditional request after that instant is a 200, not a 304
    again = await client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 200 and again.json()["state"] == "holding"


async def test_long_poll_on_the_event_feed(
    client: httpx.AsyncClient, keys: Keys, conflict: str
) -> None:
    await post(client, keys, agreement(conflict))
    url = f"/v1/conflicts/{conflict}/events?after=0"
    tag = (await client.get(url)).headers["etag"]
    before = await waiting(client)
    polling = asyncio.create_task(long_poll(client, url, tag, 30))
    await until_waiting(client, before + 1)
    await post(client, keys, allegation(conflict))
    response = await polling
    assert response.status_code == 200
    assert response.headers["preference-applied"] == "wait=30"  # it waited, and was released
    assert [e["type"] for e in response.json()["events"]] == [
        "agreement.signed",
        "violation.alleged",
    ]


async def test_a_write_through_a_second_process_releases_a_long_poll(
    server: Server, keys: Keys, conflict: str
) -> None:
    """Two API processes on one database: the long-poll waits on the first, the append goes
    through the second (PostgreSQL: LISTEN/NOTIFY; SQLite: each process's poll)."""
    with start_server(server.database_url, webhook_worker="false") as second:
        async with (
            httpx.AsyncClient(base_url=server.base_url, timeout=30) as a,
            httpx.AsyncClient(base_url=second.base_url, timeout=30) as b,
        ):
            await post(b, keys, agreement(conflict))
            status = f"/v1/conflicts/{conflict}/status"
            tag = (await a.get(status)).headers["etag"]
            before = await waiting(a)
            polling = asyncio.create_task(long_poll(a, status, tag, 30))
            await until_waiting(a, before + 1)
            assert not polling.done()
            appended = await post(b, keys, allegation(conflict))
            response = await polling
            assert response.status_code == 200, response.text
            assert response.json()["position"] == appended["position"]
            assert response.headers["preference-applied"] == "wait=30"


@pytest.fixture
async def own_database(fresh_database_url: str) -> tuple[str, Keys]:
    return fresh_database_url, await make_keys(fresh_database_url)


async def test_a_304_never_reads_the_projection_tables(
    own_database: tuple[str, Keys], conflict: str
) -> None:
    """With every projection table renamed away, a current If-None-Match still gets its 304:
    the answer comes from the head lookup alone."""
    url, keys = own_database
    tables = ["proj_agreements", "proj_allegations", "proj_missions", "proj_corrections"]
    with start_server(url, representation_cache_bytes="0") as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
            await post(http, keys, agreement(conflict))
            pages = [
                f"/v1/conflicts/{conflict}/status",
                f"/v1/conflicts/{conflict}/allegations",
                f"/v1/conflicts/{conflict}/timeline",
                "/v1/conflicts",
            ]
            tags = {page: (await http.get(page)).headers["etag"] for page in pages}
            engine = create_engine(url)
            try:
                async with engine.begin() as conn:
                    for table in tables:
                        await conn.execute(text(f"ALTER TABLE {table} RENAME TO gone_{table}"))
                for page, tag in tags.items():
                    response = await http.get(page, headers={"If-None-Match": tag})
                    assert response.status_code == 304, (page, response.text)
                broken = await http.get(pages[0])  # a full read does need them
                assert broken.status_code >= 500
            finally:
                async with engine.begin() as conn:
                    for table in tables:
                        await conn.execute(text(f"ALTER TABLE gone_{table} RENAME TO {table}"))
                await engine.dispose()
            assert (await http.get(pages[0])).status_code == 200
