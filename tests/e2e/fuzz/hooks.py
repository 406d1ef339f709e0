"""Schemathesis hooks for ``tests/e2e/test_schemathesis.py`` (loaded by the CLI through
``SCHEMATHESIS_HOOKS``).

Schemathesis's ``positive_data_acceptance`` counts every 422 for a schema-valid request as a
failure. Here a schema-valid event may still break a rule of the domain (an allegation
with no agreement in effect: ``/problems/domain-rule``) and a schema-valid URL may still be
one the server may not call (``/problems/unsafe-webhook-url``): 422s the schema cannot
foresee. So ``schemathesis.toml`` lets 422 pass that check, and this one narrows it back: a
schema-valid request must never be a ``/problems/validation-error``, the one 422 that means
the schema and the server disagree.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from datetime import UTC, datetime
from typing import Any

import schemathesis
from pydantic import TypeAdapter, ValidationError

from app.api.event_bodies import EventIn
from events.model.actors import name_key


@schemathesis.check
def valid_data_is_not_a_validation_error(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case[Any]
) -> bool | None:
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 422:
        return None
    try:
        problem: Any = response.json()
    except ValueError:
        return None
    if (
        _breaks_a_rule_across_fields(case.body)
        or _has_an_integral_float(case.body)
        or (isinstance(case.query, dict) and _within_period(case.query) != case.query)
        or _is_an_edge_instant(problem)
    ):
        # The first: rules the schema states in words only (see _within_rules). The second:
        # JSON Schema counts 2.0 as an integer; the server refuses it on purpose (a count
        # or a version sent as a float is a client's bug, not a number to round). The third:
        # the first and last instants a datetime holds (0001-01-01T00:00Z, or an offset that
        # puts an instant before it in UTC) are refused on purpose (asyncpg would store them
        # as -infinity and infinity); ``format: date-time`` cannot exclude them.
        return None
    if isinstance(problem, dict) and problem.get("type") == "/problems/validation-error":
        raise AssertionError(
            f"the schema accepts this request but the server refused it: {response.text}"
        )
    return None


#: The loopback receiver the run allow-lists (CEASEFIRE_WEBHOOK_ALLOWED_SUBNETS); the test
#: sets it. Every other URL is refused by the server before any connection is tried.
RECEIVER = os.environ.get("CEASEFIRE_FUZZ_RECEIVER", "")
_URL_BODIES = {"POST /v1/webhooks", "PATCH /v1/webhooks/{webhook_id}"}


_NAME = re.compile(r"^[^ \t\n\r\f\v\x00](?:[^\x00]*[^ \t\n\r\f\v\x00])?$")


def _is_name(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= 200 and bool(_NAME.match(value))


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return instant.astimezone(UTC) if instant.tzinfo is not None else None
    except (ValueError, OverflowError):
        return None


def _within_rules(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` changed where it breaks one of the rules that span fields, which JSON Schema
    cannot state and the schema's descriptions do: parties (and a declaration's ``declared_by``
    and ``toward``) distinct ignoring case, ``accused`` not ``alleged_by``, casualties
    ``low <= best <= high``, ``expires_at`` after ``effective_at``, an area for a regional or
    local scope, a report's ``to`` after its ``from`` and its ``by_party`` naming each once,
    milestone ids distinct, no ``ended_at`` beside ``ongoing: true``. Only values that are
    valid on their own are changed, so a request made invalid on purpose stays invalid."""
    data = dict(data)
    milestones = data.get("milestones")
    if isinstance(milestones, list) and all(
        isinstance(m, dict)
        and isinstance(m.get("milestone_id"), str)
        and re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,63}", m["milestone_id"])
        for m in milestones
    ):
        data["milestones"] = [
            {**m, "milestone_id": f"{m['milestone_id'][:40]}-{number}"}
            for number, m in enumerate(milestones)
        ]
    parties = data.get("parties")
    if isinstance(parties, list) and all(_is_name(p) for p in parties):
        seen: set[str] = set()
        distinct = []
        for number, party in enumerate(parties):
            name = party if party.casefold() not in seen else f"party {number}"
            seen.add(name.casefold())
            distinct.append(name)
        data["parties"] = distinct
    alleged_by, accused = data.get("alleged_by"), data.get("accused")
    if (
        isinstance(alleged_by, str)
        and isinstance(accused, str)
        and _is_name(alleged_by)
        and _is_name(accused)
        and alleged_by.casefold() == accused.casefold()
    ):
        data["accused"] = "the other party"
    casualties = data.get("casualties_claimed")
    if isinstance(casualties, dict):
        casualties = _ordered(casualties)
        for part in ("killed", "injured"):  # the shape with killed and injured apart
            if isinstance(casualties.get(part), dict):
                casualties = {**casualties, part: _ordered(casualties[part])}
        data["casualties_claimed"] = casualties
    declared_by, toward = data.get("declared_by"), data.get("toward")
    if _is_name(declared_by) and isinstance(toward, list) and all(_is_name(p) for p in toward):
        named = {str(declared_by).casefold()}
        kept = []
        for number, party in enumerate(toward):
            name = party if party.casefold() not in named else f"party {number}"
            named.add(name.casefold())
            kept.append(name)
        data["toward"] = kept
    effective_at, expires_at = _instant(data.get("effective_at")), _instant(data.get("expires_at"))
    if effective_at is not None and expires_at is not None and expires_at <= effective_at:
        data["expires_at"] = data["effective_at"]
        data["effective_at"] = None
    period_from, period_to = _instant(data.get("from")), _instant(data.get("to"))
    if period_from is not None and period_to is not None and period_to < period_from:
        data["from"], data["to"] = data["to"], data["from"]  # a report's period, the right way
    elif period_from is not None and period_from == period_to:
        if period_from.year > 1970:
            data["from"] = "1970-01-01T00:00:00Z"
        else:
            data["to"] = "2999-01-01T00:00:00Z"
    by_party = data.get("by_party")
    if isinstance(by_party, dict) and all(_is_name(k) for k in by_party):
        kept_keys: dict[str, Any] = {}
        for name, count in by_party.items():
            if name_key(name) not in {name_key(k) for k in kept_keys}:
                kept_keys[name] = count
        data["by_party"] = kept_keys
    if data.get("ongoing") is True and data.get("ended_at") is not None:
        data["ongoing"] = False  # an allegation still going on has no end yet
    scope = data.get("scope")
    if (
        isinstance(scope, dict)
        and scope.get("level") in ("regional", "local")
        and scope.get("area") is None
    ):
        data["scope"] = {**scope, "area": "the border region"}
    corrected = data.get("data")
    if isinstance(corrected, dict):
        data["data"] = _within_rules(corrected)
    return data


def _ordered(claimed: dict[str, Any]) -> dict[str, Any]:
    """A casualty range with ``low <= best <= high`` (when its three values are integers)."""
    values = [claimed.get(k) for k in ("low", "best", "high")]
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        low, best, high = sorted(values)  # type: ignore[type-var]
        return {**claimed, "low": low, "best": best, "high": high}
    return claimed


def _within_period(query: dict[str, Any]) -> dict[str, Any]:
    """``from`` before ``to`` (the allegations' period), which the schema states in words."""
    start, end = _instant(query.get("from")), _instant(query.get("to"))
    if start is None or end is None or start < end:
        return query
    changed = {k: v for k, v in query.items() if k != "to"}
    if start > end:
        changed["from"], changed["to"] = query["to"], query["from"]
    return changed


def _is_an_edge_instant(problem: Any) -> bool:
    errors = problem.get("errors") if isinstance(problem, dict) else None
    return (
        isinstance(errors, list)
        and bool(errors)
        and all(
            isinstance(error, dict) and str(error.get("msg", "")).endswith(_EDGE_MESSAGES)
            for error in errors
        )
    )


#: How ``events.model.values`` words the refusal of an instant a datetime cannot hold in UTC.
_EDGE_MESSAGES = (
    "is out of range: the first and last instants a datetime can hold",
    "is out of range once converted to UTC",
)


def _has_an_integral_float(value: Any) -> bool:
    if isinstance(value, float):
        return value.is_integer()
    if isinstance(value, dict):
        return any(_has_an_integral_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_an_integral_float(v) for v in value)
    return False


def _breaks_a_rule_across_fields(body: Any) -> bool:
    data = body.get("data") if isinstance(body, dict) else None
    return isinstance(data, dict) and _within_rules(data) != data


_EVENT_IN: TypeAdapter[Any] = TypeAdapter(EventIn)


def _acceptable(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` as an event the domain takes in any conflict, new or not: a mission dispatched
    under a mission id of its own, with the generated ``conflict``, ``occurred_at`` and
    ``source`` kept, and no ``id`` or ``expected_version`` (a reused id or a stale version is a
    409; the server makes the id). The mission id and the choice derive from the body, so a run
    is the same every time. Only for a body the schema accepts (so a request made invalid on
    purpose stays invalid: the server's own model decides, with integral floats read as the
    integers JSON Schema takes them for), and for one body in two (so the rules keep being
    exercised): without it nearly every generated event breaks a rule (an allegation with no
    agreement, a collapse of an agreement never signed) or names a stale version, the append
    answers 422 or 409, and the stateful phase has no recorded event whose ``conflict`` it
    could follow to the reads."""
    try:
        _EVENT_IN.validate_python(_integral(body))
    except ValidationError:
        return body
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
    if int(digest, 16) % 2:
        return body
    mission = {
        **{k: body[k] for k in ("conflict", "occurred_at", "source") if k in body},
        "type": "mission.dispatched",
        "data": {
            "mission_id": f"fuzz-{digest[:16]}",
            "organization": "Collective Security Treaty Organization (CSTO)",
        },
    }
    try:
        _EVENT_IN.validate_python(mission)
    except ValidationError:
        return body
    return mission


def _integral(value: Any) -> Any:
    """``value`` with every integral float an int, as JSON Schema counts it."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral(v) for v in value]
    return value


@schemathesis.hook
def map_query(context: schemathesis.HookContext, query: Any) -> Any:
    operation = context.operation
    if operation is None or not isinstance(query, dict):
        return query
    if operation.label == "GET /v1/conflicts/{conflict}/allegations":
        return _within_period(query)
    return query


@schemathesis.hook
def map_body(context: schemathesis.HookContext, body: Any) -> Any:
    operation = context.operation
    if operation is None or not isinstance(body, dict):
        return body
    if operation.label == "POST /v1/events" and isinstance(body.get("data"), dict):
        return _acceptable({**body, "data": _within_rules(body["data"])})
    if operation.label in _URL_BODIES and RECEIVER:
        # Half of the schema-valid URLs become the receiver's, so subscriptions get made and
        # the stateful phase can follow their links (pings, deliveries, rotations). A URL
        # that breaks the schema is left as generated.
        url = body.get("url")
        if isinstance(url, str) and 0 < len(url) <= 2000 and "\x00" not in url and len(url) % 2:
            return {**body, "url": RECEIVER}
    return body
