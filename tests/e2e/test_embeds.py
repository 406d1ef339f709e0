"""The badge and the Atom feed, read by real consumers: the feed by ``feedparser`` (what feed
readers are built on), the badge by an XML parser, both revalidated with If-None-Match."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

import feedparser
import httpx

from tests.e2e.conftest import Keys, problem_of
from tests.e2e.test_polling import agreement, allegation, event, post

SVG = "{http://www.w3.org/2000/svg}"


async def test_the_badge_is_svg_saying_the_state_and_how_long(
    client: httpx.AsyncClient, keys: Keys, conflict: str
) -> None:
    await post(client, keys, agreement(conflict, occurred_at="2022-09-14T16:00:00Z"))
    response = await client.get(f"/v1/conflicts/{conflict}/badge.svg")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/svg+xml"
    root = ElementTree.fromstring(response.content)
    assert root.tag == f"{SVG}svg"
    assert int(root.attrib["width"]) > 0 and root.attrib["height"] == "20"
    title = root.find(f"{SVG}title")
    assert title is not None and title.text is not None
    # Nothing reported since 2022 (issue 18): the state stays, how long nothing was reported
    # takes the place of how long it held.
    assert title.text.startswith("ceasefire: holding · no reports "), title.text
    assert title.text.endswith(" months"), title.text
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert texts[0] == "ceasefire" and texts[1] == title.text.removeprefix("ceasefire: ")

    again = await client.get(
        f"/v1/conflicts/{conflict}/badge.svg", headers={"If-None-Match": response.headers["etag"]}
    )
    assert again.status_code == 304 and again.content == b""

    await post(client, keys, allegation(conflict, occurred_at="2022-09-15T00:00:00Z"))
    moved = await client.get(
        f"/v1/conflicts/{conflict}/badge.svg", headers={"If-None-Match": response.headers["etag"]}
    )
    assert moved.status_code == 200
    assert moved.headers["etag"] != response.headers["etag"]


async def test_an_unknown_conflict_has_no_badge_and_no_feed(client: httpx.AsyncClient) -> None:
    problem_of(
        await client.get("/v1/conflicts/no-such-conflict/badge.svg"), 404, "unknown-conflict"
    )
    problem_of(
        await client.get("/v1/conflicts/no-such-conflict/feed.atom"), 404, "unknown-conflict"
    )


async def test_the_feed_parses_with_the_right_entries_and_stable_ids(
    client: httpx.AsyncClient, keys: Keys, conflict: str
) -> None:
    signed = agreement(conflict, occurred_at="2022-09-14T16:00:00Z")
    alleged = allegation(conflict, occurred_at="2022-09-15T00:00:00Z")
    mission = event(
        conflict,
        "mission.dispatched",
        {"mission_id": "m-1", "organization": "CSTO"},
        "2022-09-15T01:00:00Z",
    )
    collapse = event(
        conflict, "agreement.collapsed", {"agreement_id": "cf-1"}, "2022-09-16T00:00:00Z"
    )
    for body in (signed, alleged, mission, collapse):
        await post(client, keys, body)

    url = f"/v1/conflicts/{conflict}/feed.atom"
    response = await client.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/atom+xml"
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.bozo_exception
    assert feed.version == "atom10"
    assert feed.feed.title == f"{conflict}: ceasefire status"
    ids = [e.id for e in feed.entries]
    assert ids == [f"urn:uuid:{b['id']}" for b in (collapse, alleged, signed)]  # newest first
    assert [e.tags[0].term for e in feed.entries] == [
        "agreement.collapsed",
        "violation.alleged",
        "agreement.signed",
    ]
    assert feed.entries[1].title == "Armenia alleged 1 incident by Azerbaijan."
    assert all(e.updated_parsed for e in feed.entries)

    # Conditional GET, as feed readers do it.
    tag = response.headers["etag"]
    assert (await client.get(url, headers={"If-None-Match": tag})).status_code == 304

    # A retraction changes the allegation's entry: same id, later updated.
    retraction = event(
        conflict,
        "allegation.retracted",
        {"allegation_id": alleged["id"], "retracted_by": "Armenia", "reason": "withdrawn"},
        "2022-09-17T00:00:00Z",
    )
    await post(client, keys, retraction)
    fresh = await client.get(url, headers={"If-None-Match": tag})
    assert fresh.status_code == 200
    entries = {e.id: e for e in feedparser.parse(fresh.content).entries}
    before = {e.id: e for e in feed.entries}
    changed = entries[f"urn:uuid:{alleged['id']}"]
    assert changed.updated > before[changed.id].updated  # RFC 3339 UTC, same precision
    assert changed.title.endswith("since retracted.")
    assert (
        "Armenia retracted its allegation against Azerbaijan of 15 September 2022, 00:00 UTC "
        "(1 incident) on 17 September 2022, 00:00 UTC: withdrawn."
    ) in changed.content[0].value
    assert "What the states mean: " in feed.feed.subtitle and "contested: " in feed.feed.subtitle
    assert set(entries) == set(before)


async def test_a_fixed_term_truce_reaching_its_end_is_an_entry(
    client: httpx.AsyncClient, keys: Keys, conflict: str
) -> None:
    await post(
        client,
        keys,
        agreement(
            conflict,
            occurred_at="2022-09-14T16:00:00Z",
            kind="humanitarian_truce",
            expires_at="2022-09-17T16:00:00Z",
        ),
    )
    url = f"/v1/conflicts/{conflict}/feed.atom"
    feed = feedparser.parse((await client.get(url)).content)
    assert not feed.bozo, feed.bozo_exception
    ended, signed = feed.entries
    assert ended.tags[0].term == "agreement.expired"
    assert ended.title == "Agreement cf-1 expired."
    assert ended.updated.startswith("2022-09-17T16:00:00")
    assert signed.tags[0].term == "agreement.signed"
    again = feedparser.parse((await client.get(url)).content)
    assert [e.id for e in again.entries] == [ended.id, signed.id]  # stable
    assert ended.id.startswith("urn:uuid:") and ended.id != signed.id


async def test_a_fresh_badge_says_how_long_the_state_has_held(
    client: httpx.AsyncClient, keys: Keys, conflict: str
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    await post(client, keys, agreement(conflict, occurred_at=(now - timedelta(days=3)).isoformat()))
    response = await client.get(f"/v1/conflicts/{conflict}/badge.svg")
    title = ElementTree.fromstring(response.content).find(f"{SVG}title")
    assert title is not None and title.text == "ceasefire: holding 3 days"
