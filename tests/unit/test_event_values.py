"""The values issue 17 added to events, with no database: the UTC offset an occurred_at was
written with, claimed casualties killed and injured apart, and ISO 3166-1 country codes. What
events stored before them hold must validate, and dump, exactly as it did."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from events.model.allegation_data import (
    CasualtiesClaimed,
    CasualtyRange,
    ViolationAllegedData,
    killed_and_injured,
)
from events.model.conflict_data import ConflictDescribedData
from events.model.countries import ISO_3166_ALPHA_2
from events.model.types import data_of, event_adapter
from events.model.values import local_time, offset_given


def _alleged(occurred_at: Any, **data: Any) -> dict[str, Any]:
    return {
        "type": "violation.alleged",
        "conflict": "c",
        "occurred_at": occurred_at,
        "source": {"name": "s"},
        "data": {"alleged_by": "A", "accused": "B", **data},
    }


@pytest.mark.parametrize(
    ("written", "offset"),
    [
        ("2022-04-02T19:00:00+03:00", "+03:00"),
        ("2022-04-02T19:00:00.5-04:30", "-04:30"),
        ("2022-04-02T19:00:00Z", None),
        ("2022-04-02T19:00:00+00:00", None),
        ("2022-04-02T19:00:00-00:00", None),
        (datetime(2022, 4, 2, 16, tzinfo=UTC), None),
        (datetime.fromisoformat("2022-04-02T19:00:00+05:45"), "+05:45"),
        (1_650_000_000, None),
        ("not a time +03:00", None),
    ],
)
def test_the_offset_an_instant_was_written_with(written: Any, offset: str | None) -> None:
    assert offset_given(written) == offset


def test_local_time_is_the_same_instant_at_the_offset() -> None:
    instant = datetime(2022, 4, 2, 16, tzinfo=UTC)
    local = local_time(instant, "+03:00")
    assert local == instant and local.isoformat() == "2022-04-02T19:00:00+03:00"
    assert local_time(instant, "-04:30").isoformat() == "2022-04-02T11:30:00-04:30"


def test_an_event_keeps_its_offset_and_its_instant_in_utc() -> None:
    event = event_adapter.validate_python(_alleged("2022-04-02T19:00:00+03:00"))
    assert event.occurred_at == datetime(2022, 4, 2, 16, tzinfo=UTC)
    assert data_of(event)["utc_offset"] == "+03:00"
    given = event_adapter.validate_python(
        _alleged("2022-04-02T19:00:00+03:00", utc_offset="+04:00")
    )
    assert data_of(given)["utc_offset"] == "+04:00"  # what the data says is kept


def test_an_event_in_utc_and_a_stored_one_keep_their_data_as_it_was() -> None:
    for written in ("2022-04-02T16:00:00Z", "2022-04-02T16:00:00+00:00"):
        event = event_adapter.validate_python(_alleged(written, incidents=2))
        assert data_of(event) == {"alleged_by": "A", "accused": "B", "incidents": 2}
    # A stored event is read with its occurred_at in UTC: nothing is added to its data.
    stored = {"alleged_by": "A", "accused": "B", "casualties_claimed": _range(1, 2, 3)}
    event = event_adapter.validate_json(
        json.dumps(_alleged("2022-04-02T16:00:00.000000Z", **stored))
    )
    assert data_of(event) == stored | {"incidents": 1}


def _range(low: int, best: int, high: int) -> dict[str, int]:
    return {"low": low, "best": best, "high": high}


def test_the_first_casualty_shape_stands_and_means_killed() -> None:
    data = ViolationAllegedData.model_validate(
        {"alleged_by": "A", "accused": "B", "casualties_claimed": _range(0, 1, 2)}
    )
    assert isinstance(data.casualties_claimed, CasualtyRange)
    assert data.model_dump(mode="json", exclude_none=True)["casualties_claimed"] == _range(0, 1, 2)
    assert killed_and_injured(data.casualties_claimed) == (
        CasualtyRange(low=0, best=1, high=2),
        None,
    )


def test_killed_and_injured_apart_either_optional() -> None:
    claimed = {"injured": _range(1, 2, 3)}
    data = ViolationAllegedData.model_validate(
        {"alleged_by": "A", "accused": "B", "casualties_claimed": claimed}
    )
    assert isinstance(data.casualties_claimed, CasualtiesClaimed)
    assert data.model_dump(mode="json", exclude_none=True)["casualties_claimed"] == claimed
    assert killed_and_injured(data.casualties_claimed) == (
        None,
        CasualtyRange(low=1, best=2, high=3),
    )


@pytest.mark.parametrize(
    "claimed",
    [
        {},
        {"killed": _range(3, 2, 1)},
        {"killed": _range(1, 2, 3), "low": 1},
        {"wounded": _range(1, 2, 3)},
        {"killed": None, "injured": None},
    ],
)
def test_a_casualty_claim_that_says_nothing_or_breaks_a_range_is_refused(
    claimed: dict[str, Any],
) -> None:
    with pytest.raises(ValidationError):
        ViolationAllegedData.model_validate(
            {"alleged_by": "A", "accused": "B", "casualties_claimed": claimed}
        )


def test_the_officially_assigned_codes() -> None:
    assert len(ISO_3166_ALPHA_2) == 249
    assert {"YE", "SA", "SD", "UA", "PS", "SS", "GB"} <= ISO_3166_ALPHA_2
    assert not {"XK", "ZZ", "UK", "EU", "AN"} & ISO_3166_ALPHA_2


@pytest.mark.parametrize("countries", [["ye"], ["XK"], ["YEM"], ["YE", "YE"], []])
def test_a_description_names_assigned_codes_each_once(countries: list[str]) -> None:
    with pytest.raises(ValidationError) as refused:
        ConflictDescribedData.model_validate(
            {"title": "Yemen", "countries": countries, "region": "Middle East"}
        )
    assert refused.value.errors()[0]["loc"][0] == "countries"
