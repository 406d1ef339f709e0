"""What contests an agreement besides a party's claims, told apart: the weight of each
allegation's author (a party's ``claims``, the ``findings`` of mediators and monitors, the
claims of any ``third_party``), and where an aggregate report (``violations.reported``) is
listed. Pure, like ``projections.standing``: decided when a view is read."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from events.model.state import AgreementState
from projections.filing import Role

__all__ = ["Weight", "report_agreements", "weight_of"]

#: How a view tells apart what contests an agreement: a party's ``claims``, the ``findings``
#: of its mediators and monitors, and the claims of any ``third_party``.
Weight = Literal["claims", "findings", "third_party"]


def weight_of(role: Role) -> Weight:
    """Which of an agreement's tallies an allegation by ``role`` adds to."""
    if role == "party":
        return "claims"
    if role in ("mediator", "monitor"):
        return "findings"
    return "third_party"


def report_agreements(
    agreements: Iterable[AgreementState],
    named: str | None,
    period_from: datetime,
    period_to: datetime,
    accused: Iterable[str] = (),
) -> list[str]:
    """The agreements an aggregate report is listed under: the one it names; otherwise each
    in effect at some time of its period [from, to) (by its periods, which do not depend on
    the time of a view) whose parties include one it accuses, or each national one when it
    accuses nobody by name. Decided when a view is read, like an allegation's filing."""
    if named is not None:
        return [named]
    keys = {a.casefold() for a in accused}
    found = []
    for agreement in agreements:
        overlaps = any(
            start < period_to and (end is None or end > period_from)
            for start, end in agreement.periods()
        )
        if not overlaps:
            continue
        if keys:
            if any(p.casefold() in keys for p in agreement.parties):
                found.append(agreement.agreement_id)
        elif agreement.national:
            found.append(agreement.agreement_id)
    return sorted(found)
