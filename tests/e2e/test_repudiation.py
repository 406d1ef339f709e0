"""Parties that leave an agreement, and talks, through a real server on every database: the
Colombian ceasefire announcement the ELN said it never agreed to and Russia's withdrawal from the
Black Sea Grain Initiative (``tests/fixtures``), what HTTP adds to the views the contract tests
read (the JSON, the feed, the page), the 422 problems for nonsense, and the sweep: every read at
every moment and at the recording times around each repudiation answers.

A server and database of the module's own: the sweep reads the site-wide views (the conflict
list, the page) at many moments."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Keys, OwnServer, problem_of
from tests.e2e.sweep import instant, unanswered_as_of, unanswered_known_at

FIXTURES = Path(__file__).parent.parent / "fixtures"
GOV = "Government of Colombia"
WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class Conflict:
    slug: str
    #: The recording time of each event, in the file's order.
    recorded: list[str]
    occurred: list[datetime]


@dataclass(frozen=True)
class Loaded:
    http: httpx.Client
    writer: dict[str, str]
    colombia: Conflict
    grain: Conflict


def _load(http: httpx.Client, writer: dict[str, str], name: str) -> Conflict:
    slug = f"{name.split('-')[0]}-{uuid.uuid4().hex[:8]}"
    recorded, occurred = [], []
    for line in (FIXTURES / name).read_text().splitlines():
        body = {**json.loads(line), "id": str(uuid.uuid4()), "conflict": slug}
        response = http.post("/v1/events", json=body, headers=writer)
        assert response.status_code == 201, response.text
        recorded.append(response.json()["recorded_at"])
        occurred.append(instant(body["occurred_at"]))
    return Conflict(slug, recorded, sorted(occurred))


@pytest.fixture(scope="module")
def loaded(own_server: OwnServer) -> Iterator[Loaded]:
    writer = Keys.header(own_server.keys.writer)
    with httpx.Client(base_url=own_server.server.base_url, timeout=30) as http:
        yield Loaded(
            http,
            writer,
            _load(http, writer, "colombia-2022-12-eln.ndjson"),
            _load(http, writer, "black-sea-grain-2023-07.ndjson"),
        )


def _get(loaded: Loaded, path: str, **params: str) -> dict[str, Any]:
    response = loaded.http.get(path, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_the_status_says_who_disputes_and_who_withdrew(loaded: Loaded) -> None:
    colombia = _get(
        loaded, f"/v1/conflicts/{loaded.colombia.slug}/status", as_of="2023-01-02T12:00:00Z"
    )
    (eln,) = [a for a in colombia["agreements"] if a["agreement_id"] == "2023-01-ceasefire-eln"]
    assert (eln["unilateral"], eln["declared_by"], eln["committed"]) == (True, GOV, [GOV])
    assert eln["disputed_by"][0]["party"] == "ELN"
    grain = _get(loaded, f"/v1/conflicts/{loaded.grain.slug}/status")
    (initiative,) = grain["agreements"]
    assert initiative["withdrawals"][0]["party"] == "Russia"
    assert initiative["withdrawals"][0]["occurred_at"] == "2023-07-17T09:00:00Z"
    assert (initiative["declared_by"], initiative["committed"]) == ("Ukraine", ["Ukraine"])


def test_the_feed_and_the_page_tell_them(loaded: Loaded) -> None:
    slug = loaded.colombia.slug
    feed = loaded.http.get(f"/v1/conflicts/{slug}/feed.atom")
    assert feed.status_code == 200
    assert "ELN said it never agreed to 2023-01-ceasefire-eln" in feed.text
    assert "talks.suspended" in feed.text and "talks.resumed" in feed.text
    page = loaded.http.get(f"/conflicts/{slug}", params={"as_of": "2023-01-02T12:00:00Z"})
    assert page.status_code == 200
    assert "Disputed by ELN, which says it never agreed" in page.text


@pytest.mark.parametrize(
    ("data", "rule"),
    [
        ({"agreement_id": "nope", "party": "ELN"}, "unknown-agreement"),
        ({"party": "Segunda Marquetalia"}, "not-a-party"),
        ({}, "already-repudiated"),
        ({"party": GOV, "never_agreed": True}, "nobody-bound"),
        ({"party": GOV, "occurred_at": "2023-07-02T00:00:00Z"}, "agreement-ended"),
    ],
)
def test_nonsense_is_a_422_problem(loaded: Loaded, data: dict[str, Any], rule: str) -> None:
    data = dict(data)  # the parameter is shared by every database's run
    when = data.pop("occurred_at", "2023-01-04T12:00:00Z")
    body = {
        "type": "agreement.repudiated",
        "conflict": loaded.colombia.slug,
        "occurred_at": when,
        "source": {"name": "test desk"},
        "data": {
            "agreement_id": "2023-01-ceasefire-eln",
            "party": "ELN",
            "never_agreed": False,
            "statement": "Test.",
        }
        | data,
    }
    response = loaded.http.post("/v1/events", json=body, headers=loaded.writer)
    assert problem_of(response, 422, "domain-rule")["rule"] == rule


def test_a_party_no_actor_has_is_no_party(loaded: Loaded) -> None:
    body = {
        "type": "agreement.repudiated",
        "conflict": loaded.grain.slug,
        "occurred_at": "2023-07-18T00:00:00Z",
        "source": {"name": "test desk"},
        "data": {
            "agreement_id": "black-sea-grain-initiative",
            "party": "Ukrain",
            "never_agreed": False,
            "statement": "Test.",
        },
    }
    response = loaded.http.post("/v1/events", json=body, headers=loaded.writer)
    assert problem_of(response, 422, "domain-rule")["rule"] == "not-a-party"


def test_no_read_answers_500_at_any_moment(loaded: Loaded) -> None:
    for conflict in (loaded.colombia, loaded.grain):
        assert unanswered_as_of(loaded.http, conflict.slug, conflict.occurred, WINDOW) == []


def test_no_read_answers_500_around_each_repudiations_recording(loaded: Loaded) -> None:
    for conflict, index in ((loaded.colombia, 8), (loaded.grain, 1)):
        recorded = instant(conflict.recorded[index])
        around = [
            (recorded + d).isoformat().replace("+00:00", "Z")
            for d in (-timedelta(microseconds=1), timedelta(0))
        ]
        assert unanswered_known_at(loaded.http, conflict.slug, conflict.occurred, around) == []
