"""The OpenAPI document at ``/openapi.json``: FastAPI's, finished in the few ways FastAPI
cannot say from the routes alone.

- The ``Problem`` schema in the components: routes declare their problems as
  ``application/problem+json`` (``app.problems.problem_responses``), which FastAPI would
  otherwise file under ``application/json``.
- Fields without a description of their own get their term's (``app.glossary``).
- ``event.corrected``'s ``data`` follows the schema of the type it corrects.
- Reads are declared with optional auth (``OPEN_READ``); with ``CEASEFIRE_REQUIRE_READ_KEY``
  the document says they need a key, as the server then does.

The document is checked against the OpenAPI specification in ``tests/api/test_openapi.py``
and fuzzed against a real server in ``tests/e2e/test_schemathesis.py``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from app.glossary import describe
from app.problems import problem_schema
from app.settings import Settings
from events.types import CORRECTABLE_DATA

__all__ = ["OPEN_READ", "install", "links"]

#: ``openapi_extra`` of a read: FastAPI lists the bearer scheme from the key dependency, and
#: this adds the empty requirement beside it, which is OpenAPI's way to say "optional".
OPEN_READ: dict[str, Any] = {"security": [{}]}


def links(parameter: str, value: str, *operation_ids: str) -> dict[str, Any]:
    """OpenAPI links from a response to the operations that take one of its values as
    ``parameter``: a client (or a fuzzer's stateful phase) can follow them."""
    return {
        operation_id: {"operationId": operation_id, "parameters": {parameter: value}}
        for operation_id in operation_ids
    }


def _corrections_by_type(schemas: dict[str, Any]) -> None:
    """``event.corrected`` carries the whole new ``data`` of the type it names: say which
    schema that data follows for each ``event_type`` (the server checks exactly that)."""
    schema = schemas["EventCorrectedData"]
    shape = {k: schema.pop(k) for k in ("type", "properties", "required", "additionalProperties")}
    schema["oneOf"] = [
        {
            **shape,
            "title": f"EventCorrectedData ({event_type})",
            "properties": {
                **shape["properties"],
                "event_type": {
                    "const": event_type,
                    "description": "The type of the event corrected.",
                },
                "data": {"$ref": f"#/components/schemas/{model.__name__}"},
            },
        }
        for event_type, model in CORRECTABLE_DATA.items()
    ]


def install(app: FastAPI, settings: Settings) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            schemas.update(problem_schema())
            _corrections_by_type(schemas)
            describe(schemas)
            if settings.require_read_key:
                for path in document["paths"].values():
                    for operation in path.values():
                        if "security" in operation:
                            operation["security"] = [s for s in operation["security"] if s]
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
