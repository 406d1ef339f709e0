"""The timeline's fold, with no database: each entry's state is the one ``conflict_standing``
gives at its occurred_at (checked against a plain per-entry reference on random histories), and
its cost grows linearly with the conflict's length (Python lines executed, counted: no clock)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.model.envelope import Recorded, to_recorded
from events.model.errors import DomainRuleError
from events.model.rules import check
from events.model.state import AgreementState, ConflictState
from events.model.types import SCHEMA_VERSIONS, AllegationRetracted, Event, data_of, event_adapter
from projections.filing import Filing, contests, role_of
from projections.fold import apply
from projections.standing import conflict_standing
from projections.timeline import build_timeline

WINDOW = timedelta(days=7)
T0 = datetime(2024, 1, 1, tzinfo=UTC)
PARTIES = ("A", "B", "C")
DAY = timedelta(days=1)


def event(kind: str, occurred_at: datetime, **data: Any) -> Event:
    return event_adapter.validate_python(
        {
            "type": kind,
            "conflict": "c",
            "occurred_at": occurred_at.isoformat(),
            "source": {"name": "s"},
            "data": data,
        }
    )


def fold(events: list[Event]) -> tuple[ConflictState, list[Recorded]]:
    """The events the rules accept, recorded in this order (the others are left out)."""
    state = ConflictState("c")
    recorded: list[Recorded] = []
    for item in events:
        lookup = {r.id: r for r in recorded}.get
        try:
            check(state, item, lookup)
        except DomainRuleError:
            continue
        record = to_recorded(
            item,
            version=state.version + 1,
            position=state.version + 1,
            recorded_at=T0 + timedelta(seconds=state.version),
            schema_version=SCHEMA_VERSIONS[item.type],
        )
        state, _ = apply(state, record, lookup)
        recorded.append(record)
    return state, recorded


def reference_states(
    log: list[Recorded],
    agreements: list[AgreementState],
    as_of: datetime | None,
    window: timedelta,
) -> list[tuple[str, str]]:
    """Each entry's (id, state) the slow way: for every entry, every allegation looked at."""
    retracted_at = {
        e.data.allegation_id: e.occurred_at for e in log if isinstance(e, AllegationRetracted)
    }
    filing = Filing(agreements)
    by_id = {a.agreement_id: a for a in agreements}
    missions = [data_of(e) | {"at": e.occurred_at} for e in log if e.type == "mission.dispatched"]
    contesting: list[tuple[str, datetime, datetime | None]] = []
    for e in log:
        if e.type != "violation.alleged":
            continue
        data = data_of(e)
        filed = filing.agreement_of(data.get("agreement_id"), e.occurred_at, data["accused"])
        if filed is None or filed not in by_id:
            continue
        orgs = [
            m["organization"]
            for m in missions
            if m.get("agreement_id") == filed and m["at"] <= e.occurred_at
        ]
        if contests(role_of(by_id[filed], data["alleged_by"], orgs)):
            contesting.append((filed, e.occurred_at, retracted_at.get(e.id)))
    told = sorted(
        (e for e in log if e.type not in ("allegation.retracted", "event.corrected")),
        key=lambda e: (e.occurred_at, e.version),
    )
    out = []
    for e in told:
        at = e.occurred_at
        if as_of is not None and at > as_of:
            continue
        last: dict[str, datetime] = {}
        for filed, occurred_at, withdrawn in contesting:
            if occurred_at <= at and (withdrawn is None or withdrawn > at):
                last[filed] = max(last.get(filed, occurred_at), occurred_at)
        out.append((str(e.id), conflict_standing(agreements, at, last, window).state))
    return out


moment = st.builds(
    lambda d, h: T0 + d * DAY + h * timedelta(hours=6), st.integers(0, 40), st.integers(0, 3)
)


@st.composite
def histories(draw: st.DrawFn) -> list[Event]:
    """Agreements and declarations of every scope, some fixed-term, extended (after a gap
    too) or collapsed; allegations by parties, mediators, monitors and outsiders, naming an
    agreement or not; missions; retractions of some allegations."""
    out: list[Event] = []
    ids = [f"a{i}" for i in range(draw(st.integers(1, 4)))]
    for agreement_id in ids:
        signed_at = draw(moment)
        effective = signed_at + draw(st.integers(0, 3)) * DAY
        level = draw(st.sampled_from(["national", "national", "regional", "local"]))
        data: dict[str, Any] = {
            "agreement_id": agreement_id,
            "scope": {"level": level} if level == "national" else {"level": level, "area": "z"},
            "effective_at": effective.isoformat(),
            "parties": draw(
                st.lists(st.sampled_from(PARTIES), min_size=2, max_size=2, unique=True)
            ),
        }
        if draw(st.booleans()):
            data["mediators"] = ["M"]
        term = draw(st.none() | st.integers(1, 10))
        if term is not None:
            data["expires_at"] = (effective + term * DAY).isoformat()
        out.append(event("agreement.signed", signed_at, **data))
        for _ in range(draw(st.integers(0, 2))):
            end = effective + draw(st.integers(2, 40)) * DAY
            out.append(
                event(
                    "agreement.extended",
                    draw(moment),
                    agreement_id=agreement_id,
                    expires_at=end.isoformat(),
                )
            )
        if draw(st.booleans()):
            out.append(event("agreement.collapsed", draw(moment), agreement_id=agreement_id))
    for i in range(draw(st.integers(0, 2))):
        extra = {"agreement_id": draw(st.sampled_from(ids))} if draw(st.booleans()) else {}
        out.append(
            event("mission.dispatched", draw(moment), mission_id=f"m{i}", organization="O", **extra)
        )
    allegations: list[Event] = []
    for _ in range(draw(st.integers(0, 12))):
        by = draw(st.sampled_from([*PARTIES, "M", "O", "X"]))
        accused = draw(st.sampled_from([p for p in PARTIES if p != by]))
        extra = {"agreement_id": draw(st.sampled_from(ids))} if draw(st.booleans()) else {}
        allegations.append(
            event("violation.alleged", draw(moment), alleged_by=by, accused=accused, **extra)
        )
    out.extend(allegations)
    for allegation in allegations:
        if draw(st.integers(0, 3)) == 0:
            by = allegation.data.alleged_by  # type: ignore[union-attr]
            out.append(
                event(
                    "allegation.retracted",
                    draw(moment),
                    allegation_id=str(allegation.id),
                    retracted_by=by,
                )
            )
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=histories(), as_of=st.none() | moment, window_days=st.integers(1, 9))
def test_each_entry_has_the_state_conflict_standing_gives_at_its_time(
    history: list[Event], as_of: datetime | None, window_days: int
) -> None:
    window = timedelta(days=window_days)
    state, log = fold(history)
    agreements = list(state.agreements.values())
    story = build_timeline(log, agreements, window, as_of)
    expected = reference_states(log, agreements, as_of, window)
    assert [(str(e.id), e.state) for e in story] == expected


def long_history(allegations: int) -> tuple[list[Recorded], list[AgreementState]]:
    """A national truce and a local one, then ``allegations`` allegations a few hours apart
    (every third by a monitor, every fifth retracted a day later), with missions."""
    events: list[Event] = [
        event("agreement.signed", T0, agreement_id="n", parties=["A", "B"]),
        event(
            "agreement.signed",
            T0,
            agreement_id="l",
            parties=["A", "C"],
            scope={"level": "local", "area": "z"},
        ),
        event("mission.dispatched", T0, mission_id="m", organization="O", agreement_id="n"),
    ]
    for i in range(allegations):
        when = T0 + DAY + i * timedelta(hours=5)
        by = "O" if i % 3 == 0 else "A"
        alleged = event("violation.alleged", when, alleged_by=by, accused="B")
        events.append(alleged)
        if i % 5 == 0:
            events.append(
                event(
                    "allegation.retracted",
                    when + DAY,
                    allegation_id=str(alleged.id),
                    retracted_by=by,
                )
            )
    state, log = fold(events)
    return log, list(state.agreements.values())


def lines_run(log: list[Recorded], agreements: list[AgreementState]) -> int:
    """How many lines of Python run while the timeline is built."""
    count = 0

    def trace(frame: FrameType, what: str, arg: object) -> Any:
        nonlocal count
        if what == "line":
            count += 1
        return trace

    sys.settrace(trace)
    try:
        build_timeline(log, agreements, WINDOW)
    finally:
        sys.settrace(None)
    return count


def test_the_fold_grows_linearly_with_the_conflict() -> None:
    """Four times the allegations cost about four times the work (a quadratic fold: 16)."""
    small = lines_run(*long_history(200))
    large = lines_run(*long_history(800))
    assert large / small < 5, (small, large)
