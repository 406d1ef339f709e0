"""The rules of allegations and reports: an ongoing violation ends after it began, an
allegation naming an agreement accuses one of its parties, a report covers a period that is
over and, naming an agreement, is a non-party's.

A correction of an allegation or of a report must leave data that still passes them, so the
correction's rules in ``events.model.rules`` call them too.
"""

from __future__ import annotations

from datetime import datetime

from events.model import types
from events.model.errors import DomainRuleError
from events.model.state import ConflictState, known_agreement

__all__ = [
    "check_allegation",
    "check_end",
    "check_report",
]


def check_end(occurred_at: datetime, ended_at: datetime | None) -> None:
    """An ongoing violation ends at or after it began."""
    if ended_at is not None and ended_at < occurred_at:
        raise DomainRuleError(
            "ended-before-occurred",
            f"ended_at {ended_at.isoformat()} is before the violation occurred "
            f"({occurred_at.isoformat()})",
        )


def check_report(state: ConflictState, event: types.ViolationsReported) -> None:
    """A report covers a period over by the time it is made; one naming an agreement is a
    non-party's, and attributes violations to its parties only."""
    data = event.data
    if data.period_to > event.occurred_at:
        raise DomainRuleError(
            "report-before-period-end",
            f"the period reported on ends at {data.period_to.isoformat()}, after the report "
            f"(occurred_at {event.occurred_at.isoformat()})",
        )
    if data.agreement_id is None:
        return
    agreement = known_agreement(state, data.agreement_id)
    if agreement.party(data.reported_by) is not None:
        raise DomainRuleError(
            "reporter-is-a-party",
            f"{data.reported_by!r} is a party of agreement {agreement.agreement_id!r}: a "
            "party's claims are violation.alleged",
        )
    for accused in data.by_party or {}:
        if agreement.party(accused) is None:
            raise DomainRuleError(
                "accused-not-a-party",
                f"{accused!r} is not a party of agreement {agreement.agreement_id!r} "
                f"(parties: {', '.join(agreement.parties)})",
            )


def check_allegation(state: ConflictState, event: types.ViolationAlleged) -> None:
    """An allegation naming no agreement is always accepted: which agreement it belongs to
    (if any) is decided when a view is read. One naming an agreement must accuse a party."""
    check_end(event.occurred_at, event.data.ended_at)
    if event.data.agreement_id is None:
        return
    agreement = known_agreement(state, event.data.agreement_id)
    if agreement.party(event.data.accused) is None:
        raise DomainRuleError(
            "accused-not-a-party",
            f"{event.data.accused!r} is not a party of agreement {agreement.agreement_id!r} "
            f"(parties: {', '.join(agreement.parties)})",
        )
