"""What the store keeps around an event: its place in the log and in its conflict's stream.

A recorded event is the submitted event plus ``version`` (1, 2, 3… within the conflict),
``position`` (the global order), ``recorded_at`` and ``schema_version``. Each recorded type
subclasses its event type, so a fold receives ``event.data`` fully typed and the API returns
the same model it folds.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Annotated, Any, get_args

from pydantic import Field, TypeAdapter

from events.types import (
    AgreementCollapsed,
    AgreementSigned,
    AllegationRetracted,
    Event,
    EventCorrected,
    Frozen,
    MissionDispatched,
    ViolationAlleged,
)

__all__ = [
    "GENESIS_HASH",
    "RecordMeta",
    "Recorded",
    "canonical_json",
    "chain_hash",
    "content_hash",
    "format_instant",
    "recorded_adapter",
]


class RecordMeta(Frozen):
    version: int
    position: int
    recorded_at: datetime
    schema_version: int


class RecordedAgreementSigned(AgreementSigned, RecordMeta):
    pass


class RecordedAgreementCollapsed(AgreementCollapsed, RecordMeta):
    pass


class RecordedViolationAlleged(ViolationAlleged, RecordMeta):
    pass


class RecordedMissionDispatched(MissionDispatched, RecordMeta):
    pass


class RecordedAllegationRetracted(AllegationRetracted, RecordMeta):
    pass


class RecordedEventCorrected(EventCorrected, RecordMeta):
    pass


Recorded = Annotated[
    RecordedAgreementSigned
    | RecordedAgreementCollapsed
    | RecordedViolationAlleged
    | RecordedMissionDispatched
    | RecordedAllegationRetracted
    | RecordedEventCorrected,
    Field(discriminator="type"),
]
recorded_adapter: TypeAdapter[Recorded] = TypeAdapter(Recorded)

GENESIS_HASH = bytes(32)


def format_instant(value: datetime) -> str:
    """One fixed RFC 3339 spelling, so the canonical bytes of an event never depend on how a
    driver or a writer formatted a timestamp."""
    # isoformat, not strftime: glibc's %Y does not pad years before 1000 to four digits, and
    # the canonical bytes must not depend on the platform's C library.
    return value.astimezone(UTC).replace(tzinfo=None).isoformat("T", "microseconds") + "Z"


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


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
) -> bytes:
    """SHA-256 over the canonical content of one stored event: every field a reader sees
    except its position, which the chain itself pins down."""
    canonical = canonical_json(
        {
            "id": event_id,
            "type": type,
            "conflict": conflict,
            "version": version,
            "schema_version": schema_version,
            "occurred_at": format_instant(occurred_at),
            "recorded_at": format_instant(recorded_at),
            "source": source_json,
            "data": data_json,
        }
    )
    return hashlib.sha256(canonical.encode()).digest()


def chain_hash(previous: bytes, content: bytes) -> bytes:
    """Each event's chain hash covers its content and, through ``previous``, every event
    before it in position order: one changed byte anywhere breaks every later link."""
    return hashlib.sha256(previous + content).digest()


def _recorded_classes() -> dict[str, type[RecordMeta]]:
    members = get_args(get_args(Recorded)[0])
    return {cls.model_fields["type"].default: cls for cls in members}


_RECORDED_CLASSES = _recorded_classes()


def to_recorded(
    event: Event, *, version: int, position: int, recorded_at: datetime, schema_version: int
) -> Recorded:
    """The event as the store records it. The event is validated already, so its fields are
    carried over as they are (``model_construct``) instead of being dumped and validated again:
    this runs on every append."""
    recorded: Recorded = _RECORDED_CLASSES[event.type].model_construct(  # type: ignore[assignment]
        _fields_set=event.model_fields_set
        | {"version", "position", "recorded_at", "schema_version"},
        **dict(event),
        version=version,
        position=position,
        recorded_at=recorded_at,
        schema_version=schema_version,
    )
    return recorded
