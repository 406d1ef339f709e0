"""The status page in a real browser (headless Chromium over the DevTools protocol), against a
real server on a database of its own: the seed and a fixed-term truce, the time picker, an
allegation appearing without a reload, no console error, nothing loaded from elsewhere.

Runs once (on SQLite): it tests the page, not the storage. Set
``CEASEFIRE_UPDATE_SCREENSHOTS=1`` to write the phone and desktop screenshots to docs/.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from events.model.event_data import AgreementSignedData
from tests.conftest import SEED
from tests.e2e.conftest import Keys, Server
from tests.pages.browser import Browser, open_browser

pytestmark = pytest.mark.slow

DOCS = Path(__file__).parents[2] / "docs" / "screenshots"
SEED_CONFLICT = "armenia-azerbaijan"
TRUCE_CONFLICT = "example-truce"
FIXED_TERMS = "expires_at" in AgreementSignedData.model_fields


def post(server: Server, keys: Keys, body: dict[str, Any]) -> None:
    response = httpx.post(
        f"{server.base_url}/v1/events", json=body, headers=keys.header(keys.writer), timeout=30
    )
    assert response.status_code == 201, response.text


def truce(now: datetime) -> dict[str, Any]:
    """A 72-hour truce that took effect an hour ago (ends in 71 hours, as the page counts)."""
    data: dict[str, Any] = {
        "agreement_id": "72h-truce",
        "parties": ["North", "South"],
        "mediators": ["Qatar"],
        "kind": "humanitarian_truce",
        "effective_at": (now - timedelta(hours=1)).isoformat(),
    }
    if FIXED_TERMS:
        data["expires_at"] = (now + timedelta(hours=71)).isoformat()
    return {
        "id": str(uuid.uuid4()),
        "type": "agreement.signed",
        "conflict": TRUCE_CONFLICT,
        "occurred_at": (now - timedelta(hours=2)).isoformat(),
        "source": {"name": "test desk"},
        "data": data,
    }


def text(browser: Browser, conflict: str, selector: str) -> Any:
    return browser.evaluate(
        f"document.querySelector({json.dumps(f'#{conflict} {selector}')})?.textContent.trim()"
    )


def counts(browser: Browser, conflict: str, party: str) -> tuple[str, str]:
    row = f'tr[data-party="{party}"]'
    return (
        text(browser, conflict, f'{row} [data-testid="made"]'),
        text(browser, conflict, f'{row} [data-testid="received"]'),
    )


def test_the_status_page_in_a_browser(site: tuple[Server, Keys]) -> None:
    server, keys = site
    for line in SEED.read_text().splitlines():
        post(server, keys, json.loads(line))
    now = datetime.now(UTC)
    post(server, keys, truce(now))

    with open_browser() as browser:
        browser.viewport(1280, 900, mobile=False)
        browser.open(f"{server.base_url}/")
        browser.wait_for("document.getElementById('live')?.dataset.state === 'open'")

        # Now: the seed's second ceasefire holds, one allegation each way.
        assert text(browser, SEED_CONFLICT, '[data-testid="state"]') == "holding"
        assert counts(browser, SEED_CONFLICT, "Armenia") == ("1", "1")
        assert counts(browser, SEED_CONFLICT, "Azerbaijan") == ("1", "1")
        assert text(browser, SEED_CONFLICT, ".timeline summary") == "Timeline: 6 events"
        # The truce holds, for an hour now, and counts down to its end.
        assert text(browser, TRUCE_CONFLICT, '[data-testid="state"]') == "holding"
        assert text(browser, TRUCE_CONFLICT, '[data-testid="for"]') == "1 hour"
        if FIXED_TERMS:
            countdown = text(browser, TRUCE_CONFLICT, "[data-countdown]")
            assert countdown.startswith(("(in 2 d 22:", "(in 2 d 23:")), countdown
        desktop = browser.screenshot()

        # By keyboard: the skip link first, then the time picker; a timeline opens with Enter.
        browser.press("Tab", 9)
        assert browser.evaluate("document.activeElement.className") == "skip"
        browser.press("Tab", 9)
        assert browser.evaluate("document.activeElement.id") == "as_of"
        browser.evaluate("document.querySelector('#armenia-azerbaijan summary').focus()")
        browser.press("Enter", 13)
        assert browser.evaluate("document.querySelector('#armenia-azerbaijan details').open")
        # Every field has its label; the page says its language.
        assert browser.evaluate(
            "[...document.querySelectorAll('input')].every((i) => i.labels.length === 1)"
        )
        assert browser.evaluate("document.documentElement.lang") == "en"

        # The time picker: 24 September 2022, when Azerbaijan's allegation made it contested.
        browser.evaluate(
            "document.getElementById('as_of').value = '2022-09-24T00:00:00';"
            "document.querySelector('form.picker button').click()"
        )
        browser.wait_for("location.search.includes('as_of=2022-09-24')")
        browser.wait_for("document.readyState === 'complete' && !!document.querySelector('main')")
        assert text(browser, SEED_CONFLICT, '[data-testid="state"]') == "contested"
        assert text(browser, SEED_CONFLICT, '[data-testid="for"]') == "1 day"
        assert counts(browser, SEED_CONFLICT, "Armenia") == ("1", "1")
        assert text(browser, SEED_CONFLICT, ".timeline summary") == "Timeline: 6 events"
        assert browser.evaluate(f"!document.getElementById({json.dumps(TRUCE_CONFLICT)})")
        assert not browser.evaluate("document.body.dataset.stream")  # the past is not live
        # 13 September, after the first ceasefire collapsed, before the second was signed.
        browser.open(f"{server.base_url}/?as_of=2022-09-13T12:00:00Z")
        assert text(browser, SEED_CONFLICT, '[data-testid="state"]') == "collapsed"
        if FIXED_TERMS:  # after its end the truce has expired
            later = (now + timedelta(days=4)).strftime("%Y-%m-%dT%H:%M:%S")
            browser.open(f"{server.base_url}/?as_of={later}")
            assert text(browser, TRUCE_CONFLICT, '[data-testid="state"]') == "expired"
        # known_at: as the log knew it before anything was recorded, nothing is shown.
        browser.open(f"{server.base_url}/?known_at=2020-01-01T00:00:00")
        assert browser.evaluate("document.querySelectorAll('article.conflict').length") == 0

        # Live: an allegation POSTed while the page is open appears without a reload.
        browser.open(f"{server.base_url}/")
        browser.wait_for("document.getElementById('live')?.dataset.state === 'open'")
        browser.evaluate("window.notReloaded = true")
        post(
            server,
            keys,
            {
                "id": str(uuid.uuid4()),
                "type": "violation.alleged",
                "conflict": SEED_CONFLICT,
                "occurred_at": (now - timedelta(minutes=5)).isoformat(),
                "source": {"name": "test desk"},
                "data": {"alleged_by": "Armenia", "accused": "Azerbaijan", "incidents": 2},
            },
        )
        browser.wait_for(
            'document.querySelector(\'#armenia-azerbaijan tr[data-party="Armenia"] '
            "[data-testid=\"made\"]')?.textContent === '2'"
        )
        assert browser.evaluate("window.notReloaded === true")
        assert text(browser, SEED_CONFLICT, '[data-testid="state"]') == "contested"
        assert counts(browser, SEED_CONFLICT, "Azerbaijan") == ("1", "2")

        browser.viewport(390, 844, mobile=True)
        browser.open(f"{server.base_url}/")
        phone = browser.screenshot()
        # Readable on a phone: nothing wider than the screen.
        assert browser.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

        assert browser.errors == []
        outside = [u for u in browser.requests if not u.startswith((server.base_url, "data:"))]
        assert outside == [], outside
        assert any(u.endswith("/static/live.js") for u in browser.requests)

    if os.environ.get("CEASEFIRE_UPDATE_SCREENSHOTS"):
        DOCS.mkdir(parents=True, exist_ok=True)
        (DOCS / "status-desktop.png").write_bytes(desktop)
        (DOCS / "status-phone.png").write_bytes(phone)
