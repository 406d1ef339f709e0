"""The acceptance case of the event log issue, through a real server: the seed article
(Armenia-Azerbaijan, September 2022) loaded once through ``POST /v1/events`` and once through
``ceasefire load``, each into a database of its own, on SQLite and PostgreSQL.

Each load gets a fresh database so every count is exact whatever else the session writes.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import SEED, make_database
from tests.e2e.conftest import Keys, Server, make_keys, start_server

CONFLICT = "armenia-azerbaijan"
SEED_LINES = [json.loads(line) for line in SEED.read_text().splitlines() if line.strip()]
SEED_IDS = [line["id"] for line in SEED_LINES]
FIRST = "2022-09-13-ceasefire"
SECOND = "2022-09-14-ceasefire"


@dataclass(frozen=True)
class Seeded:
    server: Server
    http: httpx.Client
    how: str


def _load_through_api(server: Server, keys: Keys) -> None:
    with httpx.Client(base_url=server.base_url, headers=Keys.header(keys.writer)) as http:
        for version, line in enumerate(SEED_LINES):
            response = http.post("/v1/events", json={**line, "expected_version": version})
            assert response.status_code == 201, response.text
            assert response.json()["version"] == version + 1
        # Sent again, every event is recognised as stored: 200, nothing written.
        for line in SEED_LINES:
            response = http.post("/v1/events", json=line)
            assert response.status_code == 200, response.text


def _load_through_cli(server: Server) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CEASEFIRE_")}
    env["CEASEFIRE_DATABASE_URL"] = server.database_url
    command = [str(Path(sys.executable).with_name("ceasefire")), "load", str(SEED)]
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    assert "appended 6 event(s), 0 already stored" in first.stdout
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    assert "appended 0 event(s), 6 already stored" in again.stdout


@pytest.fixture(scope="module", params=["api", "cli"])
def seeded(
    request: pytest.FixtureRequest, db_kind: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Seeded]:
    how: str = request.param
    fresh = contextmanager(make_database)(db_kind, tmp_path_factory.mktemp(f"seed-{how}"))
    with fresh as url, start_server(url) as server, httpx.Client(base_url=server.base_url) as http:
        if how == "api":
            _load_through_api(server, asyncio.run(make_keys(url)))
        else:
            _load_through_cli(server)
        yield Seeded(server, http, how)


#: Issue 8 added two counts per party; the seed has neither denials nor third-party claims.
NEW_ZEROS = {"denied": 0, "received_from_third_parties": 0}


def status(seeded: Seeded, as_of: str) -> dict[str, Any]:
    response = seeded.http.get(f"/v1/conflicts/{CONFLICT}/status", params={"as_of": as_of})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    return body


def test_on_24_september_the_ceasefire_of_14_september_is_contested(seeded: Seeded) -> None:
    body = status(seeded, "2022-09-24T00:00:00Z")
    assert body["conflict"] == CONFLICT
    assert body["state"] == "contested"
    agreement = body["agreement"]
    assert agreement["agreement_id"] == SECOND
    assert agreement["signed_at"] == "2022-09-14T16:00:00Z"
    assert agreement["effective_at"].startswith("2022-09-14")
    assert agreement["collapsed_at"] is None
    assert sorted(agreement["parties"]) == ["Armenia", "Azerbaijan"]
    assert body["allegations"] == {
        "Armenia": {
            "made": 1,
            "received": 1,
            "incidents_made": 1,
            "incidents_received": 3,
            **NEW_ZEROS,
        },
        "Azerbaijan": {
            "made": 1,
            "received": 1,
            "incidents_made": 3,
            "incidents_received": 1,
            **NEW_ZEROS,
        },
    }
    assert len(body["missions"]) == 1
    mission = body["missions"][0]
    assert mission["mission_id"] == "csto-2022-09"
    assert "CSTO" in mission["organization"]
    assert mission["head"] == "CSTO Secretary-General"
    assert mission["expected_arrival"].startswith("2022-09-14T20:00:00")
    assert body["last_allegation_at"] == "2022-09-23T03:40:00Z"
    assert body["version"] == 6
    assert body["as_of"] == "2022-09-24T00:00:00Z"


@pytest.mark.parametrize(
    ("as_of", "state", "agreement_id"),
    [
        ("2022-09-01T00:00:00Z", "none", None),
        # The first agreement collapsed at 07:00Z on the 13th; the second was signed at 16:00Z
        # on the 14th.
        ("2022-09-13T12:00:00Z", "collapsed", FIRST),
        ("2022-09-14T23:00:00Z", "holding", SECOND),
        ("2022-10-15T00:00:00Z", "holding", SECOND),  # the contested window has passed
        # The same instant as 24 September 00:00Z, written with an offset.
        ("2022-09-24T04:00:00+04:00", "contested", SECOND),
    ],
)
def test_state_over_time(seeded: Seeded, as_of: str, state: str, agreement_id: str | None) -> None:
    body = status(seeded, as_of)
    assert body["state"] == state
    assert (body["agreement"] or {}).get("agreement_id") == agreement_id


def test_before_anything_there_is_no_agreement_and_no_mission(seeded: Seeded) -> None:
    body = status(seeded, "2022-09-01T00:00:00Z")
    assert body["agreement"] is None
    assert body["allegations"] == {}
    assert body["missions"] == []
    assert body["last_allegation_at"] is None


def test_after_the_collapse_every_party_of_the_first_agreement_is_listed_at_zero(
    seeded: Seeded,
) -> None:
    body = status(seeded, "2022-09-13T12:00:00Z")
    assert body["agreement"]["collapsed_at"] == "2022-09-13T07:00:00Z"
    assert body["allegations"] == {
        party: {"made": 0, "received": 0, "incidents_made": 0, "incidents_received": 0, **NEW_ZEROS}
        for party in ("Armenia", "Azerbaijan")
    }


def test_allegations_per_agreement_and_over_the_conflict(seeded: Seeded) -> None:
    response = seeded.http.get(f"/v1/conflicts/{CONFLICT}/allegations")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["conflict"] == CONFLICT
    assert body["totals"] == {
        "Armenia": {
            "made": 1,
            "received": 1,
            "incidents_made": 1,
            "incidents_received": 3,
            **NEW_ZEROS,
        },
        "Azerbaijan": {
            "made": 1,
            "received": 1,
            "incidents_made": 3,
            "incidents_received": 1,
            **NEW_ZEROS,
        },
    }
    by_id = {a["agreement_id"]: a for a in body["agreements"]}
    assert set(by_id) == {FIRST, SECOND}
    assert by_id[FIRST]["allegations"] == []
    second = by_id[SECOND]
    assert second["counts"] == body["totals"]
    claims = {(a["alleged_by"], a["accused"]): a for a in second["allegations"]}
    assert set(claims) == {("Armenia", "Azerbaijan"), ("Azerbaijan", "Armenia")}
    by_azerbaijan = claims["Azerbaijan", "Armenia"]
    assert by_azerbaijan["incidents"] == 3
    assert by_azerbaijan["agreement_implicit"] is True  # no agreement_id in the seed
    assert by_azerbaijan["source"] == {"name": "Azerbaijan Defense Ministry"}
    assert by_azerbaijan["occurred_at"] == "2022-09-22T14:00:00Z"
    assert str(by_azerbaijan["id"]) == SEED_IDS[4]
    assert claims["Armenia", "Azerbaijan"]["incidents"] == 1


def test_allegations_as_of_before_the_second_agreement(seeded: Seeded) -> None:
    response = seeded.http.get(
        f"/v1/conflicts/{CONFLICT}/allegations", params={"as_of": "2022-09-14T00:00:00Z"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert [a["agreement_id"] for a in body["agreements"]] == [FIRST]
    assert all(c["made"] == 0 for c in body["totals"].values())


def test_conflicts_lists_the_seed_with_its_state_now(seeded: Seeded) -> None:
    response = seeded.http.get("/v1/conflicts")
    assert response.status_code == 200, response.text
    (summary,) = response.json()  # a database of its own: only the seed
    assert summary["conflict"] == CONFLICT
    # Now, years after September 2022, the window has long passed.
    assert summary["state"] == "holding"
    assert summary["agreement_id"] == SECOND
    assert summary["last_allegation_at"] == "2022-09-23T03:40:00Z"
    assert summary["version"] == 6


@pytest.mark.parametrize("path", ["/v1/events", f"/v1/conflicts/{CONFLICT}/events"])
def test_paging_returns_every_event_once_in_order(seeded: Seeded, path: str) -> None:
    seen: list[dict[str, Any]] = []
    after = 0
    while True:
        response = seeded.http.get(path, params={"after": after, "limit": 4})
        assert response.status_code == 200, response.text
        page = response.json()
        if not page["events"]:
            assert page["next_after"] == after and page["has_more"] is False
            break
        assert len(page["events"]) <= 4
        seen.extend(page["events"])
        assert page["has_more"] is (len(seen) < len(SEED_IDS)), page
        after = page["next_after"]
        assert after == page["events"][-1]["position"]
    assert [e["id"] for e in seen] == SEED_IDS
    assert [e["version"] for e in seen] == [1, 2, 3, 4, 5, 6]
    positions = [e["position"] for e in seen]
    assert positions == sorted(set(positions))
    assert all(e["schema_version"] >= 1 and e["recorded_at"] for e in seen)
    # The stored events carry what was loaded, occurred_at normalised to UTC.
    first = seen[0]
    assert first["type"] == "agreement.signed"
    assert first["occurred_at"] == "2022-09-13T06:00:00Z"
    assert first["data"]["agreement_id"] == FIRST
    assert first["source"]["name"] == SEED_LINES[0]["source"]["name"]


def test_paging_from_the_end_returns_nothing(seeded: Seeded) -> None:
    response = seeded.http.get("/v1/events", params={"after": 10**6})
    assert response.status_code == 200
    assert response.json() == {"events": [], "next_after": 10**6, "has_more": False}
