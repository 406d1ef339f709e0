"""Time travel and corrections against a real server: the seed imported with its recording
times plus a retraction that occurred and was recorded on 25 September, asked by both clocks;
corrections and retractions through the API; the timeline."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import SEED, make_database
from tests.e2e.conftest import Keys, Server, problem_of, start_server
from tests.e2e.test_polling import agreement, allegation, event, post
from tests.logtools import chained

pytestmark = pytest.mark.slow

CONFLICT = "armenia-azerbaijan"
AZERBAIJANS = "5a0e8d6a-0913-4c1e-9d3a-000000000005"  # the allegation of 22 September
RETRACTED_ON = "2022-09-25T09:00:00Z"


def export_lines() -> list[dict[str, Any]]:
    """The seed as an export of a log that recorded each event an hour after it happened,
    then Azerbaijan's retraction of its allegation, recorded on 25 September."""
    lines = []
    for number, text in enumerate(SEED.read_text().splitlines(), start=1):
        raw = json.loads(text)
        occurred = datetime.fromisoformat(raw["occurred_at"])
        lines.append(
            {
                **raw,
                "position": number,
                "version": number,
                "schema_version": 1,
                "recorded_at": (occurred + timedelta(hours=1)).isoformat(),
                "hash": "0" * 64,
            }
        )
    lines.append(
        {
            "id": str(uuid.uuid4()),
            "type": "allegation.retracted",
            "conflict": CONFLICT,
            "occurred_at": "2022-09-25T08:00:00Z",
            "source": {"name": "Azerbaijan Defense Ministry"},
            "data": {
                "allegation_id": AZERBAIJANS,
                "retracted_by": "Azerbaijan",
                "reason": "The report of 22 September is withdrawn.",
            },
            "position": len(lines) + 1,
            "version": len(lines) + 1,
            "schema_version": 1,
            "recorded_at": RETRACTED_ON,
            "hash": "0" * 64,
        }
    )
    return chained(lines)


@pytest.fixture(scope="module")
def imported(db_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A database of its own with the history imported by ``ceasefire import``, served (one
    per database kind for this module: its tests only read)."""
    directory = tmp_path_factory.mktemp("imported")
    database = make_database(db_kind, directory)
    url = next(database)
    try:
        path = directory / "history.ndjson"
        path.write_text("".join(json.dumps(line) + "\n" for line in export_lines()))
        done = subprocess.run(
            [sys.executable, "-m", "app.cli.ceasefire", "import", str(path)],
            env={"CEASEFIRE_DATABASE_URL": url, "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        with start_server(url) as server:
            yield server
    finally:
        database.close()


def made(body: dict[str, Any], party: str) -> int:
    counts: int = body["allegations"][party]["made"]
    return counts


def test_the_seed_and_a_retraction_by_both_clocks(imported: Server) -> None:
    with httpx.Client(base_url=imported.base_url, timeout=30) as http:
        status = f"/v1/conflicts/{CONFLICT}/status"
        # The retraction occurred on the 25th and was recorded an hour later.
        known_now = http.get(status, params={"as_of": "2022-09-26T00:00:00Z"}).json()
        known_then = http.get(
            status,
            params={"as_of": "2022-09-26T00:00:00Z", "known_at": "2022-09-24T00:00:00Z"},
        ).json()
        before_it = http.get(status, params={"as_of": "2022-09-24T00:00:00Z"}).json()
        assert made(known_now, "Azerbaijan") == 0
        assert made(known_then, "Azerbaijan") == 1
        assert made(before_it, "Azerbaijan") == 1  # nothing after as_of shows
        assert made(known_now, "Armenia") == made(known_then, "Armenia") == 1
        assert known_now["state"] == known_then["state"] == "contested"  # Armenia's stands
        assert known_then["known_at"] == "2022-09-24T00:00:00Z"

        allegations = f"/v1/conflicts/{CONFLICT}/allegations"
        now = http.get(allegations).json()
        then = http.get(allegations, params={"known_at": "2022-09-24T00:00:00Z"}).json()
        assert now["totals"]["Armenia"]["incidents_received"] == 0
        assert then["totals"]["Armenia"]["incidents_received"] == 3

        # the original stays in the log
        feed = http.get(f"/v1/conflicts/{CONFLICT}/events").json()["events"]
        assert [e["type"] for e in feed][-1] == "allegation.retracted"
        assert AZERBAIJANS in {e["id"] for e in feed}


def test_the_timeline_shows_the_retraction_and_the_state_each_event_led_to(
    imported: Server,
) -> None:
    with httpx.Client(base_url=imported.base_url, timeout=30) as http:
        url = f"/v1/conflicts/{CONFLICT}/timeline"
        story = http.get(url).json()
        then = http.get(url, params={"known_at": "2022-09-24T00:00:00Z"}).json()
    assert [(e["type"], e["state"]) for e in story["entries"]] == [
        ("agreement.signed", "holding"),
        ("agreement.collapsed", "collapsed"),
        ("mission.dispatched", "collapsed"),
        ("agreement.signed", "holding"),
        # withdrawn on the 25th: on the 22nd it contested the agreement
        ("violation.alleged", "contested"),
        ("violation.alleged", "contested"),
    ]
    withdrawn = story["entries"][4]
    assert withdrawn["id"] == AZERBAIJANS and withdrawn["retracted"] is True
    assert "since retracted" in withdrawn["summary"]
    (note,) = withdrawn["notes"]
    assert note["type"] == "allegation.retracted" and note["retracted_by"] == "Azerbaijan"
    assert note["recorded_at"] == RETRACTED_ON
    assert then["entries"][4]["retracted"] is False and then["entries"][4]["notes"] == []
    assert then["entries"][4]["state"] == "contested"
    assert [e["occurred_at"] for e in story["entries"]] == sorted(
        e["occurred_at"] for e in story["entries"]
    )


async def test_corrections_and_retractions_through_the_api(
    client: httpx.AsyncClient, keys: Keys, conflict: str
) -> None:
    signed = await post(client, keys, agreement(conflict))
    alleged = await post(client, keys, allegation(conflict))
    data = {"alleged_by": "Armenia", "accused": "Azerbaijan", "incidents": 4}
    fix = event(
        conflict,
        "event.corrected",
        {
            "event_id": alleged["id"],
            "event_type": "violation.alleged",
            "data": data,
            "reason": "four positions, not one",
        },
        "2022-09-24T10:00:00Z",
    )
    await post(client, keys, fix)
    status = (await client.get(f"/v1/conflicts/{conflict}/status")).json()
    assert status["allegations"]["Armenia"]["incidents_made"] == 4
    story = (await client.get(f"/v1/conflicts/{conflict}/timeline")).json()
    entry = next(e for e in story["entries"] if e["id"] == alleged["id"])
    assert entry["data"]["incidents"] == 4 and entry["original_data"]["incidents"] == 1
    assert entry["occurred_at"] == "2022-09-23T03:40:00Z"  # it keeps its place in time
    assert [n["reason"] for n in entry["notes"]] == ["four positions, not one"]

    def refused(body: dict[str, Any]) -> Any:
        return client.post("/v1/events", json=body, headers=keys.header(keys.writer))

    wrong_party = event(
        conflict,
        "allegation.retracted",
        {"allegation_id": alleged["id"], "retracted_by": "Azerbaijan"},
        "2022-09-25T00:00:00Z",
    )
    assert problem_of(await refused(wrong_party), 422, "domain-rule")["rule"] == (
        "not-the-alleging-party"
    )
    unknown = {**wrong_party, "data": {"allegation_id": str(uuid.uuid4()), "retracted_by": "x"}}
    assert problem_of(await refused(unknown), 422, "domain-rule")["rule"] == "unknown-event"
    mismatch = {**fix, "id": str(uuid.uuid4())}
    mismatch["data"] = {**fix["data"], "event_id": signed["id"]}
    assert problem_of(await refused(mismatch), 422, "domain-rule")["rule"] == (
        "correction-type-mismatch"
    )
    invalid = {**fix, "id": str(uuid.uuid4())}
    invalid["data"] = {**fix["data"], "data": {"alleged_by": "Armenia"}}
    problem_of(await refused(invalid), 422, "validation-error")

    withdraw = {**wrong_party, "data": {"allegation_id": alleged["id"], "retracted_by": "Armenia"}}
    await post(client, keys, withdraw)
    status = (await client.get(f"/v1/conflicts/{conflict}/status")).json()
    assert status["allegations"]["Armenia"]["made"] == 0 and status["state"] == "holding"
    again = {**withdraw, "id": str(uuid.uuid4())}
    assert problem_of(await refused(again), 422, "domain-rule")["rule"] == "already-retracted"
