"""Control characters and Unicode non-characters, on a real server: a writer's event holding
one is refused with a 422 naming the field (prose keeps tab and newline); a log written before
that check still gives a well-formed Atom feed (``feedparser`` and an XML parser) and a page
without them, each shown as U+FFFD."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from xml.etree import ElementTree

import feedparser
import httpx
import pytest

from app.services.appending import Appender
from events.log.store import EventStore
from events.model.values import Source
from tests.e2e.conftest import Keys, Server, problem_of
from tests.factories import alleged, signed


@pytest.fixture
async def writer(server: Server, keys: Keys) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=server.base_url, headers=Keys.header(keys.writer), timeout=30
    ) as client:
        yield client


def _signed(conflict: str, source: str = "e2e desk", **data: Any) -> dict[str, Any]:
    return {
        "type": "agreement.signed",
        "conflict": conflict,
        "occurred_at": "2022-09-14T16:00:00Z",
        "source": {"name": source},
        "data": {"agreement_id": "cf-1", "parties": ["Armenia", "Azerbaijan"], **data},
    }


#: (where, what a writer sends there): each refused, with that field named.
REFUSED = [
    (("data", "terms"), {"terms": "cease\x1b[2Jfire"}),  # an ANSI escape
    (("data", "terms"), {"terms": "a\x01b"}),
    (("data", "terms"), {"terms": "a\rb"}),
    (("data", "terms"), {"terms": "not a character: \ufffe"}),
    (("data", "terms"), {"terms": "nor this: \uffff"}),
    (("data", "terms"), {"terms": "nor this: \U0001fffe"}),
    (("data", "terms"), {"terms": "a C1 control: \x9b"}),
    (("data", "parties", 0), {"parties": ["Arme\tnia", "Azerbaijan"]}),  # names are one line
    (("data", "parties", 1), {"parties": ["Armenia", "Azer\nbaijan"]}),
    (("data", "mediators", 0), {"mediators": ["Rus\x7fsia"]}),
    (("data", "scope", "area"), {"scope": {"level": "regional", "area": "Syu\x0bnik"}}),
]


@pytest.mark.parametrize(("where", "data"), REFUSED, ids=repr)
async def test_a_control_character_or_non_character_is_refused_naming_the_field(
    writer: httpx.AsyncClient, conflict: str, where: tuple[Any, ...], data: dict[str, Any]
) -> None:
    response = await writer.post("/v1/events", json=_signed(conflict, **data))
    problem = problem_of(response, 422, "validation-error")
    named = [e for e in problem["errors"] if "must not hold U+" in e["msg"]]
    # (A refused party also leaves the list a party short: pydantic says so besides.)
    assert [e["loc"] for e in named] == [["body", "agreement.signed", *map(str, where)]], problem


async def test_the_source_is_checked_too(writer: httpx.AsyncClient, conflict: str) -> None:
    response = await writer.post("/v1/events", json=_signed(conflict, source="desk\x00\x1b"))
    problem = problem_of(response, 422, "validation-error")
    assert [e["loc"][-2:] for e in problem["errors"]] == [["source", "name"]], problem
    body = _signed(conflict)
    body["source"]["url"] = "https://example.org/\x1b[31m"
    problem = problem_of(await writer.post("/v1/events", json=body), 422, "validation-error")
    assert [e["loc"][-2:] for e in problem["errors"]] == [["source", "url"]], problem


async def test_prose_keeps_tab_and_newline(writer: httpx.AsyncClient, conflict: str) -> None:
    terms = "1. Fire ceases.\n\t2. Troops withdraw.\n"
    response = await writer.post("/v1/events", json=_signed(conflict, terms=terms))
    assert response.status_code == 201, response.text
    timeline = await writer.get(f"/v1/conflicts/{conflict}/events")
    assert timeline.json()["events"][0]["data"]["terms"] == terms


#: What an older log may hold: every kind of character the check now refuses.
DIRTY = "a\x01b\x1b[2Jc\x0bd\ufffee\uffff\x7f\x9b\U0010ffff"


@pytest.fixture
async def older_log(store: EventStore, conflict: str) -> str:
    """Events appended as a version without the check could: the models built, then given
    text that a writer's event may no longer hold (``model_copy`` validates nothing)."""
    agreement = signed(conflict, terms="clean")
    claim = alleged(conflict, description="clean")
    dirty_source = Source.model_construct(name=f"desk {DIRTY}", url=None)
    events = [
        agreement.model_copy(
            update={
                "source": dirty_source,
                "data": agreement.data.model_copy(
                    update={"terms": DIRTY, "parties": (f"Armenia{DIRTY}", "Azerbaijan")}
                ),
            }
        ),
        claim.model_copy(
            update={
                "source": dirty_source,
                "data": claim.data.model_copy(
                    update={"alleged_by": f"Armenia{DIRTY}", "description": DIRTY}
                ),
            }
        ),
    ]
    await Appender(store).append(events)
    return conflict


def _without_refused(text: str) -> None:
    for character in "\x01\x1b\x0b\ufffe\uffff\x7f\x9b\U0010ffff":
        assert character not in text, repr(character)
    assert "\ufffd" in text


async def test_an_older_log_still_gives_a_well_formed_feed(
    client: httpx.AsyncClient, older_log: str
) -> None:
    response = await client.get(f"/v1/conflicts/{older_log}/feed.atom")
    assert response.status_code == 200, response.text
    feed = feedparser.parse(response.content)
    assert feed.bozo == 0, feed.bozo_exception
    assert len(feed.entries) == 2
    root = ElementTree.fromstring(response.content)  # raises on an ill-formed document
    text = "".join(root.itertext())
    _without_refused(text)
    assert "Armeniaa\ufffdb" in text


async def test_an_older_log_still_gives_a_page_without_them(
    client: httpx.AsyncClient, older_log: str
) -> None:
    response = await client.get(f"/conflicts/{older_log}")
    assert response.status_code == 200, response.text
    start = response.text.index(f'<article class="conflict" id="{older_log}"')
    article = response.text[start : response.text.index("</article>", start)]
    _without_refused(article)
    assert "Armeniaa\ufffdb" in article


async def test_an_older_log_is_still_served_as_it_is_in_json(
    client: httpx.AsyncClient, older_log: str
) -> None:
    """The API's JSON escapes what it must and changes nothing: the log says what it said."""
    response = await client.get(f"/v1/conflicts/{older_log}/events")
    assert response.status_code == 200, response.text
    first = response.json()["events"][0]
    assert first["data"]["terms"] == DIRTY
    assert first["source"]["name"] == f"desk {DIRTY}"
