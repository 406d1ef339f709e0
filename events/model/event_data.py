"""What every event's data shares: ``EventData``, the base of each type's data model.

Each family's data lives beside it, in a module of its own: ``agreement_data`` (agreements,
declarations, milestones, talks, lulls), ``allegation_data`` (allegations, their denials,
retractions and ends, aggregate reports), ``mission_data``, ``conflict_data`` (the conflict and
its actors) and ``correction_data`` (corrections, checked against the model of the type they
correct). The event types of ``events.model.types`` carry one of these as their ``data``.
"""

from __future__ import annotations

from events.model.values import Frozen, UtcOffset

__all__ = [
    "EventData",
]


class EventData(Frozen):
    """What every event's data may carry: ``utc_offset``, the offset of local time where it
    happened. Absent in events recorded before it existed and in those given in UTC, so their
    stored data, and their hashes, are what they were."""

    utc_offset: UtcOffset | None = None
