"""The OpenAPI document at ``/openapi.json``: FastAPI's, finished in the few ways FastAPI
cannot say from the routes alone.

- The ``Problem`` schema in the components: routes declare their problems as
  ``application/problem+json`` (``app.http.problems.problem_responses``), which FastAPI would
  otherwise file under ``application/json``.
- Fields without a description of their own get their term's (``app.glossary``).
- Stored events may carry ``key_id`` (admin readers only).
- ``event.corrected``'s ``data`` follows the schema of the type it corrects.
- An example for each request body and 2xx response (``docs/examples.json`` beside it).
- A conditional read's request headers (If-None-Match, Prefer), which it reads itself.
- Reads are declared with optional auth (``OPEN_READ``); with ``CEASEFIRE_REQUIRE_READ_KEY``
  the document says they need a key, as the server then does.
- The stream is marked for generated clients (``SERVER_SENT_EVENTS``): its answer never ends,
  so a client that reads the whole body waits forever; the mark names its items, for an SSE
  client (``docs/client.md``).

The document is checked against the OpenAPI specification in ``tests/api/test_openapi.py``
and fuzzed against a real server in ``tests/e2e/test_schemathesis.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from app.glossary import describe
from app.http.problems import problem_schema
from app.settings import Settings
from events.model.correction_data import CORRECTABLE_DATA

__all__ = ["OPEN_READ", "SERVER_SENT_EVENTS", "install", "links"]

#: ``openapi_extra`` of a read: FastAPI lists the bearer scheme from the key dependency, and
#: this adds the empty requirement beside it, which is OpenAPI's way to say "optional".
OPEN_READ: dict[str, Any] = {"security": [{}]}

#: The request headers of a conditional read (an operation that may answer 304), which
#: ``app.api.parameters.conditional_read`` reads from the request itself.
_CONDITIONAL_HEADERS = (
    ("If-None-Match", "An ETag from an earlier answer: 304 with no body while it is current."),
    (
        "Prefer",
        "`wait=N` (RFC 7240, N \u2264 60 seconds) with a current If-None-Match: hold the request "
        "until the state changes (200) or N seconds pass (304).",
    ),
)


def _conditional_headers(paths: dict[str, Any]) -> None:
    for path in paths.values():
        for operation in path.values():
            if "304" not in operation.get("responses", {}):
                continue
            parameters = operation.setdefault("parameters", [])
            for name, description in _CONDITIONAL_HEADERS:
                schema = {
                    "anyOf": [{"type": "string"}, {"type": "null"}],
                    "description": description,
                    "title": name,
                }
                parameters.append(
                    {
                        "name": name,
                        "in": "header",
                        "required": False,
                        "schema": schema,
                        "description": description,
                    }
                )


#: ``openapi_extra`` of the stream: ``x-server-sent-events`` says the answer is an endless
#: ``text/event-stream`` and what each of its messages holds, in the shape of OpenAPI 3.2's
#: ``itemSchema`` (this is a 3.1 document, which has no word for a sequence of items).
SERVER_SENT_EVENTS: dict[str, Any] = {
    "x-server-sent-events": {
        "contentType": "text/event-stream",
        "endless": True,
        "itemSchema": {
            "type": "object",
            "properties": {
                "id": {
                    "type": "string",
                    "description": "The event's log position: sent back as `Last-Event-ID`, "
                    "the stream resumes right after it.",
                },
                "event": {
                    "type": "string",
                    "description": "The event's type (`agreement.signed`, …), or a notice: "
                    "`position-too-old`, `position-unknown`.",
                },
                "data": {
                    "type": "string",
                    "contentMediaType": "application/json",
                    "description": "The event as `GET /v1/events` shows it (a notice: what "
                    "to do about it).",
                },
                "retry": {"type": "integer", "description": "Milliseconds to reconnect after."},
            },
        },
    }
}


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


#: Request and response examples by operation id: bodies recorded from the seed article's
#: events (tests/api/test_openapi.py checks each against its schema).
EXAMPLES = Path(__file__).parents[1] / "docs" / "examples.json"


def _examples(document: dict[str, Any]) -> None:
    examples = json.loads(EXAMPLES.read_text(encoding="utf-8"))
    for path in document["paths"].values():
        for operation in path.values():
            operation_id = operation.get("operationId")
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is not None and operation_id in examples["requests"]:
                body["examples"] = examples["requests"][operation_id]
            for status, example in examples["responses"].get(operation_id, {}).items():
                content = operation["responses"][status].get("content", {})
                for media in content.values():
                    media["example"] = example


def _audited_events(schemas: dict[str, Any]) -> None:
    """An admin reading the log sees, on each stored event, the key that appended it
    (``app.api.events``): a member the event models do not have, so it is declared here."""
    for name, schema in schemas.items():
        if name.startswith("Recorded"):
            schema["properties"]["key_id"] = {
                "anyOf": [{"type": "string"}, {"type": "null"}],
                "description": "Only when an admin key reads: the id of the API key that "
                "appended the event (null when none was recorded).",
            }


def install(app: FastAPI, settings: Settings) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            schemas.update(problem_schema())
            _corrections_by_type(schemas)
            _audited_events(schemas)
            describe(schemas)
            _examples(document)
            _conditional_headers(document["paths"])
            if settings.require_read_key:
                for path in document["paths"].values():
                    for operation in path.values():
                        if "security" in operation:
                            operation["security"] = [s for s in operation["security"] if s]
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
