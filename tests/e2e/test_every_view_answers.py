"""Every view answers, at every moment, whatever the allegations: through a real server on
every database, the UN-brokered Yemen truce of 2022 (renewed twice, expired unrenewed on
2 October 2022, then the al-Dhabba terminal attack of 21 October outside any agreement, and
the de facto lull the Special Envoy reported to the Security Council on 16 January 2023), with
synthetic additions that real feeds carry too: a claim by a registered third party (an actor
no agreement names), a denial, a retraction and a correction.

Every read (status, allegations, timeline, the conflict list, the page, the feed and the badge)
is tried at many ``as_of`` moments (each event's time, a second either side, the end of each
contested window, the instant each silence turns the views stale) and at every ``known_at``
the recording went through: none may answer 500, and each JSON view must be a 200. Then what
the two bugs of the actors issue got wrong is checked on its own: the allegations view with an
allegation outside every agreement, and ``last_allegation_at`` counting it; and the lull and
the freshness fields through HTTP.
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

FIXTURES = [
    Path(__file__).parent.parent / "fixtures" / name
    for name in ("yemen-2022-truce.ndjson", "yemen-2022-lull.ndjson")
]
TRUCE = "2022-04-un-truce"
GOVERNMENT, HOUTHIS = "Government of Yemen", "Ansar Allah"
#: The terminal attack, in UTC (noon in Yemen, UTC+3).
ATTACK = "2022-10-21T09:00:00Z"
#: The truce's only allegation in the fixture (3 April, noon in Yemen).
FIRST_DAY = "2022-04-03T09:00:00Z"


@dataclass(frozen=True)
class Loaded:
    http: httpx.Client
    slug: str
    #: When each append was recorded, in order: the known_at moments worth asking about.
    recorded: list[str]
    #: Every occurred_at of the conflict's events.
    occurred: list[datetime]
    ids: dict[str, str]


def _synthetic(slug: str, ids: dict[str, str]) -> list[dict[str, Any]]:
    """What the fixture does not hold but real feeds do (SYNTHETIC: names and dates invented
    for the test): a third party registered (an actor no agreement names), its claim under
    the truce and another after it, the
    accused's denial of the first-day claim, a retraction, and a correction of the attack's
    location."""
    source = {"name": "Synthetic test source"}
    observer = str(uuid.uuid4())
    late_observer = str(uuid.uuid4())
    ids["observer"], ids["late_observer"] = observer, late_observer
    attack = ids["7e2a0000-2022-4a04-8000-000000000005"]
    return [
        {
            "id": str(uuid.uuid4()),
            "type": "actor.registered",
            "conflict": slug,
            "occurred_at": "2022-05-01T00:00:00Z",
            "source": source,
            "data": {"name": "Example Observatory", "kind": "ngo"},
        },
        {
            "id": observer,
            "type": "violation.alleged",
            "conflict": slug,
            "occurred_at": "2022-05-10T08:00:00Z",
            "source": source,
            "data": {"alleged_by": "Example Observatory", "accused": HOUTHIS},
        },
        {
            "id": str(uuid.uuid4()),
            "type": "allegation.denied",
            "conflict": slug,
            "occurred_at": "2022-04-04T08:00:00Z",
            "source": source,
            "data": {
                "allegation_id": ids["7e2a0000-2022-4a04-8000-000000000002"],
                "denied_by": HOUTHIS,
            },
        },
        {
            "id": late_observer,
            "type": "violation.alleged",
            "conflict": slug,
            "occurred_at": "2022-11-01T08:00:00Z",
            "source": source,
            "data": {"alleged_by": "Example Observatory", "accused": GOVERNMENT},
        },
        {
            "id": str(uuid.uuid4()),
            "type": "allegation.retracted",
            "conflict": slug,
            "occurred_at": "2022-11-02T08:00:00Z",
            "source": source,
            "data": {"allegation_id": late_observer, "retracted_by": "Example Observatory"},
        },
        {
            "id": str(uuid.uuid4()),
            "type": "event.corrected",
            "conflict": slug,
            "occurred_at": "2022-10-22T08:00:00Z",
            "source": source,
            "data": {
                "event_id": attack,
                "event_type": "violation.alleged",
                "reason": "The terminal's name as the ministry spelt it.",
                "data": {
                    "alleged_by": GOVERNMENT,
                    "accused": HOUTHIS,
                    "location": "al-Dhabba (Dabba) oil terminal, Hadramawt",
                },
            },
        },
    ]


@pytest.fixture(scope="module")
def loaded(own_server: OwnServer) -> Iterator[Loaded]:
    server, keys = own_server.server, own_server.keys
    slug = f"yemen-{uuid.uuid4().hex[:8]}"
    ids: dict[str, str] = {}
    bodies = []
    for line in [line for fixture in FIXTURES for line in fixture.read_text().splitlines()]:
        raw = json.loads(line)
        ids[raw["id"]] = str(uuid.uuid4())
        bodies.append({**raw, "id": ids[raw["id"]], "conflict": slug})
    bodies += _synthetic(slug, ids)
    recorded = []
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        for body in bodies:
            response = http.post("/v1/events", json=body, headers=Keys.header(keys.writer))
            assert response.status_code == 201, response.text
            recorded.append(response.json()["recorded_at"])
        occurred = sorted(instant(b["occurred_at"]) for b in bodies)
        yield Loaded(http, slug, recorded, occurred, ids)


def test_no_read_answers_500_at_any_moment(loaded: Loaded) -> None:
    failures = unanswered_as_of(
        loaded.http,
        loaded.slug,
        loaded.occurred,
        timedelta(days=7),
        stale_after=timedelta(days=30),
    )
    assert failures == []


def test_no_read_answers_500_at_any_known_at(loaded: Loaded) -> None:
    assert unanswered_known_at(loaded.http, loaded.slug, loaded.occurred, loaded.recorded) == []


def _get(loaded: Loaded, path: str, **params: str) -> dict[str, Any]:
    response = loaded.http.get(path, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_an_allegation_outside_every_agreement_is_listed_without_a_role(loaded: Loaded) -> None:
    view = _get(loaded, f"/v1/conflicts/{loaded.slug}/allegations", as_of="2022-10-22T12:00:00Z")
    outside = view["outside_agreements"]["allegations"]
    attack = loaded.ids["7e2a0000-2022-4a04-8000-000000000005"]
    (listed,) = [a for a in outside if a["id"] == attack]
    assert listed["role"] is None and listed["agreement_id"] is None
    assert listed["location"] == "al-Dhabba (Dabba) oil terminal, Hadramawt"  # the correction
    assert view["outside_agreements"]["counts"][HOUTHIS]["received"] == 1
    (truce,) = view["agreements"]
    assert truce["agreement_id"] == TRUCE
    roles = {a["id"]: a["role"] for a in truce["allegations"]}
    assert roles[loaded.ids["observer"]] == "third_party"


def test_last_allegation_at_counts_allegations_outside_every_agreement(loaded: Loaded) -> None:
    as_of = "2022-10-25T00:00:00Z"
    status = _get(loaded, f"/v1/conflicts/{loaded.slug}/status", as_of=as_of)
    assert status["state"] == "expired" and status["since"] == "2022-10-02T16:00:00Z"
    assert status["last_allegation_at"] == ATTACK
    # The truce's own latest: the unknown observer's claim of 10 May.
    assert status["agreement_last_allegation_at"] == "2022-05-10T08:00:00Z"
    listed = _get(loaded, "/v1/conflicts", as_of=as_of)
    (summary,) = [c for c in listed if c["conflict"] == loaded.slug]  # type: ignore[union-attr]
    assert summary["last_allegation_at"] == ATTACK


def test_a_retracted_allegation_is_not_the_latest(loaded: Loaded) -> None:
    # The observer's claim of 1 November is withdrawn on the 2nd: before, it is the latest.
    before = _get(loaded, f"/v1/conflicts/{loaded.slug}/status", as_of="2022-11-01T12:00:00Z")
    assert before["last_allegation_at"] == "2022-11-01T08:00:00Z"
    after = _get(loaded, f"/v1/conflicts/{loaded.slug}/status", as_of="2022-11-03T00:00:00Z")
    assert after["last_allegation_at"] == ATTACK


def test_the_truce_day_by_day(loaded: Loaded) -> None:
    expected = {
        "2022-04-02T00:00:00Z": ("pending", "2022-04-01T09:00:00Z"),
        "2022-04-03T12:00:00Z": ("contested", FIRST_DAY),
        "2022-04-20T00:00:00Z": ("holding", "2022-04-10T09:00:00Z"),
        "2022-05-12T00:00:00Z": ("contested", "2022-05-10T08:00:00Z"),
        "2022-07-01T00:00:00Z": ("holding", "2022-05-17T08:00:00Z"),
        "2022-10-01T00:00:00Z": ("holding", "2022-05-17T08:00:00Z"),
        "2022-10-03T00:00:00Z": ("expired", "2022-10-02T16:00:00Z"),
    }
    got = {}
    for as_of in expected:
        status = _get(loaded, f"/v1/conflicts/{loaded.slug}/status", as_of=as_of)
        got[as_of] = (status["state"], status["since"])
    assert got == expected


def test_the_lull_after_the_truce_and_how_fresh_each_answer_is(loaded: Loaded) -> None:
    """The lull through HTTP: the state, since the observation, with the envoy's statement;
    the freshness fields on either side of 30 days of silence; the page says so; the badge
    of now says how long nothing was reported."""
    status = f"/v1/conflicts/{loaded.slug}/status"
    quiet = _get(loaded, status, as_of="2023-01-16T14:59:59Z")
    assert (quiet["state"], quiet["stale"]) == ("expired", True)
    assert quiet["last_report_at"] == "2022-11-02T08:00:00Z"  # the synthetic retraction
    assert quiet["quiet_for"] == "P75DT6H59M59S"
    lull = _get(loaded, status, as_of="2023-01-16T15:00:00Z")
    assert (lull["state"], lull["since"], lull["stale"]) == ("lull", "2023-01-16T15:00:00Z", False)
    assert lull["lull"]["observed_by"] == "United Nations" and lull["quiet_for"] == "PT0S"
    assert _get(loaded, status, as_of="2023-02-15T15:00:00Z")["stale"] is True
    listed = _get(loaded, "/v1/conflicts", as_of="2023-02-15T14:59:59Z")
    (summary,) = [c for c in listed if c["conflict"] == loaded.slug]  # type: ignore[union-attr]
    assert (summary["state"], summary["stale"]) == ("lull", False)
    assert summary["quiet_for"] == "P29DT23H59M59S"
    page = loaded.http.get(f"/conflicts/{loaded.slug}", params={"as_of": "2023-03-01T00:00:00Z"})
    assert page.status_code == 200 and "no reports since" in page.text
    assert "A de facto lull between Government of Yemen, Ansar Allah" in page.text
    badge = loaded.http.get(f"/v1/conflicts/{loaded.slug}/badge.svg")
    assert badge.status_code == 200 and "lull · no reports" in badge.text
    now = _get(loaded, status)
    assert now["stale"] is True and now["as_of"] is None and now["quiet_for"].endswith("D")
