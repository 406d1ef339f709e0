"""A conflict's story as an Atom feed (RFC 4287): agreements, collapses, allegations, expiries.

Each entry's ``id`` is stable across servers and rebuilds: ``urn:uuid:`` of the event's own id
(an expiry, which has no event, gets a UUID derived from its agreement and its end). An
entry's ``updated`` is the latest time the log changed it: its recording, or a later
retraction or correction of it. Every text and attribute goes through ``legible``: a log
written before control characters were refused still gives a well-formed feed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.etree import ElementTree

from app.formats.text import STATE_MEANINGS, STATE_WORDS
from events.model.values import legible

__all__ = ["FeedEntry", "atom_feed", "conflict_feed_id", "expiry_id"]

_ATOM = "http://www.w3.org/2005/Atom"
#: What the feed holds, and what the states its entries name mean.
_SUBTITLE = (
    "Agreements, collapses, expiries and allegations (claims, not facts). What the states mean: "
    + "; ".join(f"{STATE_WORDS[state]}: {meaning}" for state, meaning in STATE_MEANINGS.items())
    + "."
)
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:ceasefire-status")


@dataclass(frozen=True)
class FeedEntry:
    id: str
    title: str
    updated: datetime
    published: datetime
    category: str
    content: str
    #: When it happened: the feed lists the newest first.
    occurred_at: datetime


def conflict_feed_id(conflict: str) -> str:
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'conflict/{conflict}')}"


def expiry_id(conflict: str, agreement_id: str, ends: datetime) -> str:
    key = f"expiry/{conflict}/{agreement_id}/{ends.astimezone(UTC).isoformat()}"
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, key)}"


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def atom_feed(
    conflict: str,
    entries: Iterable[FeedEntry],
    *,
    self_url: str,
    page_url: str,
    title: str | None = None,
) -> bytes:
    """The feed document, entries newest first as given. ``title``: the conflict's (from its
    ``conflict.described``), else its slug names the feed."""
    ElementTree.register_namespace("", _ATOM)

    def sub(parent: ElementTree.Element, tag: str, text: str | None = None, **attrs: str) -> None:
        clean = {name: legible(value) for name, value in attrs.items()}
        element = ElementTree.SubElement(parent, f"{{{_ATOM}}}{tag}", clean)
        element.text = None if text is None else legible(text)

    listed = list(entries)
    feed = ElementTree.Element(f"{{{_ATOM}}}feed")
    sub(feed, "id", conflict_feed_id(conflict))
    sub(feed, "title", f"{title or conflict}: ceasefire status")
    sub(feed, "subtitle", _SUBTITLE)
    updated = max((e.updated for e in listed), default=datetime(1970, 1, 1, tzinfo=UTC))
    sub(feed, "updated", _stamp(updated))
    sub(feed, "link", rel="self", type="application/atom+xml", href=self_url)
    sub(feed, "link", rel="alternate", type="text/html", href=page_url)
    author = ElementTree.SubElement(feed, f"{{{_ATOM}}}author")
    sub(author, "name", "Ceasefire Status Service")
    for item in listed:
        entry = ElementTree.SubElement(feed, f"{{{_ATOM}}}entry")
        sub(entry, "id", item.id)
        sub(entry, "title", item.title)
        sub(entry, "updated", _stamp(item.updated))
        sub(entry, "published", _stamp(item.published))
        sub(entry, "category", term=item.category)
        sub(entry, "link", rel="alternate", type="text/html", href=page_url)
        sub(entry, "content", item.content, type="text")
    body: bytes = ElementTree.tostring(feed, encoding="utf-8", xml_declaration=True)
    return body
