"""What each entry of a conflict's story says, in one sentence for a person to read: who
signed, alleged, denied, dispatched or withdrew what, and when; a claimed toll and an
allegation named in words.

Apart from the building of the entries (``projections.timeline``) because these are the
service's words, read by the pages too (``casualties_words``), and grow with every event type.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from events.model.envelope import Recorded
from projections.words import in_words

__all__ = [
    "Allegations",
    "allegation_words",
    "casualties_words",
    "entry_summary",
    "reason_or_full_stop",
]


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


def reason_or_full_stop(data: Mapping[str, Any]) -> str:
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


def entry_summary(
    event: Recorded, data: Mapping[str, Any], retracted: bool, allegations: Allegations
) -> str:
    """The one sentence an entry says: ``data`` as corrected, ``retracted`` when its party
    withdrew it, ``allegations`` to name the allegation a denial answers."""
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
            return f"Agreement {data['agreement_id']} collapsed{reason_or_full_stop(data)}"
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
            return f"Mission {data['mission_id']} ended{reason_or_full_stop(data)}"
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
                f"{_when(data['due_at'])}{reason_or_full_stop(data)}"
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
            return f"Lull {data['lull_id']} ended{reason_or_full_stop(data)}"
        case "actor.registered":
            text = f"{data['name']} registered ({data['kind'].replace('_', ' ')})"
            if data.get("aliases"):
                text += f", also spelt {', '.join(data['aliases'])}"
            return text + "."
        case _:
            return f"{data['organization']} dispatched mission {data['mission_id']}."
