"""The body of a delivery: a CloudEvents 1.0 event in the structured JSON mode.

``data`` is the event exactly as the API shows it (``GET /v1/events``), so a receiver can use
the same parsing code for the feed and for webhooks. The CloudEvents ``id`` is the event's id
(unique across the log, hence across ``source``), ``time`` is when the event occurred and
``subject`` the conflict it belongs to. ``source`` is the log's feed, ``/v1/events``: absolute
(``CEASEFIRE_PUBLIC_URL/v1/events``) when that setting is set (``app.http.links``), so that a
receiver of several services' events can tell them apart.

Why not the CloudEvents SDK (``cloudevents``, which the tests parse every delivery with):
``JSONFormat().write(CloudEvent(attributes, data))`` costs more CPU per body, 18.2 µs against
our 13.9 (1.31x) for an allegation, measured by ``bench/webhook_libraries.py`` (10,000 bodies,
best of 9): it validates every attribute again and encodes with a ``JSONEncoder`` subclass.
Its bytes are larger too (spaces after separators, non-ASCII characters escaped: 767 bytes
against our 724 for that allegation). A library replaces ours only where it is at least as
fast on its path (issue 20), so this stays.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from events.model.envelope import Recorded, format_instant, recorded_adapter

__all__ = ["CONTENT_TYPE", "PING_TYPE", "SOURCE", "encode", "event_body", "ping_body"]

CONTENT_TYPE = "application/cloudevents+json"
#: The CloudEvents ``source``: a URI reference naming this service's event feed (the path:
#: ``app.http.links.public_link`` makes it absolute when the public URL is known).
SOURCE = "/v1/events"
PING_TYPE = "webhook.ping"


def _envelope(
    *, id: str, type: str, time: datetime, subject: str | None, data: Any, source: str
) -> dict[str, Any]:
    envelope: dict[str, Any] = {"specversion": "1.0", "id": id, "source": source, "type": type}
    if subject is not None:
        envelope["subject"] = subject
    envelope.update(time=format_instant(time), datacontenttype="application/json", data=data)
    return envelope


def encode(envelope: dict[str, Any]) -> bytes:
    """The exact bytes sent and signed."""
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()


def event_body(event: Recorded, *, source: str = SOURCE) -> bytes:
    return encode(
        _envelope(
            id=str(event.id),
            type=event.type,
            time=event.occurred_at,
            subject=event.conflict,
            data=recorded_adapter.dump_python(event, mode="json"),
            source=source,
        )
    )


def ping_body(subscription_id: UUID, *, source: str = SOURCE) -> bytes:
    """A test event, sent by ``POST /v1/webhooks/{id}/ping``; never stored in the log."""
    now = datetime.now(UTC)
    return encode(
        _envelope(
            id=str(uuid4()),
            type=PING_TYPE,
            time=now,
            subject=None,
            data={"webhook_id": str(subscription_id), "message": "ping"},
            source=source,
        )
    )
