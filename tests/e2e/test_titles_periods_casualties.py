"""What analysts asked of the views (issue 17), through a real server on every database, on the
UN-brokered Yemen truce of 2022 (``tests/fixtures/yemen-2022-truce.ndjson``, written in Yemen's
local time, UTC+3) with additions marked SYNTHETIC (names, tolls and dates invented for the
test):

- a conflict gets a title (``conflict.described``): status, ``/v1/conflicts``, the Atom feed and
  the page show it beside the slug; a later description replaces it from its recording on;
- ``/allegations?from=&to=`` counts the allegations that occurred in [from, to);
- claimed casualties, killed and injured apart (the first shape still meaning killed), summed
  per accuser and accused, per agreement and outside every agreement;
- an event keeps the UTC offset its occurred_at was written with, and the timeline, the feed
  and the page show local time beside UTC.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Keys, Server, problem_of

FIXTURE = Path(__file__).parent.parent / "fixtures" / "yemen-2022-truce.ndjson"
TRUCE = "2022-04-un-truce"
GOVERNMENT, HOUTHIS = "Government of Yemen", "Ansar Allah"
SOURCE = {"name": "Synthetic test source"}
FIRST_TITLE, TITLE = "Yemen", "Yemeni Civil War: the 2022 truce"


@dataclass(frozen=True)
class Loaded:
    http: httpx.Client
    slug: str
    #: recorded_at of each description, in order.
    described: list[str]
    #: recorded_at of the other events, in order.
    recorded: list[str]
    ids: dict[str, str]


def _describe(slug: str, title: str, countries: list[str], **more: Any) -> dict[str, Any]:
    return {
        "type": "conflict.described",
        "conflict": slug,
        "occurred_at": "2022-04-01T00:00:00Z",
        "source": SOURCE,
        "data": {"title": title, "countries": countries, "region": "Middle East", **more},
    }


def _claim(slug: str, occurred_at: str, casualties: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {
        "type": "violation.alleged",
        "conflict": slug,
        "occurred_at": occurred_at,
        "source": SOURCE,
        "data": {
            "alleged_by": GOVERNMENT,
            "accused": HOUTHIS,
            "casualties_claimed": casualties,
            **more,
        },
    }


def _range(low: int, best: int, high: int) -> dict[str, int]:
    return {"low": low, "best": best, "high": high}


@pytest.fixture(scope="module")
def loaded(server: Server, keys: Keys) -> Iterator[Loaded]:
    slug = f"yemen-{uuid.uuid4().hex[:8]}"
    ids: dict[str, str] = {}
    bodies = []
    for line in FIXTURE.read_text().splitlines():
        raw = json.loads(line)
        ids[raw["id"]] = str(uuid.uuid4())
        bodies.append({**raw, "id": ids[raw["id"]], "conflict": slug})
    # SYNTHETIC: claims with tolls, under the truce (both shapes) and after it, in UTC+3.
    bodies += [
        _claim(
            slug,
            "2022-04-05T06:00:00+03:00",
            {"killed": _range(1, 2, 3), "injured": _range(4, 5, 6)},
        ),
        _claim(slug, "2022-04-06T06:00:00+03:00", _range(0, 1, 2)),  # the first shape: killed
        _claim(slug, "2022-10-25T06:00:00+03:00", {"injured": _range(1, 1, 1)}),
    ]
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        recorded = []
        for body in bodies:
            response = http.post("/v1/events", json=body, headers=Keys.header(keys.writer))
            assert response.status_code == 201, response.text
            recorded.append(response.json()["recorded_at"])
        described = []
        for body in (
            _describe(slug, FIRST_TITLE, ["YE"]),
            _describe(slug, TITLE, ["YE", "SA"], summary="The truce, its renewals and after."),
        ):
            response = http.post("/v1/events", json=body, headers=Keys.header(keys.writer))
            assert response.status_code == 201, response.text
            described.append(response.json()["recorded_at"])
        yield Loaded(http, slug, described, recorded, ids)


def _get(loaded: Loaded, path: str, **params: str) -> dict[str, Any]:
    response = loaded.http.get(path, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# Conflicts get a title


def test_the_status_and_the_list_show_the_latest_title_beside_the_slug(loaded: Loaded) -> None:
    status = _get(loaded, f"/v1/conflicts/{loaded.slug}/status")
    assert (status["conflict"], status["title"]) == (loaded.slug, TITLE)
    assert status["description"] == {
        "title": TITLE,
        "summary": "The truce, its renewals and after.",
        "countries": ["YE", "SA"],
        "region": "Middle East",
    }
    listed = loaded.http.get("/v1/conflicts", params={"limit": 1000}).json()
    (summary,) = [c for c in listed if c["conflict"] == loaded.slug]
    assert summary["title"] == TITLE


def test_a_description_is_known_from_its_recording(loaded: Loaded) -> None:
    path = f"/v1/conflicts/{loaded.slug}/status"
    before = _get(loaded, path, known_at=loaded.recorded[-1])
    first = _get(loaded, path, known_at=loaded.described[0])
    assert (before["title"], before["description"]) == (None, None)
    assert first["title"] == FIRST_TITLE and first["description"]["countries"] == ["YE"]
    listed = loaded.http.get(
        "/v1/conflicts", params={"known_at": loaded.described[0], "limit": 1000}
    ).json()
    assert [c["title"] for c in listed if c["conflict"] == loaded.slug] == [FIRST_TITLE]


def test_the_feed_and_the_page_show_the_title(loaded: Loaded) -> None:
    feed = loaded.http.get(f"/v1/conflicts/{loaded.slug}/feed.atom")
    assert feed.status_code == 200
    assert f"<title>{TITLE}: ceasefire status</title>" in feed.text
    listed = loaded.http.get("/", params={"q": loaded.slug})  # the list, searched by slug
    assert listed.status_code == 200
    assert f'>{TITLE}</a> <small class="slug">{loaded.slug}</small>' in listed.text
    page = loaded.http.get(f"/conflicts/{loaded.slug}")
    assert page.status_code == 200
    assert f'{TITLE} <small class="slug">{loaded.slug}</small>' in page.text


@pytest.mark.parametrize(
    ("countries", "wrong"),
    [(["ye"], "ye"), (["XX"], "XX"), (["YEM"], "YEM"), (["YE", "YE"], None), ([], None)],
)
def test_countries_are_assigned_iso_3166_alpha_2_codes(
    loaded: Loaded, keys: Keys, countries: list[str], wrong: str | None
) -> None:
    response = loaded.http.post(
        "/v1/events",
        json=_describe(loaded.slug, TITLE, countries),
        headers=Keys.header(keys.writer),
    )
    body = problem_of(response, 422, "validation-error")
    assert any("countries" in error["loc"] for error in body["errors"]), body


# Period counts


def test_allegations_from_to_counts_only_the_period(loaded: Loaded) -> None:
    path = f"/v1/conflicts/{loaded.slug}/allegations"
    whole = _get(loaded, path)
    assert whole["totals"][GOVERNMENT]["made"] == 5
    # [3 April, 6 April 03:00Z): the first-day claim and the 5 April one; 6 April 03:00Z is out.
    april = _get(loaded, path, **{"from": "2022-04-03T09:00:00Z", "to": "2022-04-06T03:00:00Z"})
    assert april["totals"][GOVERNMENT]["made"] == 2
    assert april["period_from"] == "2022-04-03T09:00:00Z"
    assert april["period_to"] == "2022-04-06T03:00:00Z"
    (truce,) = april["agreements"]
    assert [a["occurred_at"] for a in truce["allegations"]] == [
        "2022-04-03T09:00:00Z",
        "2022-04-05T03:00:00Z",
    ]
    assert april["outside_agreements"]["allegations"] == []
    # With as_of as today: only what occurred by then.
    early = _get(
        loaded,
        path,
        **{"from": "2022-04-01T00:00:00Z", "to": "2022-12-01T00:00:00Z"},
        as_of="2022-04-04T00:00:00Z",
    )
    assert early["totals"][GOVERNMENT]["made"] == 1
    # And known_at: when the log knew the first day's claim only.
    first = _get(
        loaded,
        path,
        **{"from": "2022-04-01T00:00:00Z", "to": "2022-12-01T00:00:00Z"},
        known_at=loaded.recorded[1],
    )
    assert first["totals"][GOVERNMENT]["made"] == 1


@pytest.mark.parametrize(
    ("start", "end"),
    [("2022-05-01T00:00:00Z", "2022-04-01T00:00:00Z"), ("2022-05-01T00:00:00Z",) * 2],
)
def test_an_empty_or_reversed_period_is_a_422_problem(loaded: Loaded, start: str, end: str) -> None:
    response = loaded.http.get(
        f"/v1/conflicts/{loaded.slug}/allegations", params={"from": start, "to": end}
    )
    body = problem_of(response, 422, "validation-error")
    assert body["errors"][0]["loc"] == ["query", "to"]


# Casualties


def test_claimed_casualties_are_summed_per_accuser_and_accused(loaded: Loaded) -> None:
    view = _get(loaded, f"/v1/conflicts/{loaded.slug}/allegations")
    pair = {"alleged_by": GOVERNMENT, "accused": HOUTHIS}
    (truce,) = view["agreements"]
    assert truce["casualties"] == [
        pair | {"allegations": 2, "killed": _range(1, 3, 5), "injured": _range(4, 5, 6)}
    ]
    assert view["outside_agreements"]["casualties"] == [
        pair | {"allegations": 1, "killed": None, "injured": _range(1, 1, 1)}
    ]
    assert view["casualties"] == [
        pair | {"allegations": 3, "killed": _range(1, 3, 5), "injured": _range(5, 6, 7)}
    ]
    claims = {a["occurred_at"]: a["casualties_claimed"] for a in truce["allegations"]}
    assert claims["2022-04-06T03:00:00Z"] == _range(0, 1, 2)  # stored as written


def test_a_casualty_claim_needs_killed_or_injured(loaded: Loaded, keys: Keys) -> None:
    response = loaded.http.post(
        "/v1/events",
        json=_claim(loaded.slug, "2022-04-07T00:00:00Z", {}),
        headers=Keys.header(keys.writer),
    )
    problem_of(response, 422, "validation-error")


# Local times


def test_an_event_keeps_its_utc_offset_and_the_timeline_shows_local_time(loaded: Loaded) -> None:
    signed = loaded.ids["7e2a0000-2022-4a04-8000-000000000001"]
    events = _get(loaded, f"/v1/conflicts/{loaded.slug}/events")["events"]
    (stored,) = [e for e in events if e["id"] == signed]
    assert stored["occurred_at"] == "2022-04-01T09:00:00Z"  # the instant stays UTC
    assert stored["data"]["utc_offset"] == "+03:00"
    entries = _get(loaded, f"/v1/conflicts/{loaded.slug}/timeline")["entries"]
    by_id = {e["id"]: e for e in entries}
    assert by_id[signed]["occurred_at"] == "2022-04-01T09:00:00Z"
    assert by_id[signed]["occurred_at_local"] == "2022-04-01T12:00:00+03:00"
    described = [e for e in entries if e["type"] == "conflict.described"]
    assert [e["occurred_at_local"] for e in described] == [None, None]  # written in UTC
    assert all("utc_offset" not in e["data"] for e in described)


def test_the_feed_and_the_page_show_local_time_beside_utc(loaded: Loaded) -> None:
    feed = loaded.http.get(f"/v1/conflicts/{loaded.slug}/feed.atom").text
    assert "Occurred 21 October 2022, 09:00 UTC (21 October 2022, 12:00 UTC+03:00 local)" in feed
    page = loaded.http.get(f"/conflicts/{loaded.slug}").text
    assert "21 October 2022, 09:00 UTC" in page and "21 October 2022, 12:00 UTC+03:00" in page
