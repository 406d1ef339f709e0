"""The OpenAPI document: valid, fully described, with examples that fit their schemas, problems
declared as the server sends them, and reads declared open; the docs pages it feeds served
offline; every problem type the code can answer explained at its URI."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator

from app.docs import problem_types
from app.main import create_app, create_fastapi
from app.settings import Settings
from events.model.types import EVENT_TYPES, event_adapter

APP = Path(__file__).parents[2] / "app"
SETTINGS = Settings(database_url="sqlite+aiosqlite:///unused.db")


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    openapi: dict[str, Any] = create_fastapi(SETTINGS).openapi()
    return openapi


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_the_document_is_valid_openapi(document: dict[str, Any]) -> None:
    errors = [
        f"{list(e.path)}: {e.message[:200]}"
        for e in OpenAPIV31SpecValidator(document).iter_errors()
    ]
    assert errors == []


def test_every_operation_schema_field_and_parameter_is_described(
    document: dict[str, Any],
) -> None:
    missing = []
    for path, method, operation in operations(document):
        for key in ("summary", "description"):
            if not operation.get(key):
                missing.append(f"{method.upper()} {path}: {key}")
        for parameter in operation.get("parameters", []):
            if not parameter.get("description"):
                missing.append(f"{method.upper()} {path}: parameter {parameter['name']}")
    for name, schema in document["components"]["schemas"].items():
        if not schema.get("description"):
            missing.append(f"schema {name}")
        for variant in [schema, *schema.get("oneOf", [])]:
            for field, prop in variant.get("properties", {}).items():
                if not prop.get("description"):
                    missing.append(f"schema {name}: field {field}")
    assert missing == []
    counted = sum(len(s.get("properties", {})) for s in document["components"]["schemas"].values())
    assert counted > 200  # the check above looked at the fields, not at nothing


def test_health_operations_have_names_for_people(document: dict[str, Any]) -> None:
    for path in ("/healthz", "/readyz"):
        operation = document["paths"][path]["get"]
        assert operation["summary"] not in ("Healthz", "Readyz")
        assert operation["operationId"] in ("get_liveness", "get_readiness")


def _validator(document: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator({**schema, "components": document["components"]})


def test_every_request_body_and_2xx_response_has_an_example_that_fits(
    document: dict[str, Any],
) -> None:
    missing, unfit, seen = [], [], 0
    for path, method, operation in operations(document):
        where = f"{method.upper()} {path}"
        for media_type, media in operation.get("requestBody", {}).get("content", {}).items():
            examples = [e["value"] for e in media.get("examples", {}).values()]
            if not examples:
                missing.append(f"{where}: request {media_type}")
            for example in examples:
                seen += 1
                unfit += [
                    f"{where} request: {error.message[:200]}"
                    for error in _validator(document, media["schema"]).iter_errors(example)
                ]
        for status, response in operation["responses"].items():
            if not status.startswith("2"):
                continue
            for media_type, media in response.get("content", {}).items():
                if "example" not in media:
                    missing.append(f"{where}: {status} {media_type}")
                    continue
                seen += 1
                if media_type.endswith("json"):
                    unfit += [
                        f"{where} {status}: {error.message[:200]}"
                        for error in _validator(document, media["schema"]).iter_errors(
                            media["example"]
                        )
                    ]
    assert missing == []
    assert unfit == []
    assert seen > 30


def test_the_append_examples_are_one_per_event_type_and_events_the_server_takes(
    document: dict[str, Any],
) -> None:
    body = document["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]
    values = [example["value"] for example in body["examples"].values()]
    assert sorted(v["type"] for v in values) == sorted(EVENT_TYPES)
    for value in values:
        event_adapter.validate_python({k: v for k, v in value.items() if k != "expected_version"})


def test_problems_are_declared_as_problem_json_with_their_schema(
    document: dict[str, Any],
) -> None:
    wrong = []
    for path, method, operation in operations(document):
        for status, response in operation["responses"].items():
            if (
                status.startswith(("4", "5"))
                and path != "/readyz"
                and response.get("content")
                != {
                    "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
                }
            ):
                wrong.append(f"{method.upper()} {path} {status}")
    assert wrong == []


def test_reads_are_open_and_writes_need_a_key(document: dict[str, Any]) -> None:
    for path, method, operation in operations(document):
        security = operation.get("security")
        if path in ("/healthz", "/readyz"):
            assert security is None
        elif method == "get" and not path.startswith(("/v1/webhooks", "/v1/admin")):
            assert security == [{"HTTPBearer": []}, {}], path
        else:
            assert security == [{"HTTPBearer": []}], (method, path)


def test_with_read_keys_required_reads_say_so() -> None:
    settings = Settings(database_url=SETTINGS.database_url, require_read_key=True)
    document = create_fastapi(settings).openapi()
    assert document["paths"]["/v1/conflicts/{conflict}/status"]["get"]["security"] == [
        {"HTTPBearer": []}
    ]


#: Where a problem's type is chosen: ProblemError(status, "name", …), problem_response(…,
#: status, "name", …), the framework's own (``_http``) and the stream's in-band ones.
_RAISED = re.compile(
    r'(?:ProblemError|problem_response)\(\s*(?:request,\s*)?(?:\d+|[a-z_.]+),\s*"([a-z-]+)"'
)
_LITERAL = re.compile(r'"/problems/([a-z-]+)"|"([a-z-]+)"\)\.get\(exc')


def problem_names_in_code() -> set[str]:
    names: set[str] = {"not-found", "method-not-allowed", "http-error", "body-too-large"}
    for source in APP.rglob("*.py"):
        text = source.read_text(encoding="utf-8")
        names.update(_RAISED.findall(text))
        names.update(a or b for a, b in _LITERAL.findall(text))
    return names


def test_every_problem_type_the_code_answers_is_in_the_catalogue() -> None:
    names = problem_names_in_code()
    assert len(names) > 20
    assert names - set(problem_types()) == set()


async def test_problem_types_resolve_and_docs_load_nothing_from_elsewhere() -> None:
    app = create_app(SETTINGS)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        for name in problem_types():
            page = await client.get(f"/problems/{name}")
            assert page.status_code == 200, name
            assert f"/problems/{name}" in page.text
        assert (await client.get("/problems")).status_code == 200
        unknown = await client.get("/problems/no-such-problem")
        assert unknown.status_code == 404
        assert unknown.json()["type"] == "/problems/not-found"
        for page_path in ("/docs", "/redoc"):
            page = await client.get(page_path)
            assert page.status_code == 200
            sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
            assert sources and all(s.startswith("/docs/assets/") for s in sources), sources
            assert "http" not in page.text.replace("http-equiv", "")
            for source in sources:
                assert (await client.get(source)).status_code == 200, source


@pytest.mark.parametrize(
    ("path", "media_type"),
    [
        ("/v1/conflicts/{conflict}/badge.svg", "image/svg+xml"),
        ("/v1/conflicts/{conflict}/feed.atom", "application/atom+xml"),
    ],
)
def test_the_badge_and_the_feed_declare_their_bodies(
    document: dict[str, Any], path: str, media_type: str
) -> None:
    """Strings of their media type: what a generator needs to keep them (docs/client.md)."""
    content = document["paths"][path]["get"]["responses"]["200"]["content"]
    assert list(content) == [media_type]
    assert content[media_type]["schema"] == {"type": "string", "contentMediaType": media_type}


def test_the_stream_is_marked_for_sse_clients(document: dict[str, Any]) -> None:
    """A generated client that waits for the whole body never returns: the operation says so,
    and names what each message holds."""
    operation = document["paths"]["/v1/stream"]["get"]
    marked = operation["x-server-sent-events"]
    assert marked["contentType"] == "text/event-stream" and marked["endless"] is True
    assert set(marked["itemSchema"]["properties"]) == {"id", "event", "data", "retry"}
    ok = operation["responses"]["200"]
    assert list(ok["content"]) == ["text/event-stream"]
    assert "It never ends: read it with an SSE client" in ok["description"]
    Draft202012Validator.check_schema(marked["itemSchema"])
