"""Every name a new event gives, stored as its actor's canonical name; unknown accusers refused.

A feed spells one actor many ways ("Hizbollah", "Hizbullah", "Hezbollah"). Before the rules
check a new event, ``canonical`` replaces each name it gives (``NAME_FIELDS``) with the canonical
name of the conflict's actor it spells (``events.model.actors``), and keeps what the source
wrote in the event's ``as_written`` (field -> spelling) where that differs. A party, mediator,
declarer or mission organization that spells no actor is a new one; an allegation or a denial
naming no actor is refused (``UnknownActorError``, with the closest names), so a misspelt
accused can no longer be counted against nobody.

Only new appends are canonicalised (``events.model.decision.decide``): an import stores a log's
history exactly as recorded, since its hashes cover every byte, and old events naming no actor
still replay. ``as_sent`` undoes it, for telling an idempotent retry from a different event.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from events.model.actors import name_key
from events.model.allegation_data import ViolationAllegedData
from events.model.correction_data import CORRECTABLE_DATA
from events.model.errors import DomainRuleError, UnknownActorError
from events.model.state import ConflictState
from events.model.types import Event, EventCorrected
from events.model.values import Frozen

__all__ = ["NAME_FIELDS", "NameFields", "as_sent", "canonical"]

#: Per event type: its fields holding one name, its fields holding a list of names, and which
#: of them must name a known actor (the others may introduce one).
NameFields = tuple[tuple[str, ...], tuple[str, ...], frozenset[str]]
NAME_FIELDS: dict[str, NameFields] = {
    "violation.alleged": (("alleged_by", "accused"), (), frozenset({"alleged_by", "accused"})),
    "allegation.denied": (("denied_by",), (), frozenset({"denied_by"})),
    "allegation.retracted": (("retracted_by",), (), frozenset()),
    "agreement.signed": ((), ("parties", "mediators"), frozenset()),
    "ceasefire.declared": (("declared_by",), ("toward",), frozenset()),
    "mission.dispatched": (("organization",), ("organizations",), frozenset()),
    "actor.registered": (("name",), (), frozenset()),
    "agreement.repudiated": (("party",), (), frozenset({"party"})),
    "talks.suspended": ((), ("parties",), frozenset()),
    "talks.resumed": ((), ("parties",), frozenset()),
    "violations.reported": (("reported_by",), (), frozenset({"reported_by"})),
    "lull.observed": (("observed_by",), ("parties",), frozenset()),
}

#: Per event type, the fields whose names may spell an actor another field names too (a
#: mediator is no party; an observer of a lull may be one of its parties).
_MAY_REPEAT = {"agreement.signed": "mediators", "lull.observed": "observed_by"}


def canonical(state: ConflictState, event: Event) -> Event:
    """``event`` with every name it gives as its actor's canonical name (see the module)."""
    if isinstance(event, EventCorrected):
        return _canonical_correction(state, event)
    fields = NAME_FIELDS.get(event.type)
    if fields is None:
        return event
    data = _canonical_data(state, event.type, event.data, fields, event.occurred_at)
    return event if data is event.data else event.model_copy(update={"data": data})


def _canonical_correction(state: ConflictState, event: EventCorrected) -> Event:
    """A correction carries a whole new ``data`` of its target's type: canonicalised the same."""
    correction = event.data
    fields = NAME_FIELDS.get(correction.event_type)
    if fields is None:
        return event
    corrected = CORRECTABLE_DATA[correction.event_type].model_validate(correction.data)
    data = _canonical_data(state, correction.event_type, corrected, fields, event.occurred_at)
    if data is corrected:
        return event
    new = data.model_dump(mode="json", exclude_none=True)
    return event.model_copy(update={"data": correction.model_copy(update={"data": new})})


def _canonical_data(
    state: ConflictState, event_type: str, data: Frozen, fields: NameFields, at: datetime
) -> Frozen:
    singles, lists, required = fields
    actors = state.actors
    update: dict[str, Any] = {}
    written: dict[str, str] = {}

    def resolve(field: str, where: str, name: str) -> str:
        nonlocal actors
        found = actors.resolve(name)
        if found is None:
            if field in required:
                raise UnknownActorError(state.conflict, name, actors.closest(name))
            actors = actors.named([name], at)  # a new actor: later names may spell it too
            return name
        if found != name:
            written[where] = name
        return found

    for field in singles:
        name = getattr(data, field)
        if name is None:
            continue
        resolved = resolve(field, field, name)
        if resolved != name:
            update[field] = resolved
    for field in lists:
        names = getattr(data, field)
        if not names:
            continue
        resolved_names = tuple(resolve(field, f"{field}.{i}", n) for i, n in enumerate(names))
        if resolved_names != names:
            update[field] = resolved_names
    by_party: Mapping[str, int] | None = _field_of(data, "by_party")
    if by_party:
        resolved_counts: dict[str, int] = {}
        spelt: dict[str, str] = {}
        for name, count in by_party.items():
            found = actors.resolve(name)
            if found is None:
                raise UnknownActorError(state.conflict, name, actors.closest(name))
            if found in resolved_counts:
                raise DomainRuleError(
                    "same-actor-twice", f"two names in by_party spell {found!r}: name it once"
                )
            resolved_counts[found] = count
            if found != name:
                spelt[found] = name
        if spelt:
            # ``as_written`` names a key by its place among the keys sorted (as stored).
            ordered = sorted(resolved_counts)
            update["by_party"] = resolved_counts
            written.update({f"by_party.{ordered.index(n)}": w for n, w in spelt.items()})
    _distinct(event_type, data, update, singles, lists)
    if not update:
        return data
    given: Mapping[str, str] = _field_of(data, "as_written") or {}
    update["as_written"] = {**given, **written}
    return data.model_copy(update=update)


def _field_of(data: Frozen, name: str) -> Any:
    """``data``'s field ``name``, None where its type has none. Asked of the class: an attribute
    a model lacks costs pydantic an exception (1.7 µs, on every append of most types)."""
    return getattr(data, name) if name in type(data).model_fields else None


def _distinct(
    event_type: str,
    data: Frozen,
    update: dict[str, Any],
    singles: tuple[str, ...],
    lists: tuple[str, ...],
) -> None:
    """Two spellings of one actor where the event needs two actors: an accuser accusing
    itself, one party named twice."""
    if not update:
        return
    if isinstance(data, ViolationAllegedData):
        by = update.get("alleged_by", data.alleged_by)
        accused = update.get("accused", data.accused)
        if by == accused:
            raise DomainRuleError(
                "self-accusation", f"{by!r} would accuse itself: both names spell that actor"
            )
        return
    if event_type not in (
        "agreement.signed",
        "ceasefire.declared",
        "mission.dispatched",
        "talks.suspended",
        "talks.resumed",
        "lull.observed",
    ):
        return
    names: list[str] = []
    for field in (*singles, *lists):
        if _MAY_REPEAT.get(event_type) == field:
            continue
        value = update.get(field, getattr(data, field))
        if value is None:
            continue
        names.extend([value] if isinstance(value, str) else value)
    keys = [name_key(n) for n in names]
    if len(set(keys)) != len(keys):
        raise DomainRuleError(
            "same-actor-twice",
            f"two of {', '.join(repr(n) for n in names)} spell one actor: name each once",
        )


def as_sent(event_type: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """The ``data`` of an event as its writer sent it: each name in ``as_written`` put back in
    its field, ``as_written`` dropped (a correction's inner data too)."""
    sent = dict(data)
    if event_type == "event.corrected" and isinstance(sent.get("data"), Mapping):
        inner_type = str(sent.get("event_type"))
        sent["data"] = as_sent(inner_type, sent["data"])
        return sent
    written = sent.pop("as_written", None)
    if not written:
        return sent
    for where, spelling in written.items():
        field, _, index = where.partition(".")
        if field not in sent:
            continue
        if index and isinstance(sent[field], Mapping):  # a key of by_party, by its sorted place
            keys = sorted(data[field])  # the stored keys' places, whatever was put back already
            if int(index) < len(keys):
                stored = keys[int(index)]
                sent[field] = {(spelling if k == stored else k): v for k, v in sent[field].items()}
        elif index:
            values = list(sent[field])
            if int(index) < len(values):
                values[int(index)] = spelling
                sent[field] = values
        else:
            sent[field] = spelling
    return sent
