"""The server accepts exactly what the OpenAPI schemas say, on a real server: JSON integers
and booleans only (no numbers in strings, no integral floats, no booleans for numbers), a
``type`` on every event, distinct parties, names without white space at their ends, no NUL,
``null`` in a webhook change only where it means something; and a clear problem for an empty
body or a missing ``type``."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Keys, Server, problem_of


@pytest.fixture
async def writer(server: Server, keys: Keys) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=server.base_url, headers=Keys.header(keys.admin), timeout=30
    ) as client:
        yield client


def signed(conflict: str, **data: Any) -> dict[str, Any]:
    return {
        "type": "agreement.signed",
        "conflict": conflict,
        "occurred_at": "2022-09-14T20:00:00+04:00",
        "source": {"name": "Security Council of Armenia"},
        "data": {"agreement_id": "cf-1", "parties": ["Armenia", "Azerbaijan"], **data},
    }


def alleged(conflict: str, **data: Any) -> dict[str, Any]:
    return {
        "type": "violation.alleged",
        "conflict": conflict,
        "occurred_at": "2022-09-22T18:00:00+04:00",
        "source": {"name": "Azerbaijan Defense Ministry"},
        "data": {"alleged_by": "Azerbaijan", "accused": "Armenia", **data},
    }


def errors_at(response: httpx.Response) -> list[list[str]]:
    body = problem_of(response, 422, "validation-error")
    return [error["loc"] for error in body["errors"]]


@pytest.mark.parametrize("value", [False, True, "0", 0.0, "1"], ids=repr)
async def test_expected_version_must_be_a_json_integer(
    writer: httpx.AsyncClient, conflict: str, value: Any
) -> None:
    response = await writer.post("/v1/events", json={**signed(conflict), "expected_version": value})
    assert ["body", "agreement.signed", "expected_version"] in errors_at(response)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("incidents", "3"),
        ("incidents", 2.0),
        ("incidents", True),
        ("casualties_claimed", {"low": "1", "best": 2, "high": 3}),
        ("casualties_claimed", {"low": 1, "best": 2.0, "high": 3}),
    ],
    ids=repr,
)
async def test_counts_must_be_json_integers(
    writer: httpx.AsyncClient, conflict: str, field: str, value: Any
) -> None:
    assert (await writer.post("/v1/events", json=signed(conflict))).status_code == 201
    response = await writer.post("/v1/events", json=alleged(conflict, **{field: value}))
    assert errors_at(response)
    assert (await writer.post("/v1/events", json=alleged(conflict, incidents=3))).status_code == 201


async def test_an_event_without_type_is_refused_with_the_reason(
    writer: httpx.AsyncClient, conflict: str
) -> None:
    body = signed(conflict)
    del body["type"]
    response = await writer.post("/v1/events", json=body)
    problem = problem_of(response, 422, "validation-error")
    assert problem["errors"] == [
        {
            "loc": ["body", "type"],
            "msg": "`type` is required: it says which kind of object this is",
            "type": "missing",
        }
    ]


async def test_an_empty_body_is_told_a_body_is_needed(writer: httpx.AsyncClient) -> None:
    for headers in ({"Content-Type": "application/json"}, {}):
        response = await writer.post("/v1/events", content=b"", headers=headers)
        problem = problem_of(response, 422, "validation-error")
        assert problem["errors"] == [
            {"loc": ["body"], "msg": "a JSON body is required", "type": "missing"}
        ]
        assert "discriminator" not in response.text


@pytest.mark.parametrize(
    "parties",
    [["Armenia", "Armenia"], ["Armenia", "armenia"], [" Armenia", "Azerbaijan"]],
    ids=repr,
)
async def test_parties_are_distinct_names_without_white_space_at_their_ends(
    writer: httpx.AsyncClient, conflict: str, parties: list[str]
) -> None:
    response = await writer.post("/v1/events", json=signed(conflict, parties=parties))
    problem_of(response, 422, "validation-error")


async def test_nul_is_refused_in_event_text_and_webhook_descriptions(
    writer: httpx.AsyncClient, conflict: str
) -> None:
    response = await writer.post("/v1/events", json=signed(conflict, terms="a\x00b"))
    problem_of(response, 422, "validation-error")
    response = await writer.post(
        "/v1/webhooks", json={"url": "https://example.org/hook", "description": "a\x00b"}
    )
    assert {tuple(loc[:2]) for loc in errors_at(response)} == {("body", "description")}


async def test_a_webhook_change_takes_null_only_where_it_means_something(
    writer: httpx.AsyncClient,
) -> None:
    # An address, not a name: the shared server refuses it as private (422 unsafe-webhook-url)
    # before anything is stored, so look for the null checks on an id that does not exist.
    missing = uuid.uuid4()
    for field in ("url", "event_types", "enabled"):
        response = await writer.patch(f"/v1/webhooks/{missing}", json={field: None})
        assert errors_at(response) == [["body", field]], field
    response = await writer.patch(f"/v1/webhooks/{missing}", json={"enabled": "true"})
    assert {tuple(loc[:2]) for loc in errors_at(response)} == {("body", "enabled")}
    for field in ("conflicts", "description"):
        response = await writer.patch(f"/v1/webhooks/{missing}", json={field: None})
        problem_of(response, 404, "unknown-webhook")
