"""The words the pages and the feed say, with no database: dates in words (UTC and local), a
claimed toll, denials and retractions naming the allegation by who, whom and when, countdowns
that say when their wording changes, chart labels cut with the full name kept, and the
timeline paged from its newest entry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from app.formats.text import STATE_MEANINGS, STATE_WORDS, duration, next_countdown_wording
from app.pages.chart import allegations_chart, label
from events.model.state import AgreementState
from events.model.types import event_adapter
from projections.timeline import build_timeline
from projections.timeline_words import casualties_words
from projections.views import ConflictState, PartyCounts
from projections.words import in_words, local_in_words
from tests.unit.test_timeline import WINDOW, fold

T0 = datetime(2022, 4, 2, 16, 5, tzinfo=UTC)


def test_dates_in_words() -> None:
    assert in_words(T0) == "2 April 2022, 16:05 UTC"
    assert in_words(T0.astimezone(timezone(timedelta(hours=3)))) == "2 April 2022, 16:05 UTC"
    assert in_words(datetime(1, 1, 1, tzinfo=UTC)) == "1 January 1, 00:00 UTC"
    local = T0.astimezone(timezone(timedelta(hours=-4, minutes=-30)))
    assert local_in_words(local) == "2 April 2022, 11:35 UTC-04:30"


@pytest.mark.parametrize(
    ("claimed", "words"),
    [
        (None, None),
        ({"low": 4, "best": 4, "high": 4}, "4 killed"),
        ({"low": 3, "best": 4, "high": 9}, "4 (3 to 9) killed"),
        ({"injured": {"low": 2, "best": 2, "high": 2}}, "2 injured"),
        (
            {
                "killed": {"low": 1, "best": 1, "high": 1},
                "injured": {"low": 0, "best": 5, "high": 7},
            },
            "1 killed, 5 (0 to 7) injured",
        ),
    ],
)
def test_a_claimed_toll_in_words(claimed: dict[str, Any] | None, words: str | None) -> None:
    assert casualties_words(claimed) == words


def test_every_state_has_words_and_a_meaning() -> None:
    states = set(ConflictState.__args__)  # type: ignore[attr-defined]
    assert set(STATE_WORDS) == states == set(STATE_MEANINGS)


@pytest.mark.parametrize(
    "left",
    [
        timedelta(days=2, hours=5),
        timedelta(days=2),
        timedelta(hours=3, seconds=1),
        timedelta(minutes=59, seconds=30),
        timedelta(seconds=30),
    ],
)
def test_a_countdown_in_words_changes_exactly_when_its_next_change_says(left: timedelta) -> None:
    now = T0
    ends = now + left
    change = next_countdown_wording(ends, now)
    assert change > now
    before = change - timedelta(microseconds=1)
    if ends - change >= timedelta(0):
        assert duration(ends - before) == duration(ends - now)
    if change < ends:
        assert duration(ends - change) != duration(ends - now)


def test_a_long_name_is_cut_in_the_chart_and_kept_whole_in_its_tooltip() -> None:
    name = "Collective Security Treaty Organization"
    assert label("Armenia") == "Armenia"
    assert label(name).endswith("…") and len(label(name)) <= 15
    svg = allegations_chart("c", {name: PartyCounts(made=1), "Armenia": PartyCounts(received=1)})
    assert f"<title>{name}</title>" in svg
    assert f">{label(name)}</text>" in svg


def event(kind: str, occurred_at: datetime, **data: Any) -> Any:
    return event_adapter.validate_python(
        {
            "type": kind,
            "conflict": "c",
            "occurred_at": occurred_at.isoformat(),
            "source": {"name": "s"},
            "data": data,
        }
    )


def _agreement() -> Any:
    return event_adapter.validate_python(
        {
            "type": "agreement.signed",
            "conflict": "c",
            "occurred_at": T0.isoformat(),
            "source": {"name": "s"},
            "data": {
                "agreement_id": "a",
                "parties": ["North", "South"],
                "kind": "ceasefire",
                "effective_at": T0.isoformat(),
            },
        }
    )


def _events() -> list[Any]:
    events = [_agreement()]
    for day in range(1, 8):
        events.append(
            event(
                "violation.alleged",
                T0 + timedelta(days=day),
                alleged_by="North",
                accused="South",
                incidents=day,
                casualties_claimed={"killed": {"low": 1, "best": 2, "high": 3}},
            )
        )
    return events


def _story(events: list[Any]) -> tuple[list[Any], list[AgreementState]]:
    state, recorded = fold(events)
    return recorded, list(state.agreements.values())


def test_the_timeline_paged_from_its_newest_entry() -> None:
    log, agreements = _story(_events())
    everything = build_timeline(log, agreements, WINDOW)
    assert len(everything) == 8
    newest = build_timeline(log, agreements, WINDOW, before=0, limit=3)
    assert newest == everything[-3:]
    older = build_timeline(log, agreements, WINDOW, before=newest[0].position, limit=3)
    assert older == everything[-6:-3]
    oldest = build_timeline(log, agreements, WINDOW, before=older[0].position, limit=3)
    assert oldest == everything[:2]


def test_denials_and_retractions_name_the_allegation_by_who_whom_and_when() -> None:
    events = _events()
    allegation = events[1]
    events += [
        event(
            "allegation.denied",
            T0 + timedelta(days=9),
            allegation_id=str(allegation.id),
            denied_by="South",
        ),
        event(
            "allegation.retracted",
            T0 + timedelta(days=10),
            allegation_id=str(allegation.id),
            retracted_by="North",
            reason="It was a training exercise.",
        ),
    ]
    log, agreements = _story(events)
    timeline = build_timeline(log, agreements, WINDOW)
    entries = {e.type: e for e in timeline}
    named = "allegation against South of 3 April 2022, 16:05 UTC (1 incident)"
    denial = entries["allegation.denied"].summary
    assert denial == f"South denied North's {named}."
    assert str(allegation.id) not in denial
    (retracted,) = [e for e in timeline if e.notes]
    assert retracted.id == allegation.id
    assert [n.summary for n in retracted.notes] == [
        f"North retracted its {named} on 12 April 2022, 16:05 UTC: It was a training exercise."
    ]
    assert timeline[2].summary.startswith(
        "North alleged 2 incidents by South; casualties claimed by North: 2 (1 to 3) killed"
    )
