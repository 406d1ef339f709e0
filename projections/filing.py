"""Which agreement each allegation belongs to, and the role of its author against it.

It is decided here, when a view is read, never when the allegation was recorded: the agreement
it names, if any; otherwise the agreement in effect at its occurred_at whose parties include the
accused, broadest scope first (national, regional, local), the latest signed among equals;
otherwise none (outside any agreement). So every order of recording the same events gives the
same views.

An agreement's periods in effect do not depend on T (see ``AgreementState.periods``), so the
filing of an allegation does not either; T only hides what occurred after it. Where the
agreements then stand is ``projections.standing``'s.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from events.model.state import AgreementState

__all__ = [
    "Filing",
    "Role",
    "contests",
    "role_of",
]


Role = Literal["party", "mediator", "monitor", "third_party"]


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of time [start, end) in which the same agreements are in effect, and which of
    them an allegation against each party (casefolded) belongs to."""

    start: datetime
    end: datetime | None
    winners: Mapping[str, str]


class Filing:
    """Files allegations under agreements: built once per read from the conflict's agreements."""

    def __init__(self, agreements: Iterable[AgreementState]) -> None:
        self.agreements = {a.agreement_id: a for a in agreements}
        self.segments = _segments(self.agreements.values())
        self._starts = [s.start for s in self.segments]

    def agreement_of(self, named: str | None, occurred_at: datetime, accused: str) -> str | None:
        """The agreement id an allegation belongs to; None when outside every agreement."""
        if named is not None:
            return named
        i = bisect.bisect_right(self._starts, occurred_at) - 1
        if i < 0:
            return None
        segment = self.segments[i]
        if segment.end is not None and occurred_at >= segment.end:
            return None
        return segment.winners.get(accused.casefold())

    def spans_of(self, agreement_id: str) -> list[tuple[datetime, datetime | None, list[str]]]:
        """Where an allegation naming no agreement belongs to ``agreement_id``: each stretch
        [start, end) with the (casefolded) accused it takes there. The queries turn these into
        range conditions on the indexed occurred_at."""
        spans = []
        for segment in self.segments:
            keys = sorted(k for k, won in segment.winners.items() if won == agreement_id)
            if keys:
                spans.append((segment.start, segment.end, keys))
        return spans


def _segments(agreements: Iterable[AgreementState]) -> list[Segment]:
    periods = [(a, start, end) for a in agreements for start, end in a.periods()]
    bounds = sorted({t for _, start, end in periods for t in (start, end) if t is not None})
    segments = []
    for i, start in enumerate(bounds):
        end = bounds[i + 1] if i + 1 < len(bounds) else None
        winners: dict[str, AgreementState] = {}
        for agreement, s, e in periods:
            if s <= start and (e is None or (end is not None and end <= e)):
                for party in agreement.parties:
                    key = party.casefold()
                    best = winners.get(key)
                    if best is None or agreement.rank > best.rank:
                        winners[key] = agreement
        if winners:
            segments.append(Segment(start, end, {k: a.agreement_id for k, a in winners.items()}))
    return segments


def role_of(agreement: AgreementState | None, alleged_by: str, monitors: Iterable[str]) -> Role:
    """The role of an allegation's author against the agreement it belongs to."""
    if agreement is None:
        return "third_party"
    if agreement.party(alleged_by) is not None:
        return "party"
    folded = alleged_by.casefold()
    if any(m.casefold() == folded for m in agreement.mediators):
        return "mediator"
    if any(m.casefold() == folded for m in monitors):
        return "monitor"
    return "third_party"


def contests(role: Role) -> bool:
    """Every allegation under an agreement contests it, whoever makes it: a party's claim, a
    third party's, and a mediator's or a monitor's finding, which weighs more than a claim,
    not less (issue 18; until then findings did not contest). The views tell them apart
    (``projections.findings.weight_of``)."""
    return role in ("party", "mediator", "monitor", "third_party")
