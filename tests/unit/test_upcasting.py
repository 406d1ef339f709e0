"""Schema evolution without a database: the upcaster chain and the version-2 casualty range."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from events.model.allegation_data import CasualtyRange, ViolationAllegedData
from events.model.types import SCHEMA_VERSIONS
from events.model.upcasting import UPCASTERS, upcast

V1 = {"alleged_by": "Armenia", "accused": "Azerbaijan", "casualties_claimed": 7}


def test_new_allegations_are_written_as_version_2() -> None:
    assert SCHEMA_VERSIONS["violation.alleged"] == 2
    assert ("violation.alleged", 1) in UPCASTERS


def test_a_single_number_becomes_a_range_of_that_number() -> None:
    data = upcast("violation.alleged", 1, V1)
    assert data["casualties_claimed"] == {"low": 7, "best": 7, "high": 7}
    assert V1["casualties_claimed"] == 7  # the stored data is not modified
    model = ViolationAllegedData.model_validate(data)
    assert model.casualties_claimed == CasualtyRange(low=7, best=7, high=7)


def test_upcasting_leaves_version_1_without_casualties_and_version_2_alone() -> None:
    without = {"alleged_by": "Armenia", "accused": "Azerbaijan"}
    assert upcast("violation.alleged", 1, without) == without
    current = {**V1, "casualties_claimed": {"low": 1, "best": 2, "high": 3}}
    assert upcast("violation.alleged", 2, current) is current
    assert upcast("agreement.collapsed", 1, {"agreement_id": "x"}) == {"agreement_id": "x"}


@pytest.mark.parametrize(
    "claimed",
    [
        7,
        {"low": 3, "best": 2, "high": 4},
        {"low": 1, "best": 5, "high": 4},
        {"low": -1, "best": 0, "high": 0},
    ],
)
def test_version_2_refuses_a_number_or_an_unordered_range(claimed: object) -> None:
    with pytest.raises(ValidationError):
        ViolationAllegedData.model_validate({**V1, "casualties_claimed": claimed})
