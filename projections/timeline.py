"""A conflict's story for a person to read: its events in order of occurrence, each with the
state it led to, and the retractions and corrections each one received.

Agreements, collapses, repudiations, allegations, missions, talks, lulls and descriptions are
entries; a retraction or a correction is not an entry of its own but a note on the entry it
changed, which shows its data as corrected (and the original beside it) and whether it was
withdrawn. Each entry carries the state of the conflict at its occurred_at, counting
everything the log knew (at ``known_at``) that occurred by then: the same answer
``/status?as_of=<occurred_at>&known_at=...`` gives.

The story reads the conflict's events from the log, so its cost grows with that one
conflict's length (it lists all of it), never with the rest of the log: linearly (the states
are one sweep through time, ``projections.standing.conflict_states``), and only the entries
of the page asked for are built. Decoding and folding run on a thread of their own, never on
the event loop, after the connection they were read on is given back (``read_story``, then
``Story.told``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar
from uuid import UUID

from pydantic import Field
from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncConnection

from events.log.store import decode_row
from events.log.tables import events
from events.model.envelope import Recorded
from events.model.milestones import MilestoneStateName
from events.model.state import AgreementState, LullState
from events.model.types import AllegationRetracted, EventCorrected, IncidentEnded, data_of
from events.model.values import local_time
from projections.findings import report_agreements
from projections.freshness import stream_position
from projections.inline import load_agreements, load_lulls
from projections.queries.shared import conflict_head
from projections.standing import Contest, Filing, conflict_states, contests, role_of
from projections.views import ConflictState, View
from projections.words import in_words

__all__ = [
    "Story",
    "TimelineEntry",
    "TimelineNote",
    "TimelineView",
    "build_timeline",
    "on_story_thread",
    "read_story",
]

#: Rows of the log taken in per await while a story is read.
_ROWS_AT_ONCE = 250


class TimelineNote(View):
    """A retraction or a correction an entry received."""

    id: UUID
    type: Literal["allegation.retracted", "event.corrected"]
    summary: str = Field(
        default="", description="One sentence for a person to read, naming who did what when."
    )
    occurred_at: datetime
    recorded_at: datetime
    source: dict[str, Any]
    reason: str | None = None
    retracted_by: str | None = None
    data: dict[str, Any] | None = Field(
        default=None, description="For a correction: the data it set."
    )


EntryType = Literal[
    "agreement.signed",
    "ceasefire.declared",
    "agreement.extended",
    "agreement.collapsed",
    "violation.alleged",
    "allegation.denied",
    "mission.dispatched",
    "mission.ended",
    "conflict.described",
    "actor.registered",
    "milestone.extended",
    "milestone.met",
    "agreement.repudiated",
    "talks.suspended",
    "talks.resumed",
    "incident.ended",
    "violations.reported",
    "lull.observed",
    "lull.ended",
]


class TimelineEntry(View):
    """One event of the story, with the state of the conflict it led to."""

    id: UUID
    type: EntryType
    occurred_at: datetime
    occurred_at_local: datetime | None = Field(
        default=None,
        description="occurred_at in local time where it happened, at the event's `utc_offset` "
        "(null when it was given in UTC).",
    )
    recorded_at: datetime
    version: int
    position: int
    source: dict[str, Any]
    summary: str = Field(description="One sentence for a person to read.")
    data: dict[str, Any] = Field(description="The event's data, as corrected.")
    original_data: dict[str, Any] | None = Field(
        default=None, description="The data as first recorded, when a correction changed it."
    )
    retracted: bool = Field(description="True when its party withdrew this allegation by as_of.")
    notes: list[TimelineNote] = Field(
        description="Retractions (by as_of) and corrections of this event, in the order recorded."
    )
    agreement_id: str | None = Field(
        description="The agreement it concerns (for an allegation: the one it belongs to)."
    )
    state: ConflictState = Field(
        description="The state of the conflict at this event's occurred_at, this event counted."
    )
    milestone_state: MilestoneStateName | None = Field(
        default=None,
        description="For a `milestone.extended` or `milestone.met`: the state of its milestone "
        "at this event's occurred_at, this event counted (null for other events).",
    )


class TimelineView(View):
    """The conflict's story in order of occurrence."""

    conflict: str
    entries: list[TimelineEntry]
    version: int = Field(description="The conflict's stream version this story reflects.")
    position: int = Field(description="The global log position this story reflects.")
    as_of: datetime | None = Field(
        default=None, description="Only what occurred by then is told (null: everything)."
    )
    known_at: datetime | None = None
    next_after: int | None = Field(
        default=None,
        description="Pass as `after` for the next page of entries; null on the last page.",
    )


def _when(text: str) -> str:
    """A date of the event's data (RFC 3339, as stored) in words."""
    return in_words(datetime.fromisoformat(text))


def _agreement_summary(made: str, data: Mapping[str, Any], with_whom: str) -> str:
    """A signed agreement's or a declared ceasefire's line: who made which, with whom (its
    mediators, or whom it is declared toward), and its span."""
    text = f"{made} {data['kind'].replace('_', ' ')} {data['agreement_id']}{with_whom}"
    if data.get("effective_at"):
        text += f", effective {_when(data['effective_at'])}"
    if data.get("expires_at"):
        text += f", until {_when(data['expires_at'])}"
    milestones = data.get("milestones")
    if milestones:
        due = "; ".join(f"{m['description']} by {_when(m['due_at'])}" for m in milestones)
        return f"{text}. Milestones: {due}."
    return text + "."


def _because(data: Mapping[str, Any]) -> str:
    """The end of a line for an event that may give a reason: ``: reason``, or the full stop."""
    return f": {data['reason']}" if data.get("reason") else "."


def _estimate(claimed: Mapping[str, int]) -> str:
    low, best, high = claimed["low"], claimed["best"], claimed["high"]
    return str(best) if low == high else f"{best} ({low} to {high})"


def casualties_words(claimed: Mapping[str, Any] | None) -> str | None:
    """A claimed toll in words (``4 (3 to 5) killed, 2 injured``); None when none is claimed.
    A bare ``{low, best, high}`` counts the killed, as the allegation's schema says."""
    if not claimed:
        return None
    if "best" in claimed:
        return f"{_estimate(claimed)} killed"
    parts = [
        f"{_estimate(claimed[part])} {part}" for part in ("killed", "injured") if claimed.get(part)
    ]
    return ", ".join(parts) or None


#: The allegation of an id, as a denial or a retraction names it: its data (as corrected) and
#: when it occurred; None when the story does not hold it.
Allegations = Callable[[UUID], tuple[Mapping[str, Any], datetime] | None]


def allegation_words(allegations: Allegations, allegation_id: Any, *, its: bool = False) -> str:
    """``Northland's allegation against Southland of 2 April 2022, 19:00 UTC (2 incidents)``:
    an allegation named by who, whom and when; ``its``: as its author says it ("its
    allegation…"). By its id only when the story does not hold it."""
    found = allegations(UUID(str(allegation_id)))
    if found is None:
        return f"allegation {allegation_id}"
    data, occurred_at = found
    n = data.get("incidents", 1)
    whose = "its" if its else f"{data['alleged_by']}'s"
    return (
        f"{whose} allegation against {data['accused']} of {in_words(occurred_at)} "
        f"({n} incident{'s' if n != 1 else ''})"
    )


def _summary(
    event: Recorded, data: Mapping[str, Any], retracted: bool, allegations: Allegations
) -> str:
    match event.type:
        case "agreement.signed":
            mediators = data.get("mediators")
            mediated = f", mediated by {', '.join(mediators)}" if mediators else ""
            return _agreement_summary(f"{' and '.join(data['parties'])} signed", data, mediated)
        case "ceasefire.declared":
            toward = f" toward {', '.join(data['toward'])}" if data.get("toward") else ""
            return _agreement_summary(f"{data['declared_by']} declared", data, toward)
        case "agreement.extended":
            return f"Agreement {data['agreement_id']} extended until {_when(data['expires_at'])}."
        case "agreement.collapsed":
            return f"Agreement {data['agreement_id']} collapsed{_because(data)}"
        case "violation.alleged":
            n = data.get("incidents", 1)
            text = f"{data['alleged_by']} alleged {n} incident{'s' if n != 1 else ''} "
            text += f"by {data['accused']}"
            if data.get("location"):
                text += f" ({data['location']})"
            if data.get("ongoing"):
                text += ", still going on when recorded"
            toll = casualties_words(data.get("casualties_claimed"))
            if toll:
                text += f"; casualties claimed by {data['alleged_by']}: {toll}"
            return text + (" — since retracted." if retracted else ".")
        case "allegation.denied":
            denied = allegation_words(allegations, data["allegation_id"])
            return f"{data['denied_by']} denied {denied}."
        case "mission.ended":
            return f"Mission {data['mission_id']} ended{_because(data)}"
        case "incident.ended":
            return f"The violation alleged in {data['allegation_id']} ended {data['ended_at']}."
        case "violations.reported":
            text = f"{data['reported_by']} reported {data['count']} violation"
            text += f"{'s' if data['count'] != 1 else ''} from {data['from']} to {data['to']}"
            if data.get("by_party"):
                each = ", ".join(f"{n} by {who}" for who, n in data["by_party"].items())
                text += f" ({each})"
            return text + "."
        case "conflict.described":
            where = ", ".join([*data["countries"], data["region"]])
            return f"Described as {data['title']} ({where})."
        case "milestone.extended":
            return (
                f"Milestone {data['milestone_id']} of {data['agreement_id']} extended until "
                f"{_when(data['due_at'])}{_because(data)}"
            )
        case "milestone.met":
            return f"Milestone {data['milestone_id']} of {data['agreement_id']} met."
        case "agreement.repudiated":
            if data["never_agreed"]:
                text = f"{data['party']} said it never agreed to {data['agreement_id']}"
            else:
                text = f"{data['party']} withdrew from {data['agreement_id']}"
            return f"{text}: {data['statement']}"
        case "talks.suspended" | "talks.resumed":
            venue = f" in {data['venue']}" if data.get("venue") else ""
            done = event.type.removeprefix("talks.")
            text = f"Talks between {' and '.join(data['parties'])}{venue} {done}"
            return f"{text}: {data['statement']}" if data.get("statement") else text + "."
        case "lull.observed":
            between = " and ".join(data["parties"])
            text = f"{data['observed_by']} observed a lull between {between} ({data['lull_id']})"
            return text + (f": {data['statement']}" if data.get("statement") else ".")
        case "lull.ended":
            return f"Lull {data['lull_id']} ended{_because(data)}"
        case "actor.registered":
            text = f"{data['name']} registered ({data['kind'].replace('_', ' ')})"
            if data.get("aliases"):
                text += f", also spelt {', '.join(data['aliases'])}"
            return text + "."
        case _:
            return f"{data['organization']} dispatched mission {data['mission_id']}."


def build_timeline(
    log: Iterable[Recorded],
    known_agreements: Sequence[AgreementState],
    window: timedelta,
    as_of: datetime | None = None,
    *,
    after: int = 0,
    limit: int | None = None,
    before: int | None = None,
    lulls: Sequence[LullState] = (),
) -> list[TimelineEntry]:
    """The entries that occurred by ``as_of`` (all when None), from the conflict's events (in
    version order) and its agreements and ``lulls`` as the projection tables know them: those
    after the
    entry at position ``after`` (0: from the first; none when no entry is there), at most
    ``limit``. ``before`` (for a page that starts at the newest): the last ``limit`` entries
    before the one at that position (0: the last ones of all; none when no entry is there).
    Only the entries returned are built; the states are one sweep."""
    originals: list[Recorded] = []
    notes: dict[UUID, list[Recorded]] = {}
    corrected: dict[UUID, dict[str, Any]] = {}
    retracted_at: dict[UUID, datetime] = {}
    ended_later: dict[UUID, datetime] = {}
    for event in log:
        match event:
            case IncidentEnded(data=ended):  # the latest recorded stands (the log's order)
                ended_later[ended.allegation_id] = ended.ended_at
                originals.append(event)
            case AllegationRetracted(data=retraction):
                retracted_at[retraction.allegation_id] = event.occurred_at
                if as_of is None or event.occurred_at <= as_of:
                    notes.setdefault(retraction.allegation_id, []).append(event)
            case EventCorrected(data=correction):
                # A correction fixes what was said: its data applies to every as_of, but the
                # note (dated when it was made) shows only from then.
                if as_of is None or event.occurred_at <= as_of:
                    notes.setdefault(correction.event_id, []).append(event)
                corrected[correction.event_id] = correction.data
            case _:
                originals.append(event)

    alleged = {e.id: e for e in originals if e.type == "violation.alleged"}

    def allegation(allegation_id: UUID) -> tuple[Mapping[str, Any], datetime] | None:
        found = alleged.get(allegation_id)
        if found is None:
            return None
        return corrected.get(found.id, data_of(found)), found.occurred_at

    filing = Filing(known_agreements)
    by_id = {a.agreement_id: a for a in known_agreements}
    # When each organization was first sent to monitor each agreement: its allegations under
    # that agreement are a monitor's from then on.
    monitoring: dict[tuple[str, str], datetime] = {}
    for event in originals:
        if event.type == "mission.dispatched":
            data = corrected.get(event.id, data_of(event))
            if data.get("agreement_id"):
                for org in (data["organization"], *data.get("organizations", ())):
                    sent = (data["agreement_id"], org.casefold())
                    if sent not in monitoring or event.occurred_at < monitoring[sent]:
                        monitoring[sent] = event.occurred_at
    filed_under: dict[UUID, str] = {}
    contesting: list[Contest] = []
    for event in originals:
        if event.type != "violation.alleged":
            continue
        data = corrected.get(event.id, data_of(event))
        filed = filing.agreement_of(data.get("agreement_id"), event.occurred_at, data["accused"])
        if filed is None or filed not in by_id:
            continue
        author = data["alleged_by"]
        since = monitoring.get((filed, author.casefold()))
        monitor = [author] if since is not None and since <= event.occurred_at else []
        filed_under[event.id] = filed
        if contests(role_of(by_id[filed], author, monitor)):
            ends = ended_later.get(event.id) or data.get("ended_at")
            contesting.append(
                Contest(
                    filed,
                    event.occurred_at,
                    retracted_at.get(event.id),
                    None if ends is None else _instant(ends),
                    ongoing=bool(data.get("ongoing")),
                )
            )
    for event in originals:
        if isinstance(event, IncidentEnded) and event.data.allegation_id in filed_under:
            filed_under[event.id] = filed_under[event.data.allegation_id]
        if event.type != "violations.reported":
            continue
        data = corrected.get(event.id, data_of(event))
        period_to = _instant(data["to"])
        under = report_agreements(
            known_agreements,
            data.get("agreement_id"),
            _instant(data["from"]),
            period_to,
            data.get("by_party") or (),
        )
        concerned = [a for a in under if a in by_id]
        if concerned:
            filed_under[event.id] = concerned[0]
        if data["count"] > 0:
            # Every author's report contests (``contests``), from the end of its period.
            contesting.extend(Contest(a, period_to, None) for a in concerned)

    told = [
        event
        for event in sorted(originals, key=lambda e: (e.occurred_at, e.version))
        if as_of is None or event.occurred_at <= as_of
    ]
    start = 0
    if before is not None:
        end = len(told)
        if before:
            end = next((i for i, e in enumerate(told) if e.position == before), 0)
        start = 0 if limit is None else max(0, end - limit)
    else:
        if after:
            start = next((i + 1 for i, e in enumerate(told) if e.position == after), len(told))
        end = len(told) if limit is None else min(len(told), start + limit)
    states = conflict_states(
        known_agreements, contesting, [event.occurred_at for event in told[:end]], window, lulls
    )
    entries = []
    for event, state in zip(told[start:end], states[start:], strict=True):
        original = data_of(event)
        data = corrected.get(event.id, original)
        when_retracted = retracted_at.get(event.id)
        retracted = when_retracted is not None and (as_of is None or when_retracted <= as_of)
        concerns: str | None = filed_under.get(event.id) or data.get("agreement_id")
        offset = original.get("utc_offset")
        entries.append(
            TimelineEntry(
                id=event.id,
                type=event.type,
                occurred_at=event.occurred_at,
                occurred_at_local=None if offset is None else local_time(event.occurred_at, offset),
                recorded_at=event.recorded_at,
                version=event.version,
                position=event.position,
                source=event.source.model_dump(mode="json", exclude_none=True),
                summary=_summary(event, data, retracted, allegation),
                data=data,
                original_data=original if event.id in corrected else None,
                retracted=retracted,
                notes=[_note(note, allegation) for note in notes.get(event.id, [])],
                agreement_id=concerns,
                state=state,
                milestone_state=_milestone_state(by_id, data, event),
            )
        )
    return entries


def _milestone_state(
    agreements: Mapping[str, AgreementState], data: Mapping[str, Any], event: Recorded
) -> MilestoneStateName | None:
    """The state at ``event``'s occurred_at of the milestone a ``milestone.*`` event names."""
    if not event.type.startswith("milestone."):
        return None
    agreement = agreements.get(data["agreement_id"])
    milestone = None if agreement is None else agreement.milestone(data["milestone_id"])
    return None if milestone is None else milestone.state_at(event.occurred_at)


def _instant(value: str | datetime) -> datetime:
    """A time of an event's data: a datetime as corrected data keeps it, or its JSON text."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def _note(event: Recorded, allegations: Allegations) -> TimelineNote:
    data = data_of(event)
    if event.type == "allegation.retracted":
        named = allegation_words(allegations, data["allegation_id"], its=True)
        summary = f"{data['retracted_by']} retracted {named} on {in_words(event.occurred_at)}"
    else:
        summary = f"Corrected on {in_words(event.occurred_at)}"
    summary += _because(data)
    return TimelineNote(
        summary=summary if summary.endswith((".", "!", "?")) else summary + ".",
        id=event.id,
        type=event.type,
        occurred_at=event.occurred_at,
        recorded_at=event.recorded_at,
        source=event.source.model_dump(mode="json", exclude_none=True),
        reason=data.get("reason"),
        retracted_by=data.get("retracted_by"),
        data=data.get("data"),
    )


@dataclass(frozen=True, slots=True)
class Story:
    """What a conflict's story is told from, as read in one snapshot (``read_story``): its
    rows of the log, its agreements, and the positions the view reflects. Telling it needs no
    connection, so a caller can give its connection back first."""

    conflict: str
    rows: Sequence[Row[Any]]
    agreements: Sequence[AgreementState]
    known_at: datetime | None
    version: int
    position: int
    #: The position of the conflict's newest event (the view's validator).
    head: int
    lulls: Sequence[LullState] = ()

    async def told(
        self,
        *,
        as_of: datetime | None = None,
        window: timedelta,
        after: int = 0,
        limit: int | None = None,
        before: int | None = None,
    ) -> TimelineView:
        """The story up to ``as_of``, a page of it when asked (``build_timeline``'s ``after``
        and ``limit``). Decoding and folding the rows, CPU work that grows with the conflict,
        run on the process's one story thread (``_TELLING``), never on the event loop: a long
        conflict's story holds up none of the process's other requests (``/healthz`` among
        them), and stories asked at once take their turns instead of all slowing the loop."""

        def told() -> list[TimelineEntry]:
            log = [decode_row(r) for r in self.rows]
            return build_timeline(
                log,
                self.agreements,
                window,
                as_of,
                after=after,
                limit=limit,
                before=before,
                lulls=self.lulls,
            )

        entries = await on_story_thread(told)
        return TimelineView(
            conflict=self.conflict,
            entries=entries,
            version=self.version,
            position=self.position,
            as_of=as_of,
            known_at=self.known_at,
        )


#: Stories are pure Python, which runs one thread at a time (the GIL): a second thread would
#: tell no more stories per second, only take more turns from the event loop.
_TELLING = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ceasefire-story")

_T = TypeVar("_T")


async def on_story_thread(work: Callable[[], _T]) -> _T:
    """``work()`` on the story thread: for the CPU work of telling a story, and of rendering
    one (a page of a thousand entries takes a while to turn into JSON too)."""
    return await asyncio.get_running_loop().run_in_executor(_TELLING, work)


async def read_story(conn: AsyncConnection, conflict: str, *, known_at: datetime | None) -> Story:
    """What the story is told from as the log told it at ``known_at`` (now when None). The
    rows come in a slice at a time, so taking a long conflict's in holds up nothing else for
    long."""
    head = await stream_position(conn, conflict)
    version, position = await conflict_head(conn, conflict, known_at)
    statement = select(events).where(events.c.conflict == conflict, events.c.position <= head)
    if known_at is not None:
        statement = statement.where(events.c.recorded_at <= known_at)
    rows: list[Row[Any]] = []
    async for part in (await conn.stream(statement.order_by(events.c.version))).partitions(
        _ROWS_AT_ONCE
    ):
        rows.extend(part)
    agreements = list((await load_agreements(conn, conflict, known_at)).values())
    lulls = list((await load_lulls(conn, conflict, known_at)).values())
    return Story(conflict, rows, agreements, known_at, version, position, head, lulls)
