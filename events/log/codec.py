"""Decoding stored event rows: the one decoder of the feed, the replay and verification.

Validating the whole recorded event through the discriminated union costs ~40 µs an event,
more than the rest of a replay together. ``RowDecoder`` gives the same model (a unit test holds
the two equal, refusals and upcasting included) for a fraction:

- the parts that came from a writer are validated as the union would: ``data`` straight from
  its stored JSON by its type's data model (upcast first when its schema version is old),
  through the model's own core validator (``__pydantic_validator__``: what
  ``model_validate_json`` calls, without its Python wrapper, which costs about as much as the
  validation itself for the small objects of this log), and ``source`` once per distinct
  stored text (a log has few sources, each repeated often);
- the parts the store wrote itself in typed columns (position, version, conflict, the times)
  are taken as they are, the way pydantic's ``model_construct`` does, without its per-field
  alias handling.

(Skipping the checks for rows the log already holds was tried: pydantic-core reuses a model
class's own prebuilt validator for any schema naming that class, so a schema without the
checks still runs them.)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, get_args

from pydantic import BaseModel
from pydantic_core import SchemaValidator

from events.model.envelope import Recorded, construct
from events.model.types import SCHEMA_VERSIONS
from events.model.upcasting import upcast
from events.model.values import STORED, Source

__all__ = ["EVENT_COLUMNS", "RowDecoder", "columns_of"]

#: The columns of ``events`` a bulk decoder reads (the replay, verification), in this order.
EVENT_COLUMNS = (
    "position",
    "id",
    "conflict",
    "version",
    "type",
    "schema_version",
    "occurred_at",
    "recorded_at",
    "source",
    "data",
)


def columns_of(row: Any) -> tuple[Any, ...]:
    """A row with named columns (a SQLAlchemy ``Row``) laid out as ``EVENT_COLUMNS``."""
    return tuple(getattr(row, name) for name in EVENT_COLUMNS)


def _recorded_classes() -> dict[str, type[BaseModel]]:
    """Each stored type string -> its recorded model class, read off the ``Recorded`` union so
    a new event type is picked up without touching this module."""
    union = get_args(Recorded)[0]
    classes: dict[str, type[BaseModel]] = {}
    for cls in get_args(union):
        default = cls.model_fields["type"].default
        classes[default] = cls
    return classes


class RowDecoder:
    """Decode rows laid out as ``EVENT_COLUMNS``."""

    def __init__(self, source_cache_size: int = 10_000) -> None:
        self._classes = _recorded_classes()
        self._data_models: dict[str, type[BaseModel]] = {
            t: cls.model_fields["data"].annotation  # type: ignore[misc]
            for t, cls in self._classes.items()
        }
        self._validators: dict[str, SchemaValidator] = {
            t: model.__pydantic_validator__  # type: ignore[misc]
            for t, model in self._data_models.items()
        }
        self._fields = {t: frozenset(cls.model_fields) for t, cls in self._classes.items()}
        self._sources: dict[str, Source] = {}
        self._source_cache_size = source_cache_size

    def source(self, text: str) -> Source:
        source = self._sources.get(text)
        if source is None:
            if len(self._sources) >= self._source_cache_size:
                self._sources.clear()
            source = self._sources[text] = Source.model_validate_json(text, context=STORED)
        return source

    def data(self, type_: str, schema_version: int, text: str) -> BaseModel:
        if schema_version == SCHEMA_VERSIONS[type_]:
            model: BaseModel = self._validators[type_].validate_json(text, context=STORED)
            return model
        return self._data_models[type_].model_validate(
            upcast(type_, schema_version, json.loads(text)), context=STORED
        )

    def decode(self, row: Sequence[Any]) -> Recorded:
        """One row as the current event model; raises ``ValueError`` (pydantic's
        ``ValidationError`` is one) or ``KeyError`` (an unknown type) on a row that does not
        decode."""
        position, id_, conflict, version, type_, _, occurred_at, recorded_at, source, data = row
        cls = self._classes[type_]
        # In the models' field order, which their JSON follows (``_check_constructible``).
        values = {
            "version": version,
            "position": position,
            "recorded_at": recorded_at,
            "schema_version": SCHEMA_VERSIONS[type_],
            "id": id_,
            "conflict": conflict,
            "occurred_at": occurred_at,
            "source": self.source(source),
            "type": type_,
            "data": self.data(type_, row[5], data),
        }
        return construct(cls, values, self._fields[type_])  # type: ignore[return-value]
