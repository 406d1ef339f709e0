"""The API's vocabulary: one description per term, for the OpenAPI document.

The same term appears in many schemas (``position`` in a dozen): rather than a dozen wordings
of it, a field without a description of its own gets the term's entry here, by
``"Schema.field"`` first, then by ``"field"``. A field whose meaning is its own says so in
its ``Field(description=…)``, which wins. ``tests/api/test_openapi.py`` fails on any field,
schema, parameter or operation the document leaves undescribed.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FIELDS", "describe"]

_EVENT = ("AgreementSigned", "AgreementCollapsed", "ViolationAlleged", "MissionDispatched")

FIELDS: dict[str, str] = {
    # The log
    "id": "Its id (a UUID).",
    "conflict": "The conflict's slug: `[a-z0-9][a-z0-9-]{0,63}`.",
    "occurred_at": "When it happened (RFC 3339, with an offset; stored in UTC).",
    "recorded_at": "When the log stored it (UTC): the clock of `known_at`.",
    "source": "Who said so: an allegation is a claim, and its source travels with it.",
    "type": "The event type: it says which schema `data` follows.",
    "data": "What happened, as the event type defines it.",
    "version": "The conflict's stream version: 1 for its first event, one more for each next.",
    "position": "The global log position: every event's place in one order across conflicts.",
    "schema_version": "The version of the type's data schema the event was written with "
    "(older versions are upcast on read).",
    "events": "The events, in position order.",
    "name": "A name, as people write it (no white space at its start or end).",
    "url": "A link (http or https).",
    # Agreements, allegations, missions
    "agreement_id": "The agreement's slug within its conflict.",
    "agreement": "The agreement in effect (the latest signed at or before the time asked for), "
    "if any.",
    "agreements": "Each agreement, in order of signing.",
    "parties": "The parties bound by the agreement.",
    "mediators": "Who brokered it, if anyone.",
    "kind": "Its kind: ceasefire, humanitarian_truce, cessation_of_hostilities or armistice.",
    "terms": "Its terms, in words.",
    "effective_at": "When it takes effect (default: when signed).",
    "signed_at": "When it was signed (its event's occurred_at).",
    "collapsed_at": "When it collapsed, if it did.",
    "collapse_reason": "Why it collapsed, as recorded.",
    "reason": "Why, in words.",
    "alleged_by": "The party making the allegation.",
    "accused": "The party accused.",
    "incidents": "How many incidents the allegation counts (1 to 1,000,000).",
    "location": "Where, in words.",
    "description": "What happened, in words.",
    "casualties_claimed": "The toll the alleging party claims, as low, best and high estimates "
    "(killed; or killed and injured apart).",
    "killed": "The killed claimed: low, best and high estimates.",
    "injured": "The injured claimed: low, best and high estimates.",
    "utc_offset": "The UTC offset of local time where it happened (`+03:00`), kept from the "
    "offset occurred_at was written with unless given; absent for UTC. Instants, ordering and "
    "hashes stay UTC.",
    "title": "The conflict's title, as readers know it.",
    "summary": "What the conflict is, in a few words.",
    "region": "The region the conflict belongs to.",
    "low": "The lowest estimate.",
    "best": "The best estimate.",
    "high": "The highest estimate.",
    "mission_id": "The mission's slug within its conflict.",
    "organization": "Who sent the mission.",
    "head": "Who leads it.",
    "purpose": "What it is to do.",
    "expected_arrival": "When it is expected on the ground.",
    "dispatched_at": "When it was dispatched (its event's occurred_at).",
    "missions": "Monitoring missions dispatched, in order.",
    "retracted_by": "The party that withdrew it.",
    "as_written": "Set by the service where it stored an actor's canonical name in place of the "
    "spelling the source wrote: the field (`accused`; `parties.1` for the second of a list) "
    "and that spelling. Absent when every name was written as the actor's.",
    "denied_by": "The party that denies it: the one accused.",
    "statement": "What the denying party said, in words.",
    "MilestoneMetData.statement": "What was said of it being done, in words.",
    "milestone_id": "The milestone's slug within its agreement.",
    "MilestoneView.description": "What is to be done, in words.",
    "DeadlineView.description": "What is to be done, in words.",
    "DeadlineView.due_at": "When it is due, as known at as_of (extensions by then).",
    "declared_by": "The party declaring a ceasefire of its own (unilateral).",
    "toward": "The parties it is declared toward, if named.",
    "expires_at": "When a fixed-term agreement ends (null: no fixed end).",
    "extensions": "Each extension of its term, in order.",
    "scope": "Where it applies: national (the default) sets the conflict's state; regional "
    "and local ones have a state of their own.",
    "level": "national, regional or local.",
    "area": "The region or place, for a regional or local scope.",
    "since": "When the state took its current value (null for none).",
    "outside_agreements": "Allegations that belong to no agreement: none was in effect for "
    "the accused.",
    "event_id": "The id of the event it concerns.",
    "event_type": "The type of the event it concerns.",
    # Views
    "state": "none (no agreement yet), pending (signed, not yet in effect), holding, contested "
    "(allegations within the contested window), expired, collapsed or withdrawn (every party "
    "bound by it withdrew).",
    "last_allegation_at": "When the latest allegation occurred.",
    "allegations": "The allegations.",
    "counts": "Per party, allegations made and received.",
    "made": "Allegations the party made.",
    "received": "Allegations made against the party.",
    "incidents_made": "Incidents counted in the allegations the party made.",
    "incidents_received": "Incidents counted in the allegations against the party.",
    "entries": "The story's entries, in order of occurrence.",
    "known_at": "The recording time asked for (by recorded_at); null: what the log says now.",
    "as_of": "The time asked for (by occurred_at); null: now.",
    # Webhooks
    "event_types": "The event types delivered.",
    "conflicts": "The conflicts whose events are delivered; null: every conflict.",
    "enabled": "False once disabled (by hand, or after failing for "
    "CEASEFIRE_WEBHOOK_DISABLE_AFTER).",
    "disabled_at": "When it was disabled, if it is.",
    "created_at": "When it was created.",
    "updated_at": "When it last changed.",
    "webhooks": "Every subscription, oldest first.",
    "deliveries": "The deliveries, newest event first.",
    "attempts": "Each attempt, in order.",
    "number": "The attempt's number, from 1.",
    "at": "When the attempt started.",
    "status_code": "The HTTP status the endpoint answered, if it answered.",
    "latency_ms": "How long the attempt took, in milliseconds.",
    "error": "What went wrong, if something did.",
    "status": "pending, succeeded or failed.",
    "next_attempt_at": "When the next attempt is due, if one is.",
    "completed_at": "When it succeeded or finally failed.",
    "message_id": "The `webhook-id` header it carries.",
    "requeued": "How many failed deliveries were queued again.",
    "previous_secret_expires_at": "Until when the secret before the last rotation still signs "
    "deliveries.",
    # Operations
    "projections": "The projections concerned.",
    "table": "The table it keeps.",
    "database": "`ok`, or `unreachable`.",
    "migrations": "`head` when the schema is current, `behind` when a migration is missing.",
    # Ambiguous terms, by schema
    "lull_id": "The lull's slug within its conflict.",
    "observed_by": "Who observed the lull: a mediator, a monitor, a newsroom.",
    "LullView.parties": "The sides keeping the calm.",
    "LullView.statement": "What the observer said, in words.",
    "LullObservedData.statement": "What the observer said, in words.",
    "Health.status": "`ok` when ready (or alive), `unavailable` otherwise.",
    "ProjectionView.name": "The projection's name: pass it to the rebuild.",
    "JobView.kind": "What the job does: `rebuild`.",
    "TimelineNote.type": "allegation.retracted or event.corrected.",
    "TimelineNote.source": "Who said so.",
    "TimelineEntry.source": "Who said so.",
    "AllegationView.source": "Who said so.",
    "TimelineEntry.id": "The event's id.",
    "TimelineNote.id": "The retraction's or correction's id.",
    "AllegationView.id": "The allegation's (violation.alleged event's) id.",
    "AllegationView.version": "The stream version of the allegation's event.",
    "Webhook.id": "The subscription's id.",
    "WebhookCreated.id": "The subscription's id.",
    "WebhookIn.description": "A note for people.",
    "Webhook.description": "A note for people.",
    "WebhookCreated.description": "A note for people.",
    "Webhook.url": "Where deliveries are POSTed.",
    "WebhookCreated.url": "Where deliveries are POSTed.",
    "Delivery.id": "The delivery's id.",
    "Delivery.event_type": "The delivered event's type.",
    "Delivery.conflict": "The delivered event's conflict.",
    "Delivery.position": "The delivered event's log position.",
    "Delivery.created_at": "When the delivery was queued.",
    "SecretRotated.id": "The subscription's id.",
    "JobView.id": "The job's id: GET /v1/admin/jobs/{id}.",
    "Appended.id": "The event's id.",
    "Appended.conflict": "The event's conflict.",
    **{f"Recorded{name}.id": "The event's id." for name in _EVENT},
}


def describe(schemas: dict[str, dict[str, Any]]) -> None:
    """Give each property without a description its term's entry (``FIELDS``), and each
    stored event's schema its sentence."""
    for schema_name, schema in schemas.items():
        if schema_name.startswith("Recorded") and "description" not in schema:
            event_type = schema.get("properties", {}).get("type", {}).get("const", "")
            schema["description"] = (
                f"A stored `{event_type}` event: as it was sent, with the version, position, "
                "recording time and schema version the log gave it."
            )
        for variant in [schema, *schema.get("oneOf", [])]:
            for field, prop in variant.get("properties", {}).items():
                if "description" in prop:
                    continue
                text = FIELDS.get(f"{schema_name}.{field}") or FIELDS.get(field)
                if text is not None:
                    prop["description"] = text
