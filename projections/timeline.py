"""A conflict's story for a person to read: its events in order of occurrence, each with the
state it led to, and the retractions and corrections each one received (``build_timeline``).

Agreements, collapses, repudiations, allegations, missions, talks, lulls and descriptions are
entries; a retraction or a correction is not an entry of its own but a note on the entry it
changed, which shows its data as corrected (and the original beside it) and whether it was
withdrawn. Each entry carries the state of the conflict at its occurred_at, counting
everything the log knew (at ``known_at``) that occurred by then: the same answer
``/status?as_of=<occurred_at>&known_at=...`` gives. The states are one sweep through time
(``projections.state_sweep.conflict_states``), and only the entries of the page asked for are
built.

The entries' models are in ``projections.views.timeline``, the sentences they say in
``projections.timeline_words``, and the reading of a story from the log in
``projections.story``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from events.model.envelope import Recorded
from events.model.milestones import MilestoneStateName
from events.model.state import AgreementState, LullState
from events.model.types import AllegationRetracted, EventCorrected, IncidentEnded, data_of
from events.model.values import local_time
from projections.filing import Filing, contests, role_of
from projections.findings import report_agreements
from projections.state_sweep import Contest, conflict_states
from projections.timeline_words import (
    Allegations,
    allegation_words,
    entry_summary,
    reason_or_full_stop,
)
from projections.views.timeline import TimelineEntry, TimelineNote
from projections.words import in_words

__all__ = [
    "build_timeline",
]


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
                summary=entry_summary(event, data, retracted, allegation),
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
    summary += reason_or_full_stop(data)
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
