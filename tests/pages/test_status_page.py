"""The pages in a real browser (headless Chromium over the DevTools protocol), against a real
server on a database of its own: the list of conflicts (searched, in order, paged), a
conflict's page (the seed, a fixed-term truce, a pending one, who accuses whom), the time
picker, one conflict's live update (and only its own), the pages without JavaScript, and the
embed in another site's frame; no console error, nothing loaded from elsewhere.

Runs once (on SQLite): it tests the pages, not the storage. Set
``CEASEFIRE_UPDATE_SCREENSHOTS=1`` to write the phone and desktop screenshots to docs/.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.conftest import SEED
from tests.e2e.conftest import Keys, Server
from tests.pages.browser import Browser, open_browser

pytestmark = pytest.mark.slow

DOCS = Path(__file__).parents[2] / "docs" / "screenshots"
SEED_CONFLICT = "armenia-azerbaijan"
TRUCE_CONFLICT = "example-truce"
PENDING_CONFLICT = "example-pending"
TRUCE_TITLE = "Northland-Southland war"


def post(server: Server, keys: Keys, body: dict[str, Any]) -> None:
    response = httpx.post(
        f"{server.base_url}/v1/events", json=body, headers=keys.header(keys.writer), timeout=30
    )
    assert response.status_code == 201, response.text


def event(conflict: str, kind: str, occurred_at: datetime, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "type": kind,
        "conflict": conflict,
        "occurred_at": occurred_at.isoformat(),
        "source": {"name": "test desk"},
        "data": data,
    }


def truce(conflict: str, now: datetime, *, starts: timedelta, ends: timedelta) -> dict[str, Any]:
    """A truce between North and South, mediated by Qatar, signed two hours ago."""
    return event(
        conflict,
        "agreement.signed",
        now - timedelta(hours=2),
        {
            "agreement_id": "72h-truce",
            "parties": ["North", "South"],
            "mediators": ["Qatar"],
            "kind": "humanitarian_truce",
            "effective_at": (now + starts).isoformat(),
            "expires_at": (now + ends).isoformat(),
        },
    )


def alleged(conflict: str, by: str, accused: str, when: datetime, n: int = 1) -> dict[str, Any]:
    return event(
        conflict, "violation.alleged", when, {"alleged_by": by, "accused": accused, "incidents": n}
    )


def text(browser: Browser, selector: str) -> Any:
    return browser.evaluate(
        f"document.querySelector({json.dumps(selector)})?.textContent.trim().replace(/\\s+/g, ' ')"
    )


def counts(browser: Browser, party: str) -> tuple[str, str, str]:
    row = f'tr[data-party="{party}"]'
    return (
        text(browser, f'{row} [data-testid="made"]'),
        text(browser, f'{row} [data-testid="received"]'),
        text(browser, f'{row} [data-testid="denied"]'),
    )


def listed(browser: Browser) -> list[str]:
    """The conflicts of this module listed, in order (tests/pages/test_pages_http.py's too)."""
    ids = browser.evaluate("[...document.querySelectorAll('li.conflict')].map(e => e.id)")
    return [i for i in ids if i in (SEED_CONFLICT, TRUCE_CONFLICT, PENDING_CONFLICT)]


@pytest.fixture(scope="module")
def world(site: tuple[Server, Keys]) -> Iterator[tuple[Server, datetime]]:
    """The seed; a 72-hour truce that took effect an hour ago, described; a truce that starts
    in two days."""
    server, keys = site
    if httpx.get(f"{server.base_url}/v1/conflicts/{SEED_CONFLICT}/status").status_code == 404:
        for line in SEED.read_text().splitlines():  # (tests/pages/test_pages_http.py may have)
            post(server, keys, json.loads(line))
    now = datetime.now(UTC)
    hour, day = timedelta(hours=1), timedelta(days=1)
    post(server, keys, truce(PENDING_CONFLICT, now, starts=2 * day, ends=5 * day))
    post(server, keys, truce(TRUCE_CONFLICT, now, starts=-hour, ends=71 * hour))
    described = {"title": TRUCE_TITLE, "countries": ["SD", "SS"], "region": "East Africa"}
    post(server, keys, event(TRUCE_CONFLICT, "conflict.described", now - 3 * hour, described))
    yield server, now


def test_the_list_and_a_conflict_page_in_a_browser(
    world: tuple[Server, datetime], site: tuple[Server, Keys]
) -> None:
    server, now = world
    _, keys = site
    base = server.base_url
    with open_browser() as browser:
        browser.viewport(1280, 900, mobile=False)
        browser.open(f"{base}/")
        browser.wait_for("document.getElementById('live')?.dataset.state === 'open'")
        assert browser.evaluate("document.getElementById('live').hidden") is False

        # The list: latest change first, titles, states, since when, headline counts only.
        assert listed(browser) == [TRUCE_CONFLICT, PENDING_CONFLICT, SEED_CONFLICT]
        assert text(browser, f"#{TRUCE_CONFLICT} h2 a") == TRUCE_TITLE
        assert text(browser, f'#{TRUCE_CONFLICT} [data-testid="state"]') == "holding"
        assert text(browser, f'#{TRUCE_CONFLICT} [data-testid="for"]') == "1 hour"
        assert text(browser, f'#{PENDING_CONFLICT} [data-testid="state"]') == "pending"
        assert text(browser, f'#{SEED_CONFLICT} [data-testid="state"]') == "holding"
        assert text(browser, f'#{SEED_CONFLICT} [data-testid="counts"]') == (
            "2 agreements · 2 allegations under the current one · 1 mission active"
        )
        assert not browser.evaluate("document.querySelector('#main .timeline, #main table')")
        desktop_list = browser.screenshot()
        # By name; searched by title, by country code; the stream follows what is on screen.
        browser.open(f"{base}/?sort=name")
        assert listed(browser) == [SEED_CONFLICT, PENDING_CONFLICT, TRUCE_CONFLICT]
        for search in ("southland", "SS", "east africa"):
            browser.open(f"{base}/?q={quote(search)}")
            assert listed(browser) == [TRUCE_CONFLICT], search
            assert text(browser, '[data-testid="count"]').startswith("1 conflict matching")
        stream = browser.evaluate("document.body.dataset.stream")
        assert stream.endswith(f"&conflict={TRUCE_CONFLICT}") and stream.count("conflict=") == 1

        # By keyboard: the skip link first; then to the conflict's page by its link.
        browser.open(f"{base}/")
        browser.press("Tab", 9)
        assert browser.evaluate("document.activeElement.className") == "skip"
        assert browser.evaluate(
            "[...document.querySelectorAll('input:not([type=hidden]), select')]"
            ".every((i) => i.labels.length === 1)"
        )
        assert browser.evaluate("document.documentElement.lang") == "en"
        link = browser.evaluate(f"document.querySelector('#{SEED_CONFLICT} h2 a').href")
        assert link == f"{base}/conflicts/{SEED_CONFLICT}"
        browser.open(link)
        browser.wait_for("document.getElementById('live')?.dataset.state === 'open'")

        # The conflict's page: its agreements, counts with denials, its timeline in words.
        assert text(browser, '[data-testid="state"]') == "holding"
        assert text(browser, '[data-testid="meaning"]').startswith("Holding: an agreement")
        assert counts(browser, "Armenia") == ("1", "1", "0")
        assert counts(browser, "Azerbaijan") == ("1", "1", "0")
        entries = browser.evaluate("document.querySelectorAll('.timeline li.entry').length")
        assert entries == 6
        newest = text(browser, ".timeline li.entry .summary")
        assert newest.startswith("Armenia alleged 1 incident by Azerbaijan"), newest
        assert "Signed 14 September 2022" in text(browser, '[data-part="agreements"]')
        desktop = browser.screenshot()

        # The time picker: 24 September 2022, when Azerbaijan's allegation made it contested.
        browser.evaluate(
            "document.getElementById('as_of').value = '2022-09-24T00:00:00';"
            "document.querySelector('form.picker button').click()"
        )
        browser.wait_for("location.search.includes('as_of=2022-09-24')")
        browser.wait_for("document.readyState === 'complete' && !!document.querySelector('main')")
        assert browser.evaluate("location.pathname") == f"/conflicts/{SEED_CONFLICT}"
        assert text(browser, '[data-testid="state"]') == "contested"
        assert text(browser, '[data-testid="for"]') == "1 day"
        assert not browser.evaluate("document.body.dataset.stream")  # the past is not live
        # 13 September, after the first ceasefire collapsed, before the second was signed.
        browser.open(f"{base}/?as_of=2022-09-13T12:00:00Z")
        assert listed(browser) == [SEED_CONFLICT]  # the truces had not happened then
        assert text(browser, f'#{SEED_CONFLICT} [data-testid="state"]') == "collapsed"
        later = (now + timedelta(days=4)).strftime("%Y-%m-%dT%H:%M:%S")
        browser.open(f"{base}/conflicts/{TRUCE_CONFLICT}?as_of={later}")
        assert text(browser, '[data-testid="state"]') == "expired"
        # known_at: as the log knew it before anything was recorded, nothing is listed.
        browser.open(f"{base}/?known_at=2020-01-01T00:00:00")
        assert listed(browser) == []

        # A pending truce counts down to its start, a holding one to its end.
        browser.open(f"{base}/conflicts/{PENDING_CONFLICT}")
        browser.wait_for("document.getElementById('live')?.dataset.state === 'open'")
        starts = text(browser, '[data-testid="starts"]')
        assert starts.startswith(("(in 1 d 23:", "(in 2 d 00:")), starts
        browser.open(f"{base}/conflicts/{TRUCE_CONFLICT}")
        ends = browser.wait_for(
            "document.querySelector('[data-testid=\"ends\"]')?.textContent.includes(':')"
            " && document.querySelector('[data-testid=\"ends\"]').textContent"
        )
        assert ends.startswith(("(in 2 d 22:", "(in 2 d 23:")), ends

        # Three actors accusing each other: who accuses whom, as a matrix.
        for by, accused in (("North", "South"), ("South", "North"), ("Qatar", "North")):
            post(server, keys, alleged(TRUCE_CONFLICT, by, accused, now))
        browser.open(f"{base}/conflicts/{TRUCE_CONFLICT}")
        cell = 'table.matrix tr[data-accuser="{}"] td[data-accused="{}"]'
        assert text(browser, cell.format("Qatar", "North")) == "1"
        assert text(browser, cell.format("North", "Qatar")) == "0"
        assert text(browser, cell.format("North", "North")) == "—"

        # Live: an allegation in this conflict appears without a reload; one in another
        # conflict never reaches the page (the stream's filter leaves it out).
        browser.open(f"{base}/conflicts/{SEED_CONFLICT}")
        browser.wait_for("document.getElementById('live')?.dataset.state === 'open'")
        browser.evaluate("window.notReloaded = true")
        post(server, keys, alleged(TRUCE_CONFLICT, "South", "North", now - timedelta(minutes=9)))
        five_minutes_ago = now - timedelta(minutes=5)
        post(server, keys, alleged(SEED_CONFLICT, "Armenia", "Azerbaijan", five_minutes_ago, 2))
        browser.wait_for(
            'document.querySelector(\'tr[data-party="Armenia"] [data-testid="made"]\')'
            "?.textContent === '2'"
        )
        assert browser.evaluate("window.notReloaded === true")
        assert browser.evaluate("document.body.dataset.events") == "1"
        assert text(browser, '[data-testid="state"]') == "contested"
        assert counts(browser, "Azerbaijan") == ("1", "2", "0")
        # What changed is redrawn and marked; the new entry is marked new.
        marked = "document.querySelector({!r}).classList.contains({!r})"
        assert browser.evaluate(marked.format('[data-part="allegations"]', "fresh"))
        assert browser.evaluate(marked.format(".timeline li.entry", "new"))
        assert browser.evaluate("document.querySelectorAll('.timeline li.entry.new').length") == 1

        # The list follows the conflicts it shows: an allegation moves the pending truce to
        # the top, its entry redrawn and marked, the others moved down unmarked.
        browser.open(f"{base}/")
        browser.wait_for("document.getElementById('live')?.dataset.state === 'open'")
        assert listed(browser)[0] == SEED_CONFLICT
        four_minutes_ago = now - timedelta(minutes=4)
        post(server, keys, alleged(PENDING_CONFLICT, "North", "South", four_minutes_ago))
        browser.wait_for(f"document.querySelector('li.conflict')?.id === '{PENDING_CONFLICT}'")
        assert browser.evaluate(marked.format(f"#{PENDING_CONFLICT}", "fresh"))
        assert not browser.evaluate(marked.format(f"#{SEED_CONFLICT}", "fresh"))
        assert browser.evaluate("document.body.dataset.events") == "1"

        # A phone: nothing wider than the screen, no column hidden that the desktop shows.
        browser.viewport(390, 844, mobile=True)
        browser.open(f"{base}/conflicts/{SEED_CONFLICT}")
        phone = browser.screenshot()
        assert browser.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert browser.evaluate(
            "[...document.querySelectorAll('.counts th, .counts td')]"
            ".every((c) => getComputedStyle(c).display !== 'none')"
        )
        browser.open(f"{base}/")
        phone_list = browser.screenshot()
        assert browser.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

        assert browser.errors == []
        outside = [u for u in browser.requests if not u.startswith((base, "data:"))]
        assert outside == [], outside
        assert any(u.endswith("/static/live.js") for u in browser.requests)

    if os.environ.get("CEASEFIRE_UPDATE_SCREENSHOTS"):
        DOCS.mkdir(parents=True, exist_ok=True)
        (DOCS / "status-desktop.png").write_bytes(desktop_list)
        (DOCS / "conflict-desktop.png").write_bytes(desktop)
        (DOCS / "status-phone.png").write_bytes(phone_list)
        (DOCS / "conflict-phone.png").write_bytes(phone)


def test_the_pages_without_javascript(world: tuple[Server, datetime]) -> None:
    """All there, rendered on the server; no stream opened, and no claim of updating live."""
    server, _ = world
    base = server.base_url
    with open_browser() as browser:
        browser.send("Emulation.setScriptExecutionDisabled", value=True)
        browser.open(f"{base}/")
        assert TRUCE_CONFLICT in listed(browser)
        assert "Updates live" not in browser.evaluate("document.body.innerText")
        browser.open(f"{base}/conflicts/{PENDING_CONFLICT}")
        assert "Updates live" not in browser.evaluate("document.body.innerText")
        assert text(browser, '[data-testid="starts"]') in ("(in 1 day)", "(in 2 days)")
        assert browser.evaluate("!!document.querySelector('#meanings dl')")
        assert not [u for u in browser.requests if "/v1/stream" in u]
        assert browser.errors == []


def _child_frame_url(browser: Browser) -> str | None:
    """The URL of the document in the page's frame (None: no document was let in)."""
    children = browser.send("Page.getFrameTree")["frameTree"].get("childFrames", [])
    if not children or children[0]["frame"].get("unreachableUrl"):
        return None
    url: str = children[0]["frame"]["url"]
    return url


def test_the_embed_in_another_sites_frame(world: tuple[Server, datetime], framer: str) -> None:
    server, _ = world
    card = f"{server.base_url}/embed/conflicts/{PENDING_CONFLICT}"
    with open_browser() as browser:
        browser.open(card)
        assert text(browser, "h1") == PENDING_CONFLICT  # never described: by its slug
        assert text(browser, '[data-testid="state"]') == "pending"
        assert text(browser, '[data-testid="starts"]') in ("(in 1 day)", "(in 2 days)")
        browser.open(f"{framer}/?src={quote(card)}")
        browser.wait_for("!!document.getElementById('card')")
        assert _child_frame_url(browser) == card
        assert browser.errors == []
        # Another origin (localhost is not 127.0.0.1) is refused by the card's policy.
        other = framer.replace("127.0.0.1", "localhost")
        browser.open(f"{other}/?src={quote(card)}")
        browser.wait_for("!!document.getElementById('card')")
        assert _child_frame_url(browser) != card  # blocked: no document of the card's
        assert any("violates" in e and "frame-ancestors" in e for e in browser.errors)
