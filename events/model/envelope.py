"""What the store keeps around an event: its place in the log and in its conflict's stream.

A recorded event is the submitted event plus ``version`` (1, 2, 3… within the conflict),
``position`` (the global order), ``recorded_at`` and ``schema_version``. Each recorded type
subclasses its event type, so a fold receives ``event.data`` fully typed and the API returns
the same model it folds. They are written out, not generated, because a type checker must see
them (the fold's handlers are typed with them); import checks that they match the event union.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Set as AbstractSet
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar, get_args

from pydantic import BaseModel, Field, TypeAdapter

from events.model import types
from events.model.types import EVENT_TYPES, Event
from events.model.values import Frozen

__all__ = [
    "GENESIS_HASH",
    "RecordMeta",
    "Recorded",
    "canonical_json",
    "chain_hash",
    "construct",
    "content_hash",
    "format_instant",
    "in_utc",
    "record_content_hash",
    "recorded_adapter",
    "to_recorded",
    "with_position",
]

M = TypeVar("M", bound=BaseModel)


class RecordMeta(Frozen):
    version: int
    position: int
    recorded_at: datetime
    schema_version: int


class RecordedAgreementSigned(types.AgreementSigned, RecordMeta):
    pass


class RecordedAgreementCollapsed(types.AgreementCollapsed, RecordMeta):
    pass


class RecordedViolationAlleged(types.ViolationAlleged, RecordMeta):
    pass


class RecordedMissionDispatched(types.MissionDispatched, RecordMeta):
    pass


class RecordedAllegationRetracted(types.AllegationRetracted, RecordMeta):
    pass


class RecordedEventCorrected(types.EventCorrected, RecordMeta):
    pass


class RecordedCeasefireDeclared(types.CeasefireDeclared, RecordMeta):
    pass


class RecordedAgreementExtended(types.AgreementExtended, RecordMeta):
    pass


class RecordedAllegationDenied(types.AllegationDenied, RecordMeta):
    pass


class RecordedMissionEnded(types.MissionEnded, RecordMeta):
    pass


class RecordedConflictDescribed(types.ConflictDescribed, RecordMeta):
    pass


class RecordedActorRegistered(types.ActorRegistered, RecordMeta):
    pass


class RecordedMilestoneExtended(types.MilestoneExtended, RecordMeta):
    pass


class RecordedMilestoneMet(types.MilestoneMet, RecordMeta):
    pass


class RecordedAgreementRepudiated(types.AgreementRepudiated, RecordMeta):
    pass


class RecordedTalksSuspended(types.TalksSuspended, RecordMeta):
    pass


class RecordedTalksResumed(types.TalksResumed, RecordMeta):
    pass


class RecordedIncidentEnded(types.IncidentEnded, RecordMeta):
    pass


class RecordedViolationsReported(types.ViolationsReported, RecordMeta):
    pass


class RecordedLullObserved(types.LullObserved, RecordMeta):
    pass


class RecordedLullEnded(types.LullEnded, RecordMeta):
    pass


Recorded = Annotated[
    RecordedAgreementSigned
    | RecordedAgreementCollapsed
    | RecordedViolationAlleged
    | RecordedMissionDispatched
    | RecordedAllegationRetracted
    | RecordedEventCorrected
    | RecordedCeasefireDeclared
    | RecordedAgreementExtended
    | RecordedAllegationDenied
    | RecordedMissionEnded
    | RecordedConflictDescribed
    | RecordedActorRegistered
    | RecordedMilestoneExtended
    | RecordedMilestoneMet
    | RecordedAgreementRepudiated
    | RecordedTalksSuspended
    | RecordedTalksResumed
    | RecordedIncidentEnded
    | RecordedViolationsReported
    | RecordedLullObserved
    | RecordedLullEnded,
    Field(discriminator="type"),
]
recorded_adapter: TypeAdapter[Recorded] = TypeAdapter(Recorded)

GENESIS_HASH = bytes(32)


def format_instant(value: datetime) -> str:
    """One fixed RFC 3339 spelling, so the canonical bytes of an event never depend on how a
    driver or a writer formatted a timestamp."""
    # isoformat, not strftime: glibc's %Y does not pad years before 1000 to four digits, and
    # the canonical bytes must not depend on the platform's C library.
    # isoformat of an aware UTC datetime ends in "+00:00": cut, and spelt "Z"
    return in_utc(value).isoformat("T", "microseconds")[:-6] + "Z"


def in_utc(value: datetime) -> datetime:
    """``value`` in UTC: itself when it is already (as both databases and the models hand
    instants over), with no conversion's copy, which every append made several of."""
    return value if value.utcoffset() == _NO_OFFSET else value.astimezone(UTC)


_NO_OFFSET = timedelta(0)


#: ``json.dumps`` with these options builds a new encoder on every call; this one is built once.
_canonical = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def canonical_json(value: Any) -> str:
    return _canonical(value)


def content_hash(
    *,
    event_id: str,
    type: str,
    conflict: str,
    version: int,
    schema_version: int,
    occurred_at: datetime,
    recorded_at: datetime,
    source_json: str,
    data_json: str,
    key_id: str | None = None,
) -> bytes:
    """SHA-256 over the canonical content of one stored event: every field a reader sees
    except its position, which the chain itself pins down. ``key_id`` (who appended it) enters
    only when there is one, so events recorded before keys were recorded keep their hashes."""
    # canonical_json of {"id": event_id, "type": type, ...}, spelled out in its sorted key
    # order: this runs on every append (tests hold the two equal).
    key = "" if key_id is None else f'"key_id":{_canonical(key_id)},'
    canonical = (
        f'{{"conflict":{_canonical(conflict)},"data":{_canonical(data_json)},'
        f'"id":{_canonical(event_id)},{key}"occurred_at":"{format_instant(occurred_at)}",'
        f'"recorded_at":"{format_instant(recorded_at)}","schema_version":{int(schema_version)},'
        f'"source":{_canonical(source_json)},"type":{_canonical(type)},"version":{int(version)}}}'
    )
    return hashlib.sha256(canonical.encode()).digest()


def record_content_hash(
    record: Any, *, source_json: str, data_json: str, key_id: str | None
) -> bytes:
    """``content_hash`` of anything that carries an event's stored fields as attributes (a
    recorded event, a stored row, an exported line): the one place they are named."""
    fields = {name: getattr(record, name) for name in _HASHED_AS_THEY_ARE}
    return content_hash(
        event_id=str(record.id),
        source_json=source_json,
        data_json=data_json,
        key_id=key_id,
        **fields,
    )


#: The fields ``record_content_hash`` hands ``content_hash`` as the record has them.
_HASHED_AS_THEY_ARE = (
    "type",
    "conflict",
    "version",
    "schema_version",
    "occurred_at",
    "recorded_at",
)


def chain_hash(previous: bytes, content: bytes) -> bytes:
    """Each event's chain hash covers its content and, through ``previous``, every event
    before it in position order: one changed byte anywhere breaks every later link."""
    return hashlib.sha256(previous + content).digest()


def _recorded_classes() -> dict[str, type[RecordMeta]]:
    members = get_args(get_args(Recorded)[0])
    return {cls.model_fields["type"].default: cls for cls in members}


_RECORDED_CLASSES = _recorded_classes()


_META_FIELDS = frozenset(RecordMeta.model_fields)


def construct(cls: type[M], values: dict[str, Any], fields_set: AbstractSet[str]) -> M:
    """A model from values that are valid already, every field given: pydantic's
    ``model_construct`` (no validation), with the fields the values came with as its
    ``model_fields_set``; the model's ``__dict__`` follows its field order, as validation's."""
    return cls.model_construct(set(fields_set), **values)


def _check_constructible() -> None:
    """What ``construct`` and ``to_recorded`` rely on: one recorded class per event type, in
    the union's order, each the event's fields after the record's own."""
    for cls in _RECORDED_CLASSES.values():
        assert not cls.__pydantic_post_init__ and not cls.__private_attributes__
        assert cls.model_config.get("extra") != "allow" and not cls.__pydantic_root_model__
        event_class = cls.__mro__[1]
        assert issubclass(event_class, BaseModel)
        event_fields = list(event_class.model_fields)
        assert list(cls.model_fields) == list(_META_FIELDS_ORDER) + event_fields
    assert _META_FIELDS_ORDER == ("version", "position", "recorded_at", "schema_version")
    # One recorded class per event type, in the event union's order: the union is the list.
    assert tuple(_RECORDED_CLASSES) == EVENT_TYPES


_META_FIELDS_ORDER = tuple(RecordMeta.model_fields)
_check_constructible()


def to_recorded(
    event: Event, *, version: int, position: int, recorded_at: datetime, schema_version: int
) -> Recorded:
    """The event as the store records it. The event is validated already, so its fields are
    carried over as they are instead of being dumped and validated again: this runs on every
    append."""
    values = {
        "version": version,
        "position": position,
        "recorded_at": recorded_at,
        "schema_version": schema_version,
        **event.__dict__,
    }
    cls = _RECORDED_CLASSES[event.type]
    return construct(cls, values, event.model_fields_set | _META_FIELDS)  # type: ignore[return-value]


def with_position(event: Recorded, position: int, recorded_at: datetime | None = None) -> Recorded:
    """The recorded event at its place in the log, once the write has taken it; at the
    database's ``recorded_at`` when the database chose it (``events.log.writers.Written``)."""
    update: dict[str, Any] = {"position": position}
    if recorded_at is not None:
        update["recorded_at"] = recorded_at
    return event.model_copy(update=update)
