"""The OpenAPI document at ``/openapi.json``: FastAPI's, finished in the few ways FastAPI
cannot say from the routes alone.

- The ``Problem`` schema in the components: routes declare their problems as
  ``application/problem+json`` (``app.problems.problem_responses``), which FastAPI would
  otherwise file under ``application/json``.
- Reads are declared with optional auth (``OPEN_READ``); with ``CEASEFIRE_REQUIRE_READ_KEY``
  the document says they need a key, as the server then does.

The document is checked against the OpenAPI specification in ``tests/api/test_openapi.py``
and fuzzed against a real server in ``tests/e2e/test_schemathesis.py``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from app.problems import problem_schema
from app.settings import Settings

__all__ = ["OPEN_READ", "install"]

#: ``openapi_extra`` of a read: FastAPI lists the bearer scheme from the key dependency, and
#: this adds the empty requirement beside it, which is OpenAPI's way to say "optional".
OPEN_READ: dict[str, Any] = {"security": [{}]}


def install(app: FastAPI, settings: Settings) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            document.setdefault("components", {}).setdefault("schemas", {}).update(problem_schema())
            if settings.require_read_key:
                for path in document["paths"].values():
                    for operation in path.values():
                        if "security" in operation:
                            operation["security"] = [s for s in operation["security"] if s]
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
