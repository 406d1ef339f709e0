"""What every read model shares: the model they derive from, the state words, the time
parameters as a response echoes them, and the fields that the status and the list of
conflicts both carry."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

ConflictState = Literal[
    "none", "pending", "collapsed", "expired", "contested", "holding", "lull", "withdrawn"
]
AgreementStateName = Literal["pending", "holding", "contested", "expired", "collapsed", "withdrawn"]
Role = Literal["party", "mediator", "monitor", "third_party"]


AsOf = Annotated[
    datetime | None,
    Field(
        description="The time asked for (by occurred_at); null when none was: the state now "
        "(the response's Date header says when it was read)."
    ),
]
KnownAt = Annotated[
    datetime | None,
    Field(
        description="The recording time asked for (by recorded_at); null: what the log says now."
    ),
]


class View(BaseModel):
    model_config = ConfigDict(frozen=True)


def _iso_duration(length: timedelta) -> str:
    """RFC 3339's duration (its Appendix A, the ``duration`` format of JSON Schema) in days and
    time (``P615DT3H0M5S``): never years or months, whose length varies, and whole seconds (it
    has no fractions; a part of a second is dropped, never rounded up). Its grammar lets only
    minutes follow hours, so hours and seconds with no minutes keep a ``0M`` between them
    (``PT3H5S``, which ISO 8601 allows, fails a JSON Schema validator such as
    ``jsonschema_rs``)."""
    hours, rest = divmod(length.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    time = "".join(
        f"{n}{unit}"
        for n, unit in ((hours, "H"), (minutes, "M"), (seconds, "S"))
        if n or (unit == "M" and hours and seconds)
    )
    days = f"{length.days}D" if length.days else ""
    if not days and not time:
        return "PT0S"
    return f"P{days}{f'T{time}' if time else ''}"


#: A length of time, written as ``_iso_duration`` spells it; one schema for reading and writing.
Duration = Annotated[
    timedelta,
    PlainSerializer(_iso_duration, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "duration"}),
]


_LAST_REPORT_AT = Field(
    default=None,
    description="When the latest event of the conflict (of any kind) occurred by as_of, as known "
    "at known_at (null: none by then).",
)
_QUIET_FOR = Field(
    default=None,
    description="as_of minus last_report_at, an ISO 8601 duration in days and time. In a view of "
    "now (as_of null): whole days (`P20D`; `PT0S` under a day), so the view changes once a day "
    "rather than every second.",
)
_STALE = Field(
    default=False,
    description="True when quiet_for is CEASEFIRE_STALE_AFTER (default 30 days) or more: the "
    "state is what the record last said, and nothing was recorded for that long. The state "
    "itself does not change.",
)

_TITLE = Field(
    default=None,
    description="The conflict's title, from its latest `conflict.described` known (null: the "
    "conflict was never described; `conflict` is its slug).",
)
