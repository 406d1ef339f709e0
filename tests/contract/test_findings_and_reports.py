"""Issue 18 on every database, on real histories (sources in the fixture files): a monitor's
finding contests a ceasefire like a party's claim and is shown apart from claims; an ongoing
violation (the ELN's kidnapping of Luis Manuel Díaz, held twelve days during the 2023
bilateral ceasefire) contests until the window after its end, and only from when that end is
known; an aggregate report (UNIFIL's count of Israeli violations since the 2024 cessation of
hostilities) counts and contests from the end of its period. Each view is read at every
moment that matters, before and after the end is recorded (``known_at``), and the same
history recorded in another order gives the same views.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from app.services.appending import Appender
from events.log.store import EventStore
from events.model.envelope import Recorded
from events.model.types import Event, event_adapter
from projections.freshness import next_change
from projections.queries.allegations import read_allegations
from projections.queries.status import read_status
from projections.story import read_story

FIXTURES = Path(__file__).parent.parent / "fixtures"
WINDOW = timedelta(days=7)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _lines(slug: str, *names: str) -> list[dict[str, Any]]:
    """The fixtures' events under ``slug``, with fresh ids (the same file may be loaded into
    several conflicts of one database)."""
    raw = [
        json.loads(line) for name in names for line in (FIXTURES / name).read_text().splitlines()
    ]
    ids = {r["id"]: str(uuid.uuid4()) for r in raw}
    text = json.dumps(raw)
    for old, new in ids.items():
        text = text.replace(old, new)
    return [{**r, "conflict": slug} for r in json.loads(text)]


def _needs(line: dict[str, Any], before: Sequence[dict[str, Any]]) -> bool:
    """Whether ``line`` may be recorded after ``before``: what it names is there."""
    data = line["data"]
    named = {data.get("allegation_id"), data.get("agreement_id")} - {None}
    if line["type"] in ("agreement.signed", "ceasefire.declared"):
        named.discard(data["agreement_id"])
    have = {b["id"] for b in before} | {b["data"].get("agreement_id") for b in before}
    if line["type"] == "violation.alleged" and data["accused"] == "National Liberation Army":
        have_alias = any(b["type"] == "actor.registered" for b in before)
        return named <= have and have_alias
    if line["type"] in ("violation.alleged", "violations.reported"):
        names = {data.get("alleged_by"), data.get("accused"), data.get("reported_by")} - {None}
        actors = {p for b in before for p in b["data"].get("parties", [])}
        actors |= {
            o
            for b in before
            if b["type"] == "mission.dispatched"
            for o in [b["data"]["organization"], *b["data"].get("organizations", [])]
        }
        if not names <= actors:
            return False
    return named <= have


def _another_order(lines: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    """A random order of recording in which everything an event names comes first."""
    rng = random.Random(seed)
    left, done = list(lines), []
    while left:
        ready = [line for line in left if _needs(line, done)]
        pick = rng.choice(ready)
        left.remove(pick)
        done.append(pick)
    return done


async def _record(appender: Appender, lines: list[dict[str, Any]]) -> list[Recorded]:
    recorded = []
    for line in lines:
        event: Event = event_adapter.validate_python(line)
        recorded.extend((await appender.append([event])).events)
    return recorded


def _same(view: Any) -> Any:
    """A view with what differs between two conflicts and two recordings taken out."""
    dumped = view.model_dump(mode="json", exclude={"conflict", "version", "position"})

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: strip(v)
                for k, v in value.items()
                if k not in ("id", "version", "position", "recorded_at", "allegation_id")
            }
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return strip(dumped)


async def _status(store: EventStore, slug: str, as_of: str, known_at: datetime | None = None):  # type: ignore[no-untyped-def]
    async with store.engine.connect() as conn:
        return await read_status(conn, slug, as_of=at(as_of), known_at=known_at, window=WINDOW)


async def test_a_kidnapping_contests_while_the_hostage_is_held(
    store: EventStore, appender: Appender, conflict: str
) -> None:
    recorded = await _record(appender, _lines(conflict, "colombia-eln-2023-kidnapping.ndjson"))
    end_known = next(r.recorded_at for r in recorded if r.type == "incident.ended")
    alleged_known = next(r.recorded_at for r in recorded if r.type == "violation.alleged")
    before_end = alleged_known + (end_known - alleged_known) / 2
    expected = [
        ("2023-07-01T00:00:00Z", "pending", "2023-06-09T17:00:00Z"),
        ("2023-08-10T00:00:00Z", "holding", "2023-08-03T05:00:00Z"),
        ("2023-10-28T16:59:59Z", "holding", "2023-08-03T05:00:00Z"),
        ("2023-10-28T17:00:00Z", "contested", "2023-10-28T17:00:00Z"),
        ("2023-11-06T00:00:00Z", "contested", "2023-10-28T17:00:00Z"),  # 9 days, still held
        ("2023-11-16T15:29:59Z", "contested", "2023-10-28T17:00:00Z"),
        ("2023-11-16T15:30:00Z", "holding", "2023-11-16T15:30:00Z"),  # 7 days after release
        ("2023-12-31T00:00:00Z", "holding", "2023-11-16T15:30:00Z"),
    ]
    for as_of, state, since in expected:
        status = await _status(store, conflict, as_of)
        assert (status.state, status.since) == (state, at(since)), as_of
    # Before the release was recorded, the allegation was an instant: seven days and done.
    early = [
        ("2023-11-01T00:00:00Z", "contested", "2023-10-28T17:00:00Z"),
        ("2023-11-06T00:00:00Z", "holding", "2023-11-04T17:00:00Z"),
    ]
    for as_of, state, since in early:
        status = await _status(store, conflict, as_of, known_at=before_end)
        assert (status.state, status.since) == (state, at(since)), as_of
    held = await _status(store, conflict, "2023-11-06T00:00:00Z")
    assert held.agreements[0].claims.count == 1
    assert held.agreements[0].claims.latest_by == "Government of Colombia"
    assert held.agreements[0].findings.count == 0
    async with store.engine.connect() as conn:
        during = await read_allegations(
            conn, conflict, as_of=at("2023-11-06T00:00:00Z"), known_at=None
        )
        after = await read_allegations(
            conn, conflict, as_of=at("2023-11-10T00:00:00Z"), known_at=None
        )
        (ongoing,) = during.agreements[0].allegations
        assert (ongoing.ongoing, ongoing.ended_at, ongoing.accused) == (True, None, "ELN")
        (ended,) = after.agreements[0].allegations
        assert (ended.ongoing, ended.ended_at) == (False, at("2023-11-09T15:30:00Z"))
        # A poll of "now" on 10 November must wake when the window after the release runs out.
        due = await next_change(
            conn, conflict=conflict, after=at("2023-11-10T00:00:00Z"), known_at=None, window=WINDOW
        )
        assert due == at("2023-11-16T15:30:00Z")
        story = await read_story(conn, conflict, known_at=None)
    entries = (await story.told(window=WINDOW)).entries
    states = {e.type: e.state for e in entries}
    assert states["incident.ended"] == "contested"
    assert entries[-1].type == "incident.ended"


async def test_a_kidnapping_recorded_while_the_hostage_is_held_contests_until_his_release(
    store: EventStore, appender: Appender, conflict: str
) -> None:
    """The same kidnapping recorded as monitors record one on its first days, ``ongoing``:
    it contests past the window while no end is known, then until the window after the
    recorded release; ``known_at`` before the release was recorded still reads it going on."""
    recorded = await _record(
        appender, _lines(conflict, "colombia-eln-2023-kidnapping.ongoing.ndjson")
    )
    end_known = next(r.recorded_at for r in recorded if r.type == "incident.ended")
    alleged_known = next(r.recorded_at for r in recorded if r.type == "violation.alleged")
    before_end = alleged_known + (end_known - alleged_known) / 2
    taken = "2023-10-28T17:00:00Z"  # day 0
    day_10, day_15, day_20 = "2023-11-07T17:00:00Z", "2023-11-12T17:00:00Z", "2023-11-17T17:00:00Z"
    for as_of, state, since in [
        (day_10, "contested", taken),  # past the 7-day window, still held
        (day_15, "contested", taken),  # released on day 12: within the window after it
        (day_20, "holding", "2023-11-16T15:30:00Z"),
    ]:
        status = await _status(store, conflict, as_of)
        assert (status.state, status.since) == (state, at(since)), as_of
    # Before the release was recorded: going on at every as_of.
    for as_of in (day_10, day_20, "2023-12-31T00:00:00Z"):
        status = await _status(store, conflict, as_of, known_at=before_end)
        assert (status.state, status.since) == ("contested", at(taken)), as_of
    async with store.engine.connect() as conn:

        async def allegation(as_of: str, known_at: datetime | None) -> Any:
            listed = await read_allegations(conn, conflict, as_of=at(as_of), known_at=known_at)
            (only,) = listed.agreements[0].allegations
            return only

        held = await allegation(day_20, before_end)
        assert (held.ongoing, held.ended_at, held.accused) == (True, None, "ELN")
        held = await allegation(day_10, None)
        assert (held.ongoing, held.ended_at) == (True, None)
        released = await allegation(day_20, None)
        assert (released.ongoing, released.ended_at) == (False, at("2023-11-09T15:30:00Z"))
        # Going on with no end known, nothing changes with time alone (not the window after
        # it occurred either): its end is a new event.
        due = await next_change(
            conn,
            conflict=conflict,
            after=at("2023-11-01T00:00:00Z"),
            known_at=before_end,
            window=WINDOW,
        )
        assert due is None
        due = await next_change(
            conn, conflict=conflict, after=at("2023-11-10T00:00:00Z"), known_at=None, window=WINDOW
        )
        assert due == at("2023-11-16T15:30:00Z")
        early = await read_story(conn, conflict, known_at=before_end)
        story = await read_story(conn, conflict, known_at=None)
    entries = (await early.told(window=WINDOW)).entries
    (told,) = [e for e in entries if e.type == "violation.alleged"]
    assert told.state == "contested" and "still going on when recorded" in told.summary
    states = {e.type: e.state for e in (await story.told(window=WINDOW)).entries}
    assert states["incident.ended"] == "contested"


async def test_a_un_finding_and_a_report_contest_the_cessation(
    store: EventStore, appender: Appender, conflict: str
) -> None:
    await _record(
        appender,
        _lines(
            conflict,
            "israel-lebanon-2024-cessation.ndjson",
            "israel-lebanon-2024-findings.ndjson",
        ),
    )
    expected = [
        ("2024-12-05T00:00:00Z", "contested", "2024-12-02T10:00:00Z"),  # the parties' claims
        ("2024-12-20T00:00:00Z", "holding", "2024-12-09T10:00:00Z"),
        # UNIFIL's finding of 26 December contests it (before issue 18: holding since 9 Dec).
        ("2024-12-27T00:00:00Z", "contested", "2024-12-26T10:00:00Z"),
        ("2025-01-02T10:00:00Z", "holding", "2025-01-02T10:00:00Z"),
        ("2025-11-19T00:00:00Z", "holding", "2025-01-02T10:00:00Z"),  # the report's period runs
        ("2025-11-21T00:00:00Z", "contested", "2025-11-20T10:00:00Z"),
        ("2025-11-28T00:00:00Z", "holding", "2025-11-27T10:00:00Z"),
    ]
    for as_of, state, since in expected:
        status = await _status(store, conflict, as_of)
        assert (status.state, status.since) == (state, at(since)), as_of

    finding = (await _status(store, conflict, "2024-12-27T00:00:00Z")).agreement
    assert finding is not None and finding.state == "contested"
    assert (finding.findings.count, finding.findings.latest_by) == (1, "UNIFIL")
    assert (finding.claims.count, finding.third_party.count) == (2, 0)
    assert finding.reported.reports == 0

    reported = (await _status(store, conflict, "2025-11-21T00:00:00Z")).agreement
    assert reported is not None
    assert reported.findings.count == 2
    assert reported.findings.latest_at == at("2025-11-20T10:00:00Z")
    assert (reported.reported.reports, reported.reported.violations) == (1, 10000)
    assert reported.reported.by_party == {"Israel": 10000}
    assert reported.reported.latest is not None and reported.reported.latest.role == "monitor"

    async with store.engine.connect() as conn:
        listed = await read_allegations(
            conn, conflict, as_of=at("2025-11-21T00:00:00Z"), known_at=None
        )
        (section,) = listed.agreements
        assert [r.count for r in section.reports] == [10000]
        assert section.findings.count == 2 and section.claims.count == 2
        assert listed.outside_agreements.reports == []
        assert len(section.allegations) == 3  # the report is not an allegation
        inside = await read_allegations(
            conn, conflict, as_of=at("2025-11-19T00:00:00Z"), known_at=None
        )
        assert inside.agreements[0].reports == []
        due = await next_change(
            conn, conflict=conflict, after=at("2025-11-01T00:00:00Z"), known_at=None, window=WINDOW
        )
        assert due == at("2025-11-20T10:00:00Z")
        due = await next_change(
            conn, conflict=conflict, after=at("2025-11-21T00:00:00Z"), known_at=None, window=WINDOW
        )
        assert due == at("2025-11-27T10:00:00Z")


async def test_any_order_of_recording_gives_the_same_views(
    store: EventStore, appender: Appender, conflict: str
) -> None:
    files = (
        "israel-lebanon-2024-cessation.ndjson",
        "israel-lebanon-2024-findings.ndjson",
        "colombia-eln-2023-kidnapping.ndjson",
        "colombia-eln-2023-kidnapping.ongoing.ndjson",
    )
    slugs = {"il": files[:2], "co": files[2:3], "cw": files[3:]}
    moments = {
        "il": [
            "2024-11-26T12:00:00Z", "2024-12-02T10:00:00Z", "2024-12-10T00:00:00Z",
            "2024-12-26T10:00:00Z", "2025-01-03T00:00:00Z", "2025-11-20T10:00:00Z",
            "2025-11-27T10:00:00Z",
        ],
        "co": [
            "2023-06-10T00:00:00Z", "2023-08-03T05:00:00Z", "2023-10-28T17:00:00Z",
            "2023-11-05T00:00:00Z", "2023-11-09T15:30:00Z", "2023-11-16T15:29:00Z",
            "2023-11-16T15:31:00Z",
        ],
    }  # fmt: skip
    moments["cw"] = moments["co"]  # recorded while going on
    for key, names in slugs.items():
        first, second = f"{conflict}-{key}-a", f"{conflict}-{key}-b"
        await _record(appender, _lines(first, *names))
        await _record(appender, _another_order(_lines(second, *names), seed=18))
        async with store.engine.connect() as conn:
            for when in moments[key]:
                views = []
                for slug in (first, second):
                    status = await read_status(
                        conn, slug, as_of=at(when), known_at=None, window=WINDOW
                    )
                    listed = await read_allegations(conn, slug, as_of=at(when), known_at=None)
                    views.append((_same(status), _same(listed)))
                assert views[0] == views[1], (key, when)
            stories = [await read_story(conn, slug, known_at=None) for slug in (first, second)]
        told = [(await s.told(window=WINDOW)).entries for s in stories]
        by_time = [sorted((e.occurred_at, e.type, e.state) for e in t) for t in told]
        assert by_time[0] == by_time[1], key
