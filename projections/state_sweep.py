"""The conflict's state at many moments in one sweep through time (``conflict_states``),
from its agreements, lulls and the allegations that contest them (``Contest``).

Apart from ``projections.standing``, which answers for one moment, because a timeline asks at
every one of its events: visiting the instants at which a standing may change, in order, keeps
the cost growing as their number times its log, never as their product.
"""

from __future__ import annotations

import bisect
import contextlib
import heapq
import itertools
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from events.model.state import AgreementState, LullState
from projections.standing import ENDED, ConflictStandingState, standing_from

__all__ = [
    "Contest",
    "conflict_states",
]


@dataclass(frozen=True, slots=True)
class Contest:
    """An allegation that contests an agreement (``projections.filing.contests``): the
    agreement it belongs to, when it occurred, when its party withdrew it (None: never), and
    for an ongoing violation when it ended (None: an instant, or one recorded as still going
    on, ``ongoing``, whose end is not known yet)."""

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
        state = own if own == "unsigned" else standing_from(own, when, last, window)
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
