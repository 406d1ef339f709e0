"""Where a conflict stands at a time T: which agreement each allegation belongs to, the state
of each agreement and of the conflict, and since when. Pure functions of the agreements (as
the log held them at ``known_at``) and a few facts about allegations that the queries gather
with indexed lookups, or the timeline from the conflict's events.

Which agreement an allegation belongs to is decided here, when a view is read, never when the
allegation was recorded: the agreement it names, if any; otherwise the agreement in effect at
its occurred_at whose parties include the accused, broadest scope first (national, regional,
local), the latest signed among equals; otherwise none (outside any agreement). So every order
of recording the same events gives the same views.

An agreement's periods in effect do not depend on T (see ``AgreementState.periods``), so the
filing of an allegation does not either; T only hides what occurred after it.
"""

from __future__ import annotations

import bisect
import contextlib
import heapq
import itertools
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from events.model.state import AgreementState, LullState

__all__ = [
    "AgreementStanding",
    "ConflictStanding",
    "Contest",
    "Filing",
    "Role",
    "agreement_state",
    "conflict_standing",
    "conflict_states",
    "contested_run_start",
    "contests",
    "role_of",
]

Role = Literal["party", "mediator", "monitor", "third_party"]
AgreementStandingState = Literal[
    "pending", "holding", "contested", "expired", "collapsed", "withdrawn"
]
ConflictStandingState = Literal[
    "none", "pending", "holding", "contested", "lull", "expired", "collapsed", "withdrawn"
]
#: The states of an agreement that has ended.
ENDED = ("expired", "collapsed", "withdrawn")


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


def agreement_state(
    agreement: AgreementState,
    at: datetime,
    last_contesting: datetime | None,
    window: timedelta,
) -> AgreementStandingState:
    """The state at ``at`` of an agreement signed by then. ``last_contesting``: when the
    latest allegation under it that contests it (not retracted by ``at``) occurred, at or
    before ``at``."""
    return _standing(agreement.state_at(at), at, last_contesting, window)


def _standing(
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


@dataclass(frozen=True, slots=True)
class Contest:
    """An allegation that contests an agreement (see ``contests``): the agreement it belongs
    to, when it occurred, when its party withdrew it (None: never), and for an ongoing
    violation when it ended (None: an instant, or one recorded as still going on, ``ongoing``,
    whose end is not known yet)."""

    agreement_id: str
    occurred_at: datetime
    retracted_at: datetime | None
    ends_at: datetime | None = None
    ongoing: bool = False

    @property
    def last(self) -> datetime:
        """The last instant it went on: it contests until ``window`` after it. One going on
        with no end known goes on to the end of time (its window never ends)."""
        if self.ends_at is None:
            return _END_OF_TIME if self.ongoing else self.occurred_at
        return max(self.ends_at, self.occurred_at)


#: The last instant a datetime holds: where a violation with no end known yet goes on to.
_END_OF_TIME = datetime.max.replace(tzinfo=UTC)


class _Latest:
    """A contest's place in a max-heap by its last instant (``heapq`` keeps the least first)."""

    __slots__ = ("contest",)

    def __init__(self, contest: Contest) -> None:
        self.contest = contest

    def __lt__(self, other: _Latest) -> bool:
        return self.contest.last > other.contest.last


class _LastEnded:
    """An ended agreement's place in a max-heap (``heapq`` keeps the least first): the one that
    ended last, by (end, signed_at, agreement_id) as ``conflict_standing`` picks it, on top."""

    __slots__ = ("key",)

    def __init__(self, key: tuple[datetime, datetime, str]) -> None:
        self.key = key

    def __lt__(self, other: _LastEnded) -> bool:
        return self.key > other.key


def conflict_states(
    agreements: Iterable[AgreementState],
    contesting: Iterable[Contest],
    moments: Sequence[datetime],
    window: timedelta,
    lulls: Iterable[LullState] = (),
) -> list[ConflictStandingState]:
    """``conflict_standing(...).state`` at each of ``moments`` (ascending), counting the
    contesting allegations that occurred by each: in one sweep through time, so the cost grows
    as (agreements' changes + allegations + moments) times the log of that, never as their
    product. A timeline asks it at every one of its events.

    Only national agreements make the conflict's state, and each one's standing changes only
    at instants known in advance (its signing, its start, each span's start and end, its
    collapse: ``AgreementState.state_at`` is constant between them), when an allegation
    contesting it occurs or is withdrawn, and ``window`` after the latest one. Those instants
    are visited in order; the state at a moment is read from how many agreements stand in each
    state and which one ended last, and a lull from how many ``lulls`` hold then (observed by
    the moment and not ended by it)."""
    national = {a.agreement_id: a for a in agreements if a.national}
    order = itertools.count()
    #: (instant, tie-breaker, agreement id, the allegation occurring then or None): something
    #: that may change the agreement's standing from that instant on.
    due: list[tuple[datetime, int, str, Contest | None]] = []
    #: Per agreement, its own state from each instant it may change on, and its end then.
    steps: dict[str, list[tuple[datetime, str, datetime | None]]] = {}
    for agreement_id, agreement in national.items():
        instants = {agreement.signed_at, agreement.effective_at}
        for stop in (agreement.collapsed_at, agreement.withdrawn_at):
            if stop is not None:
                instants.add(stop)
        for start, end in agreement.periods():
            instants.update(t for t in (start, end) if t is not None)
        steps[agreement_id] = [
            (t, "unsigned", None)
            if t < agreement.signed_at
            else (t, agreement.state_at(t), agreement.ended_at(t))
            for t in sorted(instants)
        ]
        due.extend((t, next(order), agreement_id, None) for t in instants)
    for contest in contesting:
        if contest.agreement_id in national:
            due.append((contest.occurred_at, next(order), contest.agreement_id, contest))
            if contest.retracted_at is not None:
                due.append((contest.retracted_at, next(order), contest.agreement_id, None))
    heapq.heapify(due)

    latest: dict[str, list[_Latest]] = {a: [] for a in national}
    step = dict.fromkeys(national, -1)
    standing = dict.fromkeys(national, "unsigned")
    counts = Counter(standing.values())
    ending: dict[str, tuple[datetime, datetime, str] | None] = dict.fromkeys(national)
    ended: list[_LastEnded] = []
    expiries: set[tuple[str, datetime]] = set()

    def revisit(agreement_id: str, when: datetime) -> None:
        """The agreement's standing from ``when`` on, everything due by then applied."""
        listed = steps[agreement_id]
        i = step[agreement_id]
        while i + 1 < len(listed) and listed[i + 1][0] <= when:
            i += 1
        step[agreement_id] = i
        # Contesting allegations that occurred by ``when``, the one that goes on latest on top
        # (withdrawn by ``when`` is withdrawn for every later instant too).
        heap = latest[agreement_id]
        while (
            heap and (withdrawn := heap[0].contest.retracted_at) is not None and withdrawn <= when
        ):
            heapq.heappop(heap)
        last = min(heap[0].contest.last, when) if heap else None
        goes_on = heap[0].contest.last if heap else None
        own = "unsigned" if i < 0 else listed[i][1]
        state = own if own == "unsigned" else _standing(own, when, last, window)
        counts[standing[agreement_id]] -= 1
        counts[state] += 1
        standing[agreement_id] = state
        if state == "contested" and goes_on is not None and (agreement_id, goes_on) not in expiries:
            expiries.add((agreement_id, goes_on))
            # (Past the last instant a datetime holds: contested to the end of time.)
            with contextlib.suppress(OverflowError):
                heapq.heappush(due, (goes_on + window, next(order), agreement_id, None))
        end = listed[i][2] if state in ENDED else None
        key = None if end is None else (end, national[agreement_id].signed_at, agreement_id)
        ending[agreement_id] = key
        if key is not None:
            heapq.heappush(ended, _LastEnded(key))

    observed = sorted(lull.observed_at for lull in lulls)
    ended_lulls = sorted(lull.ended_at for lull in lulls if lull.ended_at is not None)

    def state_now(moment: datetime) -> ConflictStandingState:
        for state in ("contested", "holding"):
            if counts[state]:
                return state
        if bisect.bisect_right(observed, moment) > bisect.bisect_right(ended_lulls, moment):
            return "lull"
        if counts["pending"]:
            return "pending"
        while ended:  # the agreement that ended last, if it still stands ended so
            agreement_id = ended[0].key[2]
            if ending[agreement_id] == ended[0].key:
                return standing[agreement_id]  # type: ignore[return-value]
            heapq.heappop(ended)
        return "none"

    out: list[ConflictStandingState] = []
    for moment in moments:
        while due and due[0][0] <= moment:
            when, _, agreement_id, occurring = heapq.heappop(due)
            if occurring is not None:
                heapq.heappush(latest[agreement_id], _Latest(occurring))
            revisit(agreement_id, when)
        out.append(state_now(moment))
    return out
