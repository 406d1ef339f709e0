"""The OpenAPI document describes every header and status code of polling and streaming."""

from __future__ import annotations

from typing import Any

import pytest

from app.main import create_fastapi
from app.settings import Settings

CONDITIONAL = [
    "/v1/conflicts",
    "/v1/conflicts/{conflict}/status",
    "/v1/conflicts/{conflict}/allegations",
    "/v1/conflicts/{conflict}/timeline",
    "/v1/events",
    "/v1/conflicts/{conflict}/events",
]


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    app = create_fastapi(Settings(database_url="sqlite+aiosqlite:///unused.db"))
    openapi: dict[str, Any] = app.openapi()
    return openapi


def headers_in(operation: dict[str, Any]) -> set[str]:
    return {p["name"] for p in operation["parameters"] if p["in"] == "header"}


@pytest.mark.parametrize("path", CONDITIONAL)
def test_conditional_reads_document_their_headers_and_the_304(
    document: dict[str, Any], path: str
) -> None:
    operation = document["paths"][path]["get"]
    assert {"If-None-Match", "Prefer"} <= headers_in(operation)
    ok, not_modified = operation["responses"]["200"], operation["responses"]["304"]
    for response in (ok, not_modified):
        assert {"ETag", "Cache-Control", "Preference-Applied"} <= set(response["headers"])
    assert "content" not in not_modified
    assert "application/json" in ok["content"]


def test_the_status_documents_both_clocks(document: dict[str, Any]) -> None:
    operation = document["paths"]["/v1/conflicts/{conflict}/status"]["get"]
    queries = {p["name"] for p in operation["parameters"] if p["in"] == "query"}
    assert {"as_of", "known_at"} <= queries
    assert "404" in operation["responses"]
    timeline = document["paths"]["/v1/conflicts/{conflict}/timeline"]["get"]
    assert timeline["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/TimelineView"
    }


def test_the_stream_documents_its_media_type_resume_header_and_problems(
    document: dict[str, Any],
) -> None:
    operation = document["paths"]["/v1/stream"]["get"]
    assert headers_in(operation) == {"Last-Event-ID"}
    queries = {p["name"] for p in operation["parameters"] if p["in"] == "query"}
    assert queries == {"conflict", "types", "after"}
    responses = operation["responses"]
    assert set(responses["200"]["content"]) == {"text/event-stream"}
    assert "Cache-Control" in responses["200"]["headers"]
    assert "position-too-old" in responses["200"]["description"]
    for code in ("400", "422"):
        assert set(responses[code]["content"]) == {"application/problem+json"}


def test_the_new_event_types_can_be_posted(document: dict[str, Any]) -> None:
    body = document["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]
    mapping = body["schema"]["discriminator"]["mapping"]
    assert {"allegation.retracted", "event.corrected"} <= set(mapping)


def test_the_ceasefire_model_is_documented(document: dict[str, Any]) -> None:
    """Issue 8: the new events can be posted; every view takes both clocks; the status says
    since when, with every agreement's state, scope and end."""
    body = document["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]
    mapping = body["schema"]["discriminator"]["mapping"]
    assert {
        "ceasefire.declared",
        "agreement.extended",
        "allegation.denied",
        "mission.ended",
    } <= set(mapping)
    for path in (
        "/v1/conflicts",
        "/v1/conflicts/{conflict}/status",
        "/v1/conflicts/{conflict}/allegations",
        "/v1/conflicts/{conflict}/timeline",
    ):
        names = {p["name"] for p in document["paths"][path]["get"]["parameters"]}
        assert {"as_of", "known_at"} <= names, path
    schemas = document["components"]["schemas"]
    assert {"since", "agreements", "agreement"} <= set(schemas["StatusView"]["properties"])
    agreement = schemas["AgreementView"]["properties"]
    assert {"expires_at", "scope", "unilateral", "declared_by", "state"} <= set(agreement)
    assert "outside_agreements" in schemas["AllegationsView"]["properties"]
    assert {"role", "denied", "retracted"} <= set(schemas["AllegationView"]["properties"])
