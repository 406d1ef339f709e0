"""The durations views answer (``quiet_for``): RFC 3339's ``duration``, the format the OpenAPI
document gives them, for every mix of days, hours, minutes and seconds."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta

from pydantic import BaseModel, TypeAdapter

from projections.views.base import Duration

#: RFC 3339, Appendix A, transcribed: after hours only minutes may come, after minutes seconds.
_SECOND = r"\d+S"
_MINUTE = rf"\d+M(?:{_SECOND})?"
_HOUR = rf"\d+H(?:{_MINUTE})?"
_TIME = rf"T(?:{_HOUR}|{_MINUTE}|{_SECOND})"
_DAY = r"\d+D"
_WEEK = r"\d+W"
_MONTH = rf"\d+M(?:{_DAY})?"
_YEAR = rf"\d+Y(?:{_MONTH})?"
_DATE = rf"(?:{_DAY}|{_MONTH}|{_YEAR})(?:{_TIME})?"
RFC_3339_DURATION = re.compile(rf"P(?:{_DATE}|{_TIME}|{_WEEK})")


class _Answer(BaseModel):
    quiet_for: Duration


def _lengths() -> list[timedelta]:
    parts = itertools.product((0, 1, 736_799), (0, 10), (0, 1, 59), (0, 1, 59))
    return [timedelta(days=d, hours=h, minutes=m, seconds=s) for d, h, m, s in parts]


def test_every_mix_of_parts_is_an_rfc_3339_duration_and_reads_back() -> None:
    """Hours and seconds with no minutes between them (``PT3H5S``) are ISO 8601 but not RFC
    3339: a validator of the document's ``format: duration`` refused ``P736799DT10H1S``."""
    read = TypeAdapter(timedelta)
    for length in _lengths():
        text = _Answer(quiet_for=length).model_dump(mode="json")["quiet_for"]
        assert RFC_3339_DURATION.fullmatch(text), (length, text)
        assert read.validate_python(text) == length, text


def test_the_spelling_is_days_and_time_with_parts_of_a_second_dropped() -> None:
    def spelled(length: timedelta) -> str:
        return str(_Answer(quiet_for=length).model_dump(mode="json")["quiet_for"])

    assert spelled(timedelta(0)) == "PT0S"
    assert spelled(timedelta(days=615, hours=3, seconds=5)) == "P615DT3H0M5S"
    assert spelled(timedelta(hours=3, minutes=2)) == "PT3H2M"
    assert spelled(timedelta(days=43, hours=9)) == "P43DT9H"
    assert spelled(timedelta(seconds=59, microseconds=999_999)) == "PT59S"
