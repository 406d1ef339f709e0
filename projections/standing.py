"""Where a conflict stands at a time T: the state of each agreement and of the conflict, and
since when. Pure functions of the agreements (as the log held them at ``known_at``) and a few
facts about allegations that the queries gather with indexed lookups, or the timeline from the
conflict's events.

Which agreement an allegation belongs to, and so which agreement it contests, is
``projections.filing``'s; the state at many moments at once, in one sweep through time, is
``projections.state_sweep``'s.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from events.model.state import AgreementState, LullState

__all__ = [
    "ENDED",
    "AgreementStanding",
    "AgreementStandingState",
    "ConflictStanding",
    "ConflictStandingState",
    "agreement_state",
    "conflict_standing",
    "contested_run_start",
    "standing_from",
]


AgreementStandingState = Literal[
    "pending", "holding", "contested", "expired", "collapsed", "withdrawn"
]
ConflictStandingState = Literal[
    "none", "pending", "holding", "contested", "lull", "expired", "collapsed", "withdrawn"
]
#: The states of an agreement that has ended.
ENDED = ("expired", "collapsed", "withdrawn")


def agreement_state(
    agreement: AgreementState,
    at: datetime,
    last_contesting: datetime | None,
    window: timedelta,
) -> AgreementStandingState:
    """The state at ``at`` of an agreement signed by then. ``last_contesting``: when the
    latest allegation under it that contests it (not retracted by ``at``) occurred, at or
    before ``at``."""
    return standing_from(agreement.state_at(at), at, last_contesting, window)


def standing_from(
    state: str, at: datetime, last_contesting: datetime | None, window: timedelta
) -> AgreementStandingState:
    """``agreement_state`` from the agreement's own state at ``at`` (``state_at``'s answer)."""
    if state != "in_effect":
        return state  # type: ignore[return-value]
    # at - last < window, not last > at - window: the latter overflows near year 1.
    if last_contesting is not None and timedelta(0) <= at - last_contesting < window:
        return "contested"
    return "holding"


@dataclass(frozen=True, slots=True)
class AgreementStanding:
    agreement: AgreementState
    state: AgreementStandingState


@dataclass(frozen=True, slots=True)
class ConflictStanding:
    state: ConflictStandingState
    since: datetime | None
    #: The national commitment the state comes from.
    agreement: AgreementState | None
    #: Every agreement and declaration signed by T, each with its state, newest first.
    agreements: Sequence[AgreementStanding]
    #: In state ``lull``: the lull it comes from (the latest observed of those holding at T).
    lull: LullState | None = None


def conflict_standing(
    agreements: Iterable[AgreementState],
    at: datetime,
    last_contesting: Mapping[str, datetime],
    window: timedelta,
    contesting_times: Sequence[datetime] = (),
    contesting_spans: Sequence[tuple[datetime, datetime]] = (),
    lulls: Iterable[LullState] = (),
) -> ConflictStanding:
    """The conflict's state at ``at``, from its national agreements and declarations, and its
    ``lulls`` when none is in effect: a lull observed and not ended at ``at`` makes it ``lull``
    (over a pending agreement, which binds no one yet), since the later of the lull's start and
    the end of the last national agreement in effect.

    ``last_contesting``: per agreement, the latest instant at or before ``at`` at which an
    allegation contesting it occurred or, for an ongoing violation, still went on.
    ``contesting_times``: when the allegations contesting national agreements occurred, newest
    first, back to the start of the current spell in effect at least, and
    ``contesting_spans`` (first, last) for ongoing violations (only needed to say since when a
    contested conflict is contested)."""
    signed = sorted(
        (a for a in agreements if a.signed_at <= at), key=lambda a: (a.signed_at, a.agreement_id)
    )
    standings = [
        AgreementStanding(a, agreement_state(a, at, last_contesting.get(a.agreement_id), window))
        for a in signed
    ]
    national = [s for s in standings if s.agreement.national]
    in_effect = [s for s in national if s.state in ("holding", "contested")]
    pending = [s for s in national if s.state == "pending"]
    ended = [s for s in national if s.state in ENDED]
    newest_first = list(reversed(standings))

    if in_effect:
        start = _spell_start([s.agreement for s in national], at)
        current = in_effect[-1].agreement
        if any(s.state == "contested" for s in in_effect):
            return ConflictStanding(
                "contested",
                _contested_since(contesting_times, at, start, window, contesting_spans),
                current,
                newest_first,
            )
        last = max(
            (
                t
                for s in national
                if (t := last_contesting.get(s.agreement.agreement_id)) is not None and t >= start
            ),
            default=None,
        )
        # min(last + window, at), without overflowing near the last instant a datetime holds
        window_end = at if last is None or at - last < window else last + window
        since = start if last is None else max(start, window_end)
        return ConflictStanding("holding", since, current, newest_first)
    last_end = max(
        ((s, e) for s in ended if (e := s.agreement.ended_at(at)) is not None),
        key=lambda pair: (pair[1], pair[0].agreement.signed_at, pair[0].agreement.agreement_id),
        default=None,
    )
    seen = [lull for lull in lulls if lull.observed_at <= at]
    holding_lulls = sorted(
        (lull for lull in seen if lull.observed(at)), key=lambda x: (x.observed_at, x.lull_id)
    )
    if holding_lulls:
        since = _covering_start([(lull.observed_at, lull.ended_at) for lull in seen], at)
        otherwise: AgreementState | None = None
        if pending:
            otherwise = pending[-1].agreement
        elif last_end is not None:
            otherwise = last_end[0].agreement
        if last_end is not None:
            since = max(since, last_end[1])
        return ConflictStanding("lull", since, otherwise, newest_first, holding_lulls[-1])
    # A lull that ended by ``at`` hands the state back: it took its value again then.
    lull_end = max((lull.ended_at for lull in seen if lull.ended_at is not None), default=None)
    if pending:
        since = min(s.agreement.signed_at for s in pending)
        if last_end is not None:
            since = max(since, last_end[1])
        if lull_end is not None:
            since = max(since, lull_end)
        return ConflictStanding("pending", since, pending[-1].agreement, newest_first)
    if last_end is not None:
        standing, end = last_end
        since = end if lull_end is None else max(end, lull_end)
        return ConflictStanding(standing.state, since, standing.agreement, newest_first)
    return ConflictStanding("none", None, None, newest_first)


def _spell_start(national: Iterable[AgreementState], at: datetime) -> datetime:
    """The start of the unbroken stretch, up to ``at``, in which some national agreement was
    in effect (``at`` itself is in it)."""
    return _covering_start(
        [(start, end) for a in national for start, end in a.periods() if start <= at], at
    )


def _covering_start(spans: Iterable[tuple[datetime, datetime | None]], at: datetime) -> datetime:
    """The start of the unbroken stretch of ``spans`` (half-open, end None: open) that holds
    ``at``; ``at`` itself when none does."""
    for start, end in _merged(sorted(spans, key=lambda span: span[0])):
        if start <= at and (end is None or at < end):
            return start
    return at


def _merged(
    spans: Sequence[tuple[datetime, datetime | None]],
) -> list[tuple[datetime, datetime | None]]:
    merged: list[tuple[datetime, datetime | None]] = []
    for start, end in spans:
        if merged:
            last_start, last_end = merged[-1]
            if last_end is None or start <= last_end:
                merged[-1] = (
                    last_start,
                    None if last_end is None or end is None else max(last_end, end),
                )
                continue
        merged.append((start, end))
    return merged


def contested_run_start(
    times: Sequence[datetime],
    spans: Sequence[tuple[datetime, datetime]],
    at: datetime,
    window: timedelta,
) -> datetime | None:
    """The start of the run of contesting allegations that reaches ``at`` (see
    ``_contested_since``), or the earliest of them when none does (None: there are none): a
    reader paging back through them reads on while it is within ``window`` of the oldest."""
    if not times and not spans:
        return None
    earliest = min(itertools.chain(times, (first for first, _ in spans)))
    return _contested_since(times, at, earliest, window, spans)


def _contested_since(
    times: Sequence[datetime],
    at: datetime,
    start: datetime,
    window: timedelta,
    spans: Sequence[tuple[datetime, datetime]] = (),
) -> datetime:
    """The start of the unbroken run that reaches ``at``: each allegation contests from when
    it occurred until ``window`` after it (after its end, for an ongoing one), and the run is
    the union of those. Only from the start of the spell in effect on: a run under an earlier
    agreement that ended does not make the current one contested since its own start."""
    runs = [(t, t) for t in times if start <= t <= at]  # an instant is its own run
    runs.extend(
        (max(first, start), min(last, at)) for first, last in spans if first <= at and last >= start
    )
    runs.sort()
    since: datetime | None = None
    latest: datetime | None = None
    for first, last in runs:  # by start; (first - latest < window, not first < latest + window:
        if latest is None or first - latest >= window:  # the latter overflows near the end)
            since, latest = first, last
        elif last > latest:
            latest = last
    if since is None or latest is None or at - latest >= window:
        return start
    return since
