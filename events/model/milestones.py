"""Milestones inside an agreement: a withdrawal, a handover, a prisoner exchange, each due by
a time of its own, which may be extended and is met or not.

A milestone never changes the agreement's own state: an open-ended ceasefire whose withdrawal
deadline passes is still in effect, the deadline ``overdue``. Like an agreement's end, a
milestone's due time at T is the one it was signed with moved by the extensions that occurred
by T, so a view of T never sees a later extension, whatever order they were recorded in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID

__all__ = ["MilestoneExtension", "MilestoneMeeting", "MilestoneState", "MilestoneStateName"]

MilestoneStateName = Literal["pending", "met", "overdue"]


@dataclass(frozen=True, slots=True)
class MilestoneExtension:
    """A ``milestone.extended``: the new due time, from the extension's occurred_at on."""

    event_id: UUID
    occurred_at: datetime
    due_at: datetime
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class MilestoneMeeting:
    """The ``milestone.met`` that says it was done, and when."""

    event_id: UUID
    occurred_at: datetime
    statement: str | None = None


@dataclass(frozen=True, slots=True)
class MilestoneState:
    """A milestone as the agreement's signing (or its correction) set it, with its extensions
    and the meeting of it."""

    milestone_id: str
    description: str
    due_at: datetime
    extensions: tuple[MilestoneExtension, ...] = ()
    met: MilestoneMeeting | None = None

    def due_at_time(self, at: datetime) -> datetime:
        """The due time as known at ``at``: as signed, moved by every extension that occurred
        by then (the latest wins, whatever the order they were recorded in)."""
        due = self.due_at
        for extension in self.extensions:
            if extension.occurred_at <= at and extension.due_at > due:
                due = extension.due_at
        return due

    def current_due(self) -> datetime:
        """The due time with every extension recorded: what an extension must be later than."""
        return max((self.due_at, *(e.due_at for e in self.extensions)))

    def met_by(self, at: datetime) -> bool:
        return self.met is not None and self.met.occurred_at <= at

    def state_at(self, at: datetime) -> MilestoneStateName:
        """``met`` once met (by ``at``); else ``pending`` before its due time at ``at``,
        ``overdue`` from it on."""
        if self.met_by(at):
            return "met"
        return "pending" if at < self.due_at_time(at) else "overdue"
