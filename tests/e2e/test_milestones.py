"""A deadline inside an open-ended ceasefire, through a real server on every database: the
Israeli withdrawal from southern Lebanon, due 60 days after the cessation of hostilities of
27 November 2024 and extended on 26 January 2025 to 18 February
(``tests/fixtures/israel-lebanon-2024-cessation.ndjson``, sources in each event).

What HTTP adds to the unit and contract tests: the views carry the milestones (status, the
timeline, the page), nonsense is a 422 problem naming its rule, and a view of now is tagged
until the next due time. (The sweep of every view at every moment, the due times included,
runs on this fixture in ``test_actors.py``, on a server of its own.)
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Keys, Server, problem_of

FIXTURE = Path(__file__).parent.parent / "fixtures" / "israel-lebanon-2024-cessation.ndjson"
AGREEMENT, WITHDRAWAL = "2024-11-cessation", "israeli-withdrawal"


@dataclass(frozen=True)
class Loaded:
    http: httpx.Client
    slug: str
    writer: dict[str, str]


@pytest.fixture(scope="module")
def loaded(server: Server, keys: Keys) -> Iterator[Loaded]:
    slug = f"israel-lebanon-{uuid.uuid4().hex[:8]}"
    writer = Keys.header(keys.writer)
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        for line in FIXTURE.read_text().splitlines():
            body = {**json.loads(line), "id": str(uuid.uuid4()), "conflict": slug}
            response = http.post("/v1/events", json=body, headers=writer)
            assert response.status_code == 201, response.text
        yield Loaded(http, slug, writer)


def _get(loaded: Loaded, path: str, **params: str) -> Any:
    response = loaded.http.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(
    ("as_of", "state", "due", "next_due"),
    [
        ("2025-01-20T00:00:00Z", "pending", "2025-01-26T02:00:00Z", "2025-01-26T02:00:00Z"),
        ("2025-01-26T12:00:00Z", "overdue", "2025-01-26T02:00:00Z", None),
        ("2025-02-01T00:00:00Z", "pending", "2025-02-17T22:00:00Z", "2025-02-17T22:00:00Z"),
        ("2025-02-20T00:00:00Z", "overdue", "2025-02-17T22:00:00Z", None),
    ],
)
def test_the_status_carries_the_deadline_and_the_cessation_holds(
    loaded: Loaded, as_of: str, state: str, due: str, next_due: str | None
) -> None:
    status = _get(loaded, f"/v1/conflicts/{loaded.slug}/status", as_of=as_of)
    assert status["state"] == "holding"
    agreement = status["agreement"]
    assert (agreement["agreement_id"], agreement["expires_at"]) == (AGREEMENT, None)
    (milestone,) = agreement["milestones"]
    assert (milestone["milestone_id"], milestone["state"], milestone["due_at"]) == (
        WITHDRAWAL,
        state,
        due,
    )
    deadline = agreement["next_deadline"]
    assert (deadline and deadline["due_at"]) == next_due
    assert status["agreements"][0]["milestones"] == [milestone]


def test_the_timeline_and_the_page_show_the_milestone(loaded: Loaded) -> None:
    timeline = _get(loaded, f"/v1/conflicts/{loaded.slug}/timeline")
    (entry,) = [e for e in timeline["entries"] if e["type"] == "milestone.extended"]
    assert entry["milestone_state"] == "pending"
    assert entry["agreement_id"] == AGREEMENT
    response = loaded.http.get(
        f"/conflicts/{loaded.slug}", params={"as_of": "2025-01-26T12:00:00Z"}
    )
    assert response.status_code == 200
    assert f'data-milestone="{WITHDRAWAL}"' in response.text
    assert "milestone-overdue" in response.text


def _event(loaded: Loaded, type_: str, **data: Any) -> dict[str, Any]:
    return {
        "type": type_,
        "conflict": loaded.slug,
        "occurred_at": "2025-02-20T12:00:00+02:00",
        "source": {"name": "test desk"},
        "data": data,
    }


@pytest.mark.parametrize(
    ("data", "rule"),
    [
        (
            {"milestone_id": "prisoner-exchange", "due_at": "2025-03-01T00:00:00Z"},
            "unknown-milestone",
        ),
        (
            {"milestone_id": WITHDRAWAL, "due_at": "2025-02-17T22:00:00Z"},
            "milestone-extension-not-later",
        ),
    ],
)
def test_a_bad_extension_is_a_422_naming_its_rule(
    loaded: Loaded, data: dict[str, Any], rule: str
) -> None:
    body = _event(loaded, "milestone.extended", agreement_id=AGREEMENT, **data)
    response = loaded.http.post("/v1/events", json=body, headers=loaded.writer)
    assert problem_of(response, 422, "domain-rule")["rule"] == rule


def test_the_agreement_itself_is_still_not_extended(loaded: Loaded) -> None:
    body = _event(
        loaded, "agreement.extended", agreement_id=AGREEMENT, expires_at="2025-03-01T00:00:00Z"
    )
    response = loaded.http.post("/v1/events", json=body, headers=loaded.writer)
    assert problem_of(response, 422, "domain-rule")["rule"] == "not-fixed-term"


def test_duplicate_milestone_ids_are_a_422(loaded: Loaded) -> None:
    twice = {"milestone_id": "m", "description": "d", "due_at": "2025-04-01T00:00:00Z"}
    body = _event(
        loaded,
        "agreement.signed",
        agreement_id="2025-02-second",
        parties=["Israel", "Hezbollah"],
        milestones=[twice, twice],
    )
    response = loaded.http.post("/v1/events", json=body, headers=loaded.writer)
    problem = problem_of(response, 422, "validation-error")
    assert "milestone ids must be distinct" in json.dumps(problem)


def _truce_due_in(http: httpx.Client, keys: Keys, seconds: int) -> tuple[str, httpx.Response]:
    """A truce signed yesterday with a milestone due ``seconds`` from now, and its status."""
    slug = f"deadline-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC).replace(microsecond=0)
    body = {
        "type": "agreement.signed",
        "conflict": slug,
        "occurred_at": (now - timedelta(days=1)).isoformat(),
        "source": {"name": "test desk"},
        "data": {
            "agreement_id": "truce",
            "parties": ["North", "South"],
            "milestones": [
                {
                    "milestone_id": "exchange",
                    "description": "A prisoner exchange (SYNTHETIC)",
                    "due_at": (now + timedelta(seconds=seconds)).isoformat(),
                }
            ],
        },
    }
    created = http.post("/v1/events", json=body, headers=Keys.header(keys.writer))
    assert created.status_code == 201, created.text
    return slug, http.get(f"/v1/conflicts/{slug}/status")


def test_a_long_poll_of_now_is_answered_when_a_milestone_falls_due(
    server: Server, keys: Keys
) -> None:
    """No event follows the signing: the status of now changes only because the clock passes
    the milestone's due time, which its tag names, so a long-poll with that tag is answered
    then with the milestone overdue (not with a 304 after the wait)."""
    with httpx.Client(base_url=server.base_url, timeout=90) as http:
        for seconds in (3, 10, 30):  # a machine too slow to read it before it fell due: again
            slug, first = _truce_due_in(http, keys, seconds)
            if first.json()["agreement"]["milestones"][0]["state"] == "pending":
                break
        assert first.json()["agreement"]["next_deadline"]["milestone_id"] == "exchange"
        waited = http.get(
            f"/v1/conflicts/{slug}/status",
            headers={"If-None-Match": first.headers["etag"], "Prefer": "wait=60"},
        )
    assert waited.status_code == 200, waited.text
    assert waited.json()["agreement"]["milestones"][0]["state"] == "overdue"
    assert waited.json()["agreement"]["next_deadline"] is None
    assert waited.headers["etag"] != first.headers["etag"]
