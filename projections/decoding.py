"""The replay's decoder: stored event rows as models, without running the checks a second time.

``events.codec.RowDecoder`` validates each row's ``data`` through its model: right for rows
that may come from anywhere, but over a whole log the model's Python validators (``_no_nul`` on
every name and text, the model validators) cost more than parsing itself. A replay reads only
the log, whose rows passed those checks before they were stored, are covered by the hash chain,
and hold the model's own JSON dump (``data_of``).

So ``TrustedRowDecoder`` parses ``data`` with a validator built from the model's own core
schema minus its Python validators (``trusted_schema``): still pydantic-core, in Rust, making
the same model classes with the same types, only without the checks. The one Python validator
it keeps is the one that shapes a value rather than checking it: the conversion of an instant
to UTC (the ``Instant`` type), so a datetime's ``tzinfo`` is the very one validation gives.
Rows of an older schema version go through ``RowDecoder`` (upcast, then fully validated), as
does any type whose schema cannot be rebuilt. A unit test holds its models equal to
``RowDecoder``'s for every event type.
"""

from __future__ import annotations

from typing import Any, get_args

from pydantic import BaseModel
from pydantic_core import SchemaValidator

from events.codec import RowDecoder
from events.envelope import Recorded
from events.types import SCHEMA_VERSIONS

__all__ = ["TrustedRowDecoder", "trusted_schema"]


def trusted_schema(schema: Any) -> Any:
    """A copy of a pydantic core schema without its Python validators: ``function-before``
    ones and ``function-after`` ones (field and model validators), except an after-validator
    of a datetime, which is how ``Instant`` converts to UTC. Only for data that passed the
    full schema before: what the removed validators would check, it has."""
    if isinstance(schema, list):
        return [trusted_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: trusted_schema(value) for key, value in schema.items()}
    kind = out.get("type")
    if kind == "function-before":
        return out["schema"]
    if kind == "function-after" and out["schema"].get("type") != "datetime":
        return out["schema"]
    return out


def _data_models() -> dict[str, type[BaseModel]]:
    """Each stored type string -> the model of its ``data``, read off the ``Recorded`` union."""
    models: dict[str, type[BaseModel]] = {}
    for cls in get_args(get_args(Recorded)[0]):
        models[cls.model_fields["type"].default] = cls.model_fields["data"].annotation
    return models


class TrustedRowDecoder(RowDecoder):
    """``RowDecoder`` for rows of the log itself: the same models, ``data`` of the current
    schema version parsed without the checks it passed when it was stored."""

    def __init__(self, source_cache_size: int = 10_000) -> None:
        super().__init__(source_cache_size)
        self._trusted: dict[str, SchemaValidator] = {}
        for type_, model in _data_models().items():
            try:
                self._trusted[type_] = SchemaValidator(
                    trusted_schema(model.__pydantic_core_schema__)
                )
            except Exception:  # a schema it cannot rebuild: validated in full instead
                continue

    def data(self, type_: str, schema_version: int, text: str) -> BaseModel:
        trusted = self._trusted.get(type_)
        if trusted is not None and schema_version == SCHEMA_VERSIONS[type_]:
            model: BaseModel = trusted.validate_json(text)
            return model
        return super().data(type_, schema_version, text)
