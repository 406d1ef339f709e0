"""Findings, ongoing violations and aggregate reports through a real server on every
database (issue 18), on real histories (sources in the fixtures): the Israel-Lebanon cessation
of hostilities with UNIFIL's finding of 26 December 2024 and its count of 20 November 2025, and
the ELN's twelve-day kidnapping of Luis Manuel Díaz during the 2023 bilateral ceasefire. What
HTTP adds to the contract tests: the JSON as clients see it (a report's ``from`` and ``to``),
the page's "contested — a finding by …", and no read answering 500 at any moment that matters
(each event's time, each ongoing violation's end, each report's period) or any ``known_at``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Keys, OwnServer
from tests.e2e.sweep import times_of, unanswered_as_of, unanswered_known_at

FIXTURES = Path(__file__).parent.parent / "fixtures"
HISTORIES = {
    "il": ("israel-lebanon-2024-cessation.ndjson", "israel-lebanon-2024-findings.ndjson"),
    "co": ("colombia-eln-2023-kidnapping.ndjson",),
    "cw": ("colombia-eln-2023-kidnapping.ongoing.ndjson",),  # recorded while he was held
}


@dataclass(frozen=True)
class Loaded:
    http: httpx.Client
    slugs: dict[str, str]
    bodies: dict[str, list[dict[str, Any]]]
    recorded: dict[str, list[str]]
    writer: str


@pytest.fixture(scope="module")
def loaded(own_server: OwnServer) -> Iterator[Loaded]:
    server, keys = own_server.server, own_server.keys
    slugs = {key: f"{key}-{uuid.uuid4().hex[:8]}" for key in HISTORIES}
    bodies: dict[str, list[dict[str, Any]]] = {}
    recorded: dict[str, list[str]] = {}
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        for key, names in HISTORIES.items():
            text = "\n".join((FIXTURES / n).read_text() for n in names)
            raw = [json.loads(line) for line in text.splitlines() if line.strip()]
            for old in [r["id"] for r in raw]:
                text = text.replace(old, str(uuid.uuid4()))
            bodies[key] = [
                {**json.loads(line), "conflict": slugs[key]}
                for line in text.splitlines()
                if line.strip()
            ]
            recorded[key] = []
            for body in bodies[key]:
                response = http.post("/v1/events", json=body, headers=Keys.header(keys.writer))
                assert response.status_code == 201, response.text
                recorded[key].append(response.json()["recorded_at"])
        yield Loaded(http, slugs, bodies, recorded, keys.writer)


def _get(loaded: Loaded, path: str, **params: str) -> Any:
    response = loaded.http.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_no_read_answers_500_at_any_moment(loaded: Loaded) -> None:
    for key, slug in loaded.slugs.items():
        times = times_of(loaded.bodies[key])
        assert unanswered_as_of(loaded.http, slug, times, timedelta(days=7)) == [], key


def test_no_read_answers_500_at_any_known_at(loaded: Loaded) -> None:
    for key in ("co", "cw"):
        slug, bodies = loaded.slugs[key], loaded.bodies[key]
        failures = unanswered_known_at(loaded.http, slug, times_of(bodies), loaded.recorded[key])
        assert failures == [], key


def test_a_un_finding_reads_apart_from_claims(loaded: Loaded) -> None:
    slug = loaded.slugs["il"]
    status = _get(loaded, f"/v1/conflicts/{slug}/status", as_of="2024-12-27T00:00:00Z")
    assert (status["state"], status["since"]) == ("contested", "2024-12-26T10:00:00Z")
    agreement = status["agreement"]
    assert agreement["findings"] == {
        "count": 1,
        "latest_at": "2024-12-26T10:00:00Z",
        "latest_by": "UNIFIL",
    }
    assert agreement["claims"]["count"] == 2 and agreement["third_party"]["count"] == 0
    page = loaded.http.get(f"/conflicts/{slug}", params={"as_of": "2024-12-27T00:00:00Z"}).text
    assert "— a finding by UNIFIL" in page


def test_a_report_reads_with_its_period(loaded: Loaded) -> None:
    slug = loaded.slugs["il"]
    status = _get(loaded, f"/v1/conflicts/{slug}/status", as_of="2025-11-21T00:00:00Z")
    assert status["state"] == "contested"
    reported = status["agreement"]["reported"]
    assert (reported["reports"], reported["violations"]) == (1, 10000)
    latest = reported["latest"]
    assert (latest["from"], latest["to"]) == ("2024-11-27T02:00:00Z", "2025-11-20T10:00:00Z")
    assert latest["role"] == "monitor" and latest["by_party"] == {"Israel": 10000}
    listed = _get(loaded, f"/v1/conflicts/{slug}/allegations", as_of="2025-11-21T00:00:00Z")
    assert [r["count"] for r in listed["agreements"][0]["reports"]] == [10000]
    # A period that holds the report's lists it; one that does not, does not.
    year = _get(
        loaded,
        f"/v1/conflicts/{slug}/allegations",
        **{"from": "2024-11-01T00:00:00Z", "to": "2025-12-01T00:00:00Z"},
    )
    assert len(year["agreements"][0]["reports"]) == 1
    december = _get(
        loaded,
        f"/v1/conflicts/{slug}/allegations",
        **{"from": "2024-12-01T00:00:00Z", "to": "2025-01-01T00:00:00Z"},
    )
    assert december["agreements"][0]["reports"] == []
    entries = _get(loaded, f"/v1/conflicts/{slug}/timeline")["entries"]
    (entry,) = [e for e in entries if e["type"] == "violations.reported"]
    assert entry["state"] == "contested" and "UNIFIL reported 10000 violations" in entry["summary"]


def test_the_kidnapping_is_ongoing_until_the_release(loaded: Loaded) -> None:
    slug = loaded.slugs["co"]
    held = _get(loaded, f"/v1/conflicts/{slug}/allegations", as_of="2023-11-06T00:00:00Z")
    (allegation,) = held["agreements"][0]["allegations"]
    assert allegation["ongoing"] is True and allegation["ended_at"] is None
    status = _get(loaded, f"/v1/conflicts/{slug}/status", as_of="2023-11-16T15:00:00Z")
    assert (status["state"], status["since"]) == ("contested", "2023-10-28T17:00:00Z")
    status = _get(loaded, f"/v1/conflicts/{slug}/status", as_of="2023-11-16T16:00:00Z")
    assert (status["state"], status["since"]) == ("holding", "2023-11-16T15:30:00Z")


def test_the_kidnapping_recorded_while_held_goes_on_until_the_release_is_recorded(
    loaded: Loaded,
) -> None:
    slug, bodies = loaded.slugs["cw"], loaded.bodies["cw"]
    alleged = next(i for i, b in enumerate(bodies) if b["type"] == "violation.alleged")
    known_at = loaded.recorded["cw"][alleged]  # the release not recorded yet
    status_path, listed_path = f"/v1/conflicts/{slug}/status", f"/v1/conflicts/{slug}/allegations"
    status = _get(loaded, status_path, as_of="2023-12-31T00:00:00Z", known_at=known_at)
    assert (status["state"], status["since"]) == ("contested", "2023-10-28T17:00:00Z")
    held = _get(loaded, listed_path, as_of="2023-11-17T17:00:00Z", known_at=known_at)
    (allegation,) = held["agreements"][0]["allegations"]
    assert allegation["ongoing"] is True and allegation["ended_at"] is None
    status = _get(loaded, status_path, as_of="2023-11-17T17:00:00Z")
    assert (status["state"], status["since"]) == ("holding", "2023-11-16T15:30:00Z")
    released = _get(loaded, listed_path, as_of="2023-11-17T17:00:00Z")
    (allegation,) = released["agreements"][0]["allegations"]
    assert allegation["ongoing"] is False and allegation["ended_at"] == "2023-11-09T15:30:00Z"


def _refused(loaded: Loaded, data: dict[str, Any], type_: str = "violations.reported") -> Any:
    body = {
        "type": type_,
        "conflict": loaded.slugs["il"],
        "occurred_at": "2025-12-01T00:00:00Z",
        "source": {"name": "Synthetic test source"},
        "data": data,
    }
    response = loaded.http.post("/v1/events", json=body, headers=Keys.header(loaded.writer))
    assert response.status_code == 422, response.text
    return response.json()


def test_bad_reports_and_ends_are_problems_not_500s(loaded: Loaded) -> None:
    report = {"reported_by": "UNIFIL", "from": "2025-11-01T00:00:00Z", "count": 3}
    late = _refused(loaded, {**report, "to": "2025-12-02T00:00:00Z"})
    assert late["rule"] == "report-before-period-end"
    backwards = _refused(loaded, {**report, "to": "2025-10-01T00:00:00Z"})
    assert backwards["type"].endswith("/validation-error")
    nobody = _refused(loaded, {**report, "to": "2025-11-30T00:00:00Z", "by_party": {"Hezbolah": 1}})
    assert nobody["type"].endswith("/unknown-actor") and "Hezbollah" in nobody["did_you_mean"]
    party = _refused(
        loaded,
        {**report, "to": "2025-11-30T00:00:00Z", "reported_by": "Israel",
         "agreement_id": "2024-11-cessation"},
    )  # fmt: skip
    assert party["rule"] == "reporter-is-a-party"
    unknown = _refused(
        loaded,
        {"allegation_id": str(uuid.uuid4()), "ended_at": "2025-11-30T00:00:00Z"},
        "incident.ended",
    )
    assert unknown["rule"] == "unknown-event"
    both = _refused(
        loaded,
        {"alleged_by": "Israel", "accused": "Hezbollah", "ongoing": True,
         "ended_at": "2025-11-30T00:00:00Z"},
        "violation.alleged",
    )  # fmt: skip
    assert both["type"].endswith("/validation-error")
    assert any("ongoing: true says" in e["msg"] for e in both["errors"]), both
