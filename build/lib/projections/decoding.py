"""The replay's decoder: ``RowDecoder`` with the data models' validators called directly.

``events.codec.RowDecoder`` validates each row's ``data`` with ``model_validate_json``, whose
Python wrapper (keyword handling, then the call into pydantic-core) costs about as much as the
validation itself for the small objects of this log. ``ReplayDecoder`` calls each data model's
own core validator (``__pydantic_validator__``), which is what that wrapper calls: the same
validation, every check included, the same models. Rows of an older schema version go through
``RowDecoder`` (upcast, then validated). A unit test holds its models equal to
``decode_row``'s for every event type.

(Skipping the checks for rows the log already holds was tried: pydantic-core reuses a model
class's own prebuilt validator for any schema naming that class, so a schema without the
checks still runs them.)
"""

from __future__ import annotations

from typing import get_args

from pydantic import BaseModel
from pydantic_core import SchemaValidator

from events.codec import RowDecoder
from events.envelope import Recorded
from events.types import SCHEMA_VERSIONS

__all__ = ["ReplayDecoder"]


def _data_validators() -> dict[str, SchemaValidator]:
    """Each stored type string -> the core validator of its ``data`` model, read off the
    ``Recorded`` union."""
    validators: dict[str, SchemaValidator] = {}
    for cls in get_args(get_args(Recorded)[0]):
        model: type[BaseModel] = cls.model_fields["data"].annotation
        validators[cls.model_fields["type"].default] = model.__pydantic_validator__  # type: ignore[assignment]
    return validators


class ReplayDecoder(RowDecoder):
    """``RowDecoder``, with ``data`` of the current schema version validated by a direct call
    of its model's core validator."""

    def __init__(self, source_cache_size: int = 10_000) -> None:
        super().__init__(source_cache_size)
        self._validators = _data_validators()

    def data(self, type_: str, schema_version: int, text: str) -> BaseModel:
        if schema_version == SCHEMA_VERSIONS[type_]:
            model: BaseModel = self._validators[type_].validate_json(text)
            return model
        return super().data(type_, schema_version, text)
