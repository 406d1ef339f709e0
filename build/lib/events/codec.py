"""Decoding stored event rows in bulk: the replay's and the verification's ``decode_row``.

``events.store.decode_row`` validates the whole recorded event through the discriminated union:
right for reading a page of the feed, but at ~40 µs an event it costs more than the rest of a
replay together. ``RowDecoder`` gives the same model (tests hold the two equal) for a fraction:

- the parts that came from a writer are validated as ``decode_row`` does: ``data`` straight
  from its stored JSON by the type's data model (upcast first when its schema version is old),
  ``source`` once per distinct stored text (a log has few sources, each repeated often);
- the parts the store wrote itself in typed columns (position, version, conflict, the times)
  are taken as they are, the way pydantic's ``model_construct`` does, without its per-field
  alias handling.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, get_args

from pydantic import BaseModel

from events.envelope import Recorded, construct
from events.types import SCHEMA_VERSIONS, Source
from events.upcasting import upcast

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
        self._fields = {t: frozenset(cls.model_fields) for t, cls in self._classes.items()}
        self._sources: dict[str, Source] = {}
        self._source_cache_size = source_cache_size

    def source(self, text: str) -> Source:
        source = self._sources.get(text)
        if source is None:
            if len(self._sources) >= self._source_cache_size:
                self._sources.clear()
            source = self._sources[text] = Source.model_validate_json(text)
        return source

    def data(self, type_: str, schema_version: int, text: str) -> BaseModel:
        model = self._data_models[type_]
        if schema_version == SCHEMA_VERSIONS[type_]:
            return model.model_validate_json(text)
        return model.model_validate(upcast(type_, schema_version, json.loads(text)))

    def decode(self, row: Sequence[Any]) -> Recorded:
        """One row as the current event model; raises ``ValueError`` (pydantic's
        ``ValidationError`` is one) or ``KeyError`` (an unknown type) on a row that does not
        decode."""
        position, id_, conflict, version, type_, _, occurred_at, recorded_at, source, data = row
        cls = self._classes[type_]
        values = {
            "id": id_,
            "conflict": conflict,
            "occurred_at": occurred_at,
            "source": self.source(source),
            "type": type_,
            "data": self.data(type_, row[5], data),
            "version": version,
            "position": position,
            "recorded_at": recorded_at,
            "schema_version": SCHEMA_VERSIONS[type_],
        }
        return construct(cls, values, self._fields[type_])  # type: ignore[return-value]
