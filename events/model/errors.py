"""The store's and the domain's errors. Callers never see a driver exception.

StoreError
├── ConcurrencyError        the stream moved past the writer's expected_version
├── DuplicateEventError     an event id is stored already with other content
├── DomainRuleError         an event breaks a rule of the domain (``rule`` names which)
│   └── UnknownActorError   an allegation or a denial names no actor of the conflict
├── UnknownConflictError    a read named a conflict with no events
├── ProjectionJobRunningError  a rebuild or verification of the projections is running already
├── PositionNotReachedError a read asked for a log position no database has reached
├── RecordingTimeRefusedError  chosen recording times, from a role that does not own the log
└── StorageUnavailableError the database cannot be reached
    └── SchemaNotMigratedError  it answers without our tables (``ceasefire migrate``)
"""

from __future__ import annotations

__all__ = [
    "ConcurrencyError",
    "DomainRuleError",
    "DuplicateEventError",
    "PositionNotReachedError",
    "ProjectionJobRunningError",
    "RecordingTimeRefusedError",
    "SchemaNotMigratedError",
    "StorageUnavailableError",
    "StoreError",
    "UnknownActorError",
    "UnknownConflictError",
]


class StoreError(Exception):
    pass


class ConcurrencyError(StoreError):
    def __init__(self, conflict: str, expected: int, actual: int) -> None:
        super().__init__(
            f"conflict {conflict!r} is at version {actual}, not the expected {expected}"
        )
        self.conflict = conflict
        self.expected = expected
        self.actual = actual


class DuplicateEventError(StoreError):
    def __init__(self, event_id: str) -> None:
        super().__init__(f"event {event_id} is already stored with different content")
        self.event_id = event_id


class DomainRuleError(StoreError):
    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(detail)
        self.rule = rule
        self.detail = detail


class UnknownActorError(DomainRuleError):
    """A name that spells none of the conflict's actors, with the closest ones that do."""

    def __init__(self, conflict: str, name: str, closest: list[str]) -> None:
        guess = f"; did you mean {' or '.join(repr(c) for c in closest)}?" if closest else ""
        super().__init__(
            "unknown-actor",
            f"{name!r} is no actor of conflict {conflict!r}{guess} (register a new one with "
            "actor.registered first)",
        )
        self.conflict = conflict
        self.name = name
        self.closest = closest


class UnknownConflictError(StoreError):
    def __init__(self, conflict: str) -> None:
        super().__init__(f"no events are recorded for conflict {conflict!r}")
        self.conflict = conflict


class StorageUnavailableError(StoreError):
    pass


class SchemaNotMigratedError(StorageUnavailableError):
    """The database answers but lacks a table of ours: nothing works until ``ceasefire
    migrate`` has run. Unavailable all the same (a 503, retried), with its own remedy."""

    def __init__(self) -> None:
        super().__init__("the database has not been migrated: run `ceasefire migrate`")


class ProjectionJobRunningError(StoreError):
    def __init__(self, job_id: str, kind: str) -> None:
        super().__init__(f"a projection {kind} is running already (job {job_id})")
        self.job_id = job_id
        self.kind = kind


class PositionNotReachedError(StoreError):
    def __init__(self, position: int, head: int) -> None:
        super().__init__(f"the log has not reached position {position} (its head is at {head})")
        self.position = position
        self.head = head


class RecordingTimeRefusedError(StoreError):
    """Recording times chosen rather than read off the database's clock (``import``, a load
    that keeps them) may only be written by the role that owns the log (PostgreSQL)."""

    def __init__(self) -> None:
        super().__init__(
            "only the database role that owns the log may keep chosen recording times: "
            "run this with the owner's database URL"
        )
