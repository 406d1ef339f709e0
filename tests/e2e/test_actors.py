"""Every name resolves to one actor, or is refused: through a real server on every database,
the Israel-Lebanon cessation of hostilities of 26-27 November 2024 (parties Israel and
Hezbollah, mediated by the United States and France, a US-chaired monitoring mechanism with
France and UNIFIL, and the first exchange of accusations on 2 December; sources in each event).

The Israeli claim of 2 December is sent spelt "Hizbollah" (SYNTHETIC: the spelling of some of
the press, not of that source): it is stored under Hezbollah, with what was written. A name no
actor has ("Hezbolah") is a 422 that suggests the actor. ``/actors`` lists kinds, aliases and
roles, and every view still answers at every moment.
"""

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

from tests.e2e.conftest import Keys, OwnServer
from tests.e2e.sweep import instant, unanswered_as_of, unanswered_known_at

FIXTURE = Path(__file__).parent.parent / "fixtures" / "israel-lebanon-2024-cessation.ndjson"
CESSATION = "2024-11-cessation"
#: The fixture's Israeli claim of 2 December, sent misspelt.
ISRAELI_CLAIM = "1b0a0000-2024-4b26-8000-000000000005"


@dataclass(frozen=True)
class Loaded:
    http: httpx.Client
    slug: str
    keys: Keys
    recorded: list[str]
    occurred: list[datetime]
    ids: dict[str, str]


@pytest.fixture(scope="module")
def loaded(own_server: OwnServer) -> Iterator[Loaded]:
    server, keys = own_server.server, own_server.keys
    slug = f"israel-lebanon-{uuid.uuid4().hex[:8]}"
    ids: dict[str, str] = {}
    recorded = []
    bodies = []
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        for line in FIXTURE.read_text().splitlines():
            raw = json.loads(line)
            ids[raw["id"]] = str(uuid.uuid4())
            body = {**raw, "id": ids[raw["id"]], "conflict": slug}
            if raw["id"] == ISRAELI_CLAIM:
                body["data"] = {**body["data"], "accused": "Hizbollah"}
            response = http.post("/v1/events", json=body, headers=Keys.header(keys.writer))
            assert response.status_code == 201, response.text
            recorded.append(response.json()["recorded_at"])
            bodies.append(body)
        occurred = sorted(instant(b["occurred_at"]) for b in bodies)
        yield Loaded(http, slug, keys, recorded, occurred, ids)


def _get(loaded: Loaded, path: str, **params: str) -> Any:
    response = loaded.http.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_misspelt_party_is_stored_as_the_actor_with_what_was_written(loaded: Loaded) -> None:
    events = _get(loaded, f"/v1/conflicts/{loaded.slug}/events")["events"]
    (claim,) = [e for e in events if e["id"] == loaded.ids[ISRAELI_CLAIM]]
    assert claim["data"]["accused"] == "Hezbollah"
    assert claim["data"]["as_written"] == {"accused": "Hizbollah"}
    # Counted against Hezbollah, under the cessation: the conflict is contested.
    status = _get(loaded, f"/v1/conflicts/{loaded.slug}/status", as_of="2024-12-02T12:00:00Z")
    assert status["state"] == "contested"
    assert status["allegations"]["Hezbollah"]["received"] == 1
    assert status["allegations"]["Israel"]["received"] == 1


def test_the_same_post_again_is_an_idempotent_retry(loaded: Loaded) -> None:
    raw = next(
        json.loads(line)
        for line in FIXTURE.read_text().splitlines()
        if json.loads(line)["id"] == ISRAELI_CLAIM
    )
    body = {
        **raw,
        "id": loaded.ids[ISRAELI_CLAIM],
        "conflict": loaded.slug,
        "data": {**raw["data"], "accused": "Hizbollah"},
    }
    response = loaded.http.post("/v1/events", json=body, headers=Keys.header(loaded.keys.writer))
    assert response.status_code == 200, response.text


def test_an_unknown_name_is_refused_with_the_closest_actor(loaded: Loaded) -> None:
    body = {
        "type": "violation.alleged",
        "conflict": loaded.slug,
        "occurred_at": "2024-12-03T10:00:00Z",
        "source": {"name": "test desk"},
        "data": {"alleged_by": "Israel", "accused": "Hezbolah"},
    }
    response = loaded.http.post("/v1/events", json=body, headers=Keys.header(loaded.keys.writer))
    assert response.status_code == 422, response.text
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert problem["type"] == "/problems/unknown-actor"
    assert problem["rule"] == "unknown-actor"
    assert problem["name"] == "Hezbolah"
    assert problem["did_you_mean"] == ["Hezbollah"]
    assert "did you mean 'Hezbollah'?" in problem["detail"]
    # Nothing was written.
    events = _get(loaded, f"/v1/conflicts/{loaded.slug}/events")["events"]
    assert len(events) == len(loaded.recorded)


def test_an_alias_of_another_actor_is_refused(loaded: Loaded) -> None:
    body = {
        "type": "actor.registered",
        "conflict": loaded.slug,
        "occurred_at": "2024-12-03T10:00:00Z",
        "source": {"name": "test desk"},
        "data": {"name": "Lebanon", "kind": "state", "aliases": ["Hizbullah"]},
    }
    response = loaded.http.post("/v1/events", json=body, headers=Keys.header(loaded.keys.writer))
    assert response.status_code == 422, response.text
    assert response.json()["rule"] == "alias-taken"


def test_the_actors_with_their_kinds_aliases_and_roles(loaded: Loaded) -> None:
    view = _get(loaded, f"/v1/conflicts/{loaded.slug}/actors")
    assert view["as_of"] is None
    actors = {a["name"]: a for a in view["actors"]}
    assert sorted(actors) == ["France", "Hezbollah", "Israel", "UNIFIL", "United States"]
    hezbollah = actors["Hezbollah"]
    assert hezbollah["kind"] == "armed_group"
    assert hezbollah["aliases"] == ["Hizbollah", "Hizbullah"]
    assert hezbollah["roles"] == ["party"] and hezbollah["party_to"] == [CESSATION]
    assert actors["Israel"]["kind"] == "state"
    us = actors["United States"]
    assert us["roles"] == ["mediator", "monitor"] and us["kind"] is None
    assert us["mediator_of"] == [CESSATION] and us["monitor_of"] == ["2024-11-mechanism"]
    assert actors["France"]["roles"] == ["mediator", "monitor"]
    assert actors["UNIFIL"]["roles"] == ["monitor"]


def test_the_actors_at_an_earlier_moment(loaded: Loaded) -> None:
    """Before the mechanism's work began, nobody monitors and UNIFIL is no actor yet."""
    view = _get(loaded, f"/v1/conflicts/{loaded.slug}/actors", as_of="2024-11-26T20:00:00Z")
    actors = {a["name"]: a for a in view["actors"]}
    assert "UNIFIL" not in actors
    assert actors["United States"]["roles"] == ["mediator"]
    before = _get(loaded, f"/v1/conflicts/{loaded.slug}/actors", as_of="2024-11-01T00:00:00Z")
    assert before["actors"] == []


def test_the_actors_as_the_log_said_before_the_registration(loaded: Loaded) -> None:
    """known_at: before Hezbollah was registered, nothing was known of it."""
    view = _get(loaded, f"/v1/conflicts/{loaded.slug}/actors", known_at=loaded.recorded[0])
    (only,) = view["actors"]
    assert only["name"] == "Hezbollah" and only["registered"] is True
    assert only["roles"] == []  # no agreement was known yet
    before = _get(loaded, f"/v1/conflicts/{loaded.slug}/actors", known_at="2000-01-01T00:00:00Z")
    assert before["actors"] == []


def test_the_actors_view_is_a_conditional_read(loaded: Loaded) -> None:
    path = f"/v1/conflicts/{loaded.slug}/actors"
    first = loaded.http.get(path)
    assert first.status_code == 200 and first.headers["etag"].startswith('"')
    again = loaded.http.get(path, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304


def test_no_read_answers_500_at_any_moment(loaded: Loaded) -> None:
    # The withdrawal deadline's due times, as signed and as extended: views change there too.
    due = [instant("2025-01-26T02:00:00Z"), instant("2025-02-17T22:00:00Z")]
    assert unanswered_as_of(loaded.http, loaded.slug, loaded.occurred, timedelta(days=7), due) == []


def test_no_read_answers_500_at_any_known_at(loaded: Loaded) -> None:
    assert unanswered_known_at(loaded.http, loaded.slug, loaded.occurred, loaded.recorded) == []
