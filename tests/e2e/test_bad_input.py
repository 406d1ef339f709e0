"""Bad input through a real server: every case is a clean 4xx ``application/problem+json`` with a
stable ``type``: never a 500, never a driver message or a traceback. SQL-looking strings are
stored and served back verbatim, or refused cleanly. Keys: 401, 403, and reads closed by a
setting."""

from __future__ import annotations

import copy
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from app.services.api_keys import create_key, revoke_key
from events.log.database import create_engine
from tests.e2e.conftest import Keys, Server, problem_of, start_server

ONE_MB = 1024 * 1024

SQLISH = [
    "'; DROP TABLE events; --",
    "Robert'); DROP TABLE streams;--",
    '" OR 1=1 --',
    "1; SELECT pg_sleep(10)",
    "%' OR '1'='1",
    "$$; DELETE FROM log_head; $$",
    "' UNION SELECT hash FROM api_keys --",
    "\\'; TRUNCATE events CASCADE; --",
]


def _signed(conflict: str, agreement_id: str = "cf-1", **data: Any) -> dict[str, Any]:
    return {
        "type": "agreement.signed",
        "conflict": conflict,
        "occurred_at": "2022-09-14T16:00:00Z",
        "source": {"name": "mediator"},
        "data": {"agreement_id": agreement_id, "parties": ["Armenia", "Azerbaijan"], **data},
    }


def _alleged(conflict: str, **data: Any) -> dict[str, Any]:
    return {
        "type": "violation.alleged",
        "conflict": conflict,
        "occurred_at": "2022-09-23T03:40:00Z",
        "source": {"name": "Armenian Defense Ministry"},
        "data": {"alleged_by": "Armenia", "accused": "Azerbaijan", **data},
    }


def _extended(conflict: str, expires_at: str, agreement_id: str = "cf-1") -> dict[str, Any]:
    return {
        "type": "agreement.extended",
        "conflict": conflict,
        "occurred_at": "2022-09-15T00:00:00Z",
        "source": {"name": "mediator"},
        "data": {"agreement_id": agreement_id, "expires_at": expires_at},
    }


def _ended(conflict: str, mission_id: str = "m-1") -> dict[str, Any]:
    return {
        "type": "mission.ended",
        "conflict": conflict,
        "occurred_at": "2022-09-20T00:00:00Z",
        "source": {"name": "CSTO"},
        "data": {"mission_id": mission_id},
    }


def _collapsed(conflict: str, agreement_id: str = "cf-1") -> dict[str, Any]:
    return {
        "type": "agreement.collapsed",
        "conflict": conflict,
        "occurred_at": "2022-09-20T00:00:00Z",
        "source": {"name": "a ministry"},
        "data": {"agreement_id": agreement_id},
    }


def _dispatched(conflict: str, mission_id: str = "m-1") -> dict[str, Any]:
    return {
        "type": "mission.dispatched",
        "conflict": conflict,
        "occurred_at": "2022-09-14T08:00:00Z",
        "source": {"name": "a foreign minister"},
        "data": {"mission_id": mission_id, "organization": "CSTO"},
    }


@pytest.fixture
async def writer(server: Server, keys: Keys) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=server.base_url, headers=Keys.header(keys.writer), timeout=30
    ) as http:
        yield http


@pytest.fixture
async def signed(writer: httpx.AsyncClient, conflict: str) -> str:
    """A conflict with an agreement between Armenia and Azerbaijan in effect."""
    response = await writer.post("/v1/events", json=_signed(conflict))
    assert response.status_code == 201, response.text
    return conflict


# -- the body ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"{bad",
        b'{"type": "agreement.signed",',
        b"{'type': 'agreement.signed'}",
        b'{"type": "agreement.signed"} trailing',
        b"\xff\xfe not utf-8",
        b"[" * 30_000 + b"]" * 30_000,  # nested too deep for the parser, under the size limit
    ],
    ids=["unclosed", "truncated", "single-quotes", "trailing", "not-utf8", "deep"],
)
async def test_malformed_json(writer: httpx.AsyncClient, body: bytes) -> None:
    response = await writer.post(
        "/v1/events", content=body, headers={"Content-Type": "application/json"}
    )
    problem_of(response, 400, "malformed-json")


@pytest.mark.parametrize("body", [b"[1]", b"null", b'"an event"', b"42", b"", b"{}"])
async def test_not_an_event_object(writer: httpx.AsyncClient, body: bytes) -> None:
    response = await writer.post(
        "/v1/events", content=body, headers={"Content-Type": "application/json"}
    )
    problem = problem_of(response, 422, "validation-error")
    assert problem["errors"], problem


@pytest.mark.parametrize("type_", ["violation.confirmed", "", "AGREEMENT.SIGNED", 7, None])
async def test_unknown_type(writer: httpx.AsyncClient, conflict: str, type_: Any) -> None:
    body = {**_signed(conflict), "type": type_}
    problem = problem_of(await writer.post("/v1/events", json=body), 422, "validation-error")
    assert problem["errors"][0]["loc"][:1] == ["body"]


REQUIRED = [
    ("agreement.signed", ("type",)),
    ("agreement.signed", ("conflict",)),
    ("agreement.signed", ("occurred_at",)),
    ("agreement.signed", ("source",)),
    ("agreement.signed", ("source", "name")),
    ("agreement.signed", ("data",)),
    ("agreement.signed", ("data", "agreement_id")),
    ("agreement.signed", ("data", "parties")),
    ("agreement.collapsed", ("data", "agreement_id")),
    ("violation.alleged", ("data", "alleged_by")),
    ("violation.alleged", ("data", "accused")),
    ("mission.dispatched", ("data", "mission_id")),
    ("mission.dispatched", ("data", "organization")),
]
MAKERS = {
    "agreement.signed": _signed,
    "agreement.collapsed": _collapsed,
    "violation.alleged": _alleged,
    "mission.dispatched": _dispatched,
}


@pytest.mark.parametrize(("type_", "path"), REQUIRED, ids=lambda p: ".".join(p) if p else "")
async def test_missing_field(
    writer: httpx.AsyncClient, signed: str, type_: str, path: tuple[str, ...]
) -> None:
    body = copy.deepcopy(MAKERS[type_](signed))
    parent = body
    for part in path[:-1]:
        parent = parent[part]
    del parent[path[-1]]
    problem = problem_of(await writer.post("/v1/events", json=body), 422, "validation-error")
    if path != ("type",):
        assert any(e["loc"][-1] == path[-1] and e["type"] == "missing" for e in problem["errors"])


WRONG = [
    ("incidents-string", ("data", "incidents"), "three"),
    ("incidents-zero", ("data", "incidents"), 0),
    ("incidents-fraction", ("data", "incidents"), 1.5),
    ("incidents-huge", ("data", "incidents"), 10**30),
    ("casualties-negative", ("data", "casualties_claimed"), -1),
    ("alleged-by-number", ("data", "alleged_by"), 12),
    ("alleged-by-blank", ("data", "alleged_by"), "   "),
    ("alleged-by-list", ("data", "alleged_by"), ["Armenia"]),
    ("accused-too-long", ("data", "accused"), "x" * 201),
    ("location-too-long", ("data", "location"), "x" * 10_001),
    ("description-nul", ("data", "description"), "fire\u0000fire"),
    ("agreement-id-not-slug", ("data", "agreement_id"), "Not A Slug"),
    ("data-null", ("data",), None),
    ("data-string", ("data",), "shots fired"),
    ("data-extra", ("data", "severity"), "high"),
    ("top-extra", ("severity",), "high"),
    ("id-not-uuid", ("id",), "not-a-uuid"),
    ("id-number", ("id",), 1),
    ("conflict-upper", ("conflict",), "Armenia-Azerbaijan"),
    ("conflict-too-long", ("conflict",), "a" * 65),
    ("conflict-number", ("conflict",), 5),
    ("occurred-at-words", ("occurred_at",), "yesterday"),
    ("occurred-at-naive", ("occurred_at",), "2022-09-23T03:40:00"),
    ("occurred-at-bad-month", ("occurred_at",), "2022-13-01T00:00:00Z"),
    ("occurred-at-no-utc", ("occurred_at",), "0001-01-01T00:00:00+01:00"),
    ("occurred-at-number", ("occurred_at",), 1663904400),
    ("source-string", ("source",), "a ministry"),
    ("source-url-ftp", ("source", "url"), "ftp://example.org/x"),
    ("source-url-words", ("source", "url"), "see the ministry's website"),
    ("source-name-nul", ("source", "name"), "a\u0000b"),
    ("expected-version-negative", ("expected_version",), -1),
    ("expected-version-string", ("expected_version",), "one"),
]


@pytest.mark.parametrize(("path", "value"), [w[1:] for w in WRONG], ids=[w[0] for w in WRONG])
async def test_wrong_typed_field(
    writer: httpx.AsyncClient, signed: str, path: tuple[str, ...], value: Any
) -> None:
    body = _alleged(signed)
    parent = body
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = value
    problem = problem_of(await writer.post("/v1/events", json=body), 422, "validation-error")
    assert problem["errors"], problem


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("one-party", {"parties": ["Armenia"]}),
        ("same-party-twice", {"parties": ["Armenia", "armenia"]}),
        ("parties-string", {"parties": "Armenia, Azerbaijan"}),
        ("kind-unknown", {"kind": "peace"}),
        ("effective-at-naive", {"effective_at": "2022-09-14T00:00:00"}),
        ("mediators-number", {"mediators": 3}),
    ],
)
async def test_invalid_agreement(
    writer: httpx.AsyncClient, conflict: str, name: str, data: dict[str, Any]
) -> None:
    body = _signed(conflict, **data)
    problem_of(await writer.post("/v1/events", json=body), 422, "validation-error")


def _raw_post(server: Server, key: str, head: dict[str, str], chunks: list[bytes]) -> bytes:
    """POST over a bare socket, tolerating the server closing before the body is all sent
    (which it may do once it has refused it), and return the whole answer."""
    host, port = server.base_url.removeprefix("http://").split(":")
    lines = [
        "POST /v1/events HTTP/1.1",
        f"Host: {host}:{port}",
        f"Authorization: Bearer {key}",
        "Content-Type: application/json",
        "Connection: close",
        *(f"{k}: {v}" for k, v in head.items()),
    ]
    answer = b""
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        try:
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
            for chunk in chunks:
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused early: read what was answered
        try:
            while data := sock.recv(65536):
                answer += data
        except ConnectionResetError:
            pass
    return answer


def _as_response(raw: bytes) -> httpx.Response:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode().split("\r\n")
    headers = [tuple(line.split(": ", 1)) for line in header_lines]
    return httpx.Response(int(status_line.split()[1]), headers=headers, content=body)


def test_a_1_mb_body_with_content_length_is_413(server: Server, keys: Keys) -> None:
    body = b'{"type": "violation.alleged", "data": {"description": "' + b"x" * ONE_MB + b'"}}'
    raw = _raw_post(server, keys.writer, {"Content-Length": str(len(body))}, [body])
    problem_of(_as_response(raw), 413, "body-too-large")


def test_a_1_mb_chunked_body_is_413(server: Server, keys: Keys) -> None:
    """No Content-Length: the limit counts the bytes as they arrive."""
    piece = b"x" * 16384
    chunks = [b"%x\r\n%s\r\n" % (len(piece), piece) for _ in range(ONE_MB // len(piece))]
    raw = _raw_post(server, keys.writer, {"Transfer-Encoding": "chunked"}, [*chunks, b"0\r\n\r\n"])
    problem_of(_as_response(raw), 413, "body-too-large")


async def test_a_1_mb_body_through_httpx_is_413(writer: httpx.AsyncClient, signed: str) -> None:
    """The same as an ordinary client sends it, with and without a length."""
    body = _alleged(signed, description="x" * ONE_MB)
    problem_of(await writer.post("/v1/events", json=body), 413, "body-too-large")

    async def stream() -> AsyncIterator[bytes]:
        yield b'{"type": "violation.alleged", "data": {"description": "'
        for _ in range(64):
            yield b"x" * 16384
        yield b'"}}'

    response = await writer.post(
        "/v1/events", content=stream(), headers={"Content-Type": "application/json"}
    )
    problem_of(response, 413, "body-too-large")


async def test_a_body_just_under_the_limit_is_read(writer: httpx.AsyncClient, signed: str) -> None:
    """The limit is on bytes, not on meaning: a 60 KiB body is parsed and judged on its fields
    (here: a description over 10,000 characters)."""
    body = _alleged(signed, description="x" * 60_000)
    problem_of(await writer.post("/v1/events", json=body), 422, "validation-error")


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xyz",
        "application/xml",
        "text/json",
    ],
)
async def test_wrong_content_type(
    writer: httpx.AsyncClient, signed: str, content_type: str
) -> None:
    response = await writer.post(
        "/v1/events",
        content=httpx.Request("POST", "/", json=_alleged(signed)).content,
        headers={"Content-Type": content_type},
    )
    problem_of(response, 415, "unsupported-media-type")
    assert response.headers["accept-post"] == "application/json"


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "application/cloudevents+json"]
)
async def test_json_content_types_are_accepted(
    writer: httpx.AsyncClient, signed: str, content_type: str
) -> None:
    response = await writer.post(
        "/v1/events",
        content=httpx.Request("POST", "/", json=_alleged(signed)).content,
        headers={"Content-Type": content_type},
    )
    assert response.status_code == 201, response.text


# -- the domain rules --------------------------------------------------------------------


async def test_self_accusation(writer: httpx.AsyncClient, signed: str) -> None:
    for accused in ("Armenia", "ARMENIA"):
        body = _alleged(signed, alleged_by="Armenia", accused=accused)
        problem = problem_of(await writer.post("/v1/events", json=body), 422, "validation-error")
        assert "alleged_by" in problem["errors"][0]["msg"]


@pytest.mark.parametrize(
    ("name", "setup", "body", "rule"),
    [
        (
            "accused-not-a-party",
            [],
            lambda c: _alleged(c, accused="Georgia", agreement_id="cf-1"),
            "accused-not-a-party",
        ),
        ("unknown-agreement", [], lambda c: _alleged(c, agreement_id="cf-9"), "unknown-agreement"),
        ("collapse-unknown", [], lambda c: _collapsed(c, "cf-9"), "unknown-agreement"),
        (
            "collapse-twice",
            [_collapsed],
            lambda c: _collapsed(c),
            "agreement-already-collapsed",
        ),
        ("agreement-exists", [], lambda c: _signed(c), "agreement-exists"),
        ("mission-exists", [_dispatched], lambda c: _dispatched(c), "mission-exists"),
        ("not-fixed-term", [], lambda c: _extended(c, "2022-10-01T00:00:00Z"), "not-fixed-term"),
        (
            "expires-before-effective",
            [],
            lambda c: _signed(c, "cf-2", expires_at="2022-09-14T16:00:00Z"),
            "expires-before-effective",
        ),
        (
            "extension-not-later",
            [lambda c: _signed(c, "cf-2", expires_at="2022-09-20T00:00:00Z")],
            lambda c: _extended(c, "2022-09-19T00:00:00Z", "cf-2"),
            "extension-not-later",
        ),
        ("unknown-mission", [], lambda c: _ended(c, "m-9"), "unknown-mission"),
        (
            "mission-already-ended",
            [_dispatched, _ended],
            lambda c: _ended(c),
            "mission-already-ended",
        ),
        (
            "effective-before-signed",
            [],
            lambda c: _signed(c, "cf-2", effective_at="2022-09-01T00:00:00Z"),
            "effective-before-signed",
        ),
    ],
)
async def test_domain_rules(
    writer: httpx.AsyncClient,
    signed: str,
    name: str,
    setup: list[Any],
    body: Any,
    rule: str,
) -> None:
    for make in setup:
        assert (await writer.post("/v1/events", json=make(signed))).status_code == 201
    problem = problem_of(await writer.post("/v1/events", json=body(signed)), 422, "domain-rule")
    assert problem["rule"] == rule


async def test_the_same_id_with_other_content(writer: httpx.AsyncClient, signed: str) -> None:
    event_id = str(uuid.uuid4())
    first = await writer.post("/v1/events", json={**_alleged(signed), "id": event_id})
    assert first.status_code == 201
    other = {**_alleged(signed, incidents=2), "id": event_id}
    problem = problem_of(await writer.post("/v1/events", json=other), 409, "idempotency-conflict")
    assert problem["event_id"] == event_id


async def test_a_stale_expected_version(writer: httpx.AsyncClient, signed: str) -> None:
    body = {**_alleged(signed), "expected_version": 0}
    problem = problem_of(await writer.post("/v1/events", json=body), 409, "version-conflict")
    assert (problem["expected_version"], problem["current_version"]) == (0, 1)


# -- SQL-looking strings -----------------------------------------------------------------


@pytest.mark.parametrize("text", SQLISH)
async def test_sql_looking_strings_are_stored_verbatim(
    writer: httpx.AsyncClient, conflict: str, text: str
) -> None:
    party_a, party_b = f"A {text}", f"B {text}"
    events = [
        {
            **_signed(conflict, parties=[party_a, party_b], mediators=[text], terms=text),
            "source": {"name": text, "url": f"https://example.org/{text.replace(' ', '%20')}"},
        },
        {
            **_alleged(
                conflict,
                alleged_by=party_a,
                accused=party_b,
                agreement_id="cf-1",  # it occurred after the collapse: named, it counts there
                location=text,
                description=text,
            ),
            "source": {"name": text},
        },
        {**_dispatched(conflict), "data": {"mission_id": "m-1", "organization": text}},
        {**_dispatched(conflict), "data": {"mission_id": "m-2", "organization": "O", "head": text}},
        {**_collapsed(conflict), "data": {"agreement_id": "cf-1", "reason": text}},
    ]
    for event in events:
        response = await writer.post("/v1/events", json=event)
        assert response.status_code == 201, response.text

    page = (await writer.get(f"/v1/conflicts/{conflict}/events")).json()["events"]
    assert page[0]["source"]["name"] == text
    assert page[0]["data"]["parties"] == [party_a, party_b]
    assert page[0]["data"]["terms"] == text
    assert page[1]["data"]["location"] == page[1]["data"]["description"] == text
    assert page[4]["data"]["reason"] == text

    status = (await writer.get(f"/v1/conflicts/{conflict}/status")).json()
    assert status["agreement"]["mediators"] == [text]
    assert status["allegations"][party_a]["made"] == 1
    assert {m["organization"] for m in status["missions"]} == {text, "O"}
    allegations = (await writer.get(f"/v1/conflicts/{conflict}/allegations")).json()
    (allegation,) = allegations["agreements"][0]["allegations"]
    assert allegation["description"] == text
    assert allegation["source"]["name"] == text


@pytest.mark.parametrize("text", SQLISH)
async def test_sql_looking_slugs_are_refused(
    writer: httpx.AsyncClient, signed: str, text: str
) -> None:
    for body in (
        {**_signed(signed), "conflict": text},
        _signed(signed, agreement_id=text),
        _alleged(signed, agreement_id=text),
        _dispatched(signed, mission_id=text),
        {**_alleged(signed), "id": text},
    ):
        problem_of(await writer.post("/v1/events", json=body), 422, "validation-error")


@pytest.mark.parametrize("text", SQLISH)
async def test_sql_looking_path_and_query_parameters(
    client: httpx.AsyncClient, signed: str, text: str
) -> None:
    quoted = httpx.URL(f"/v1/conflicts/{text}/status").raw_path.decode()
    for path in (
        f"/v1/conflicts/{text}/status",
        f"/v1/conflicts/{text}/allegations",
        f"/v1/conflicts/{text}/events",
    ):
        response = await client.get(path)
        if response.status_code == 404:  # a "/" in the text leaves no route: a plain 404
            problem_of(response, 404, "not-found")
        else:
            problem_of(response, 422, "validation-error")
    assert quoted  # the client sent it percent-encoded, as any client would
    for params in (
        {"as_of": text},
        {"known_at": text},
        {"as_of": f"2022-09-24T00:00:00Z{text}"},
    ):
        response = await client.get(f"/v1/conflicts/{signed}/status", params=params)
        problem_of(response, 422, "validation-error")
    for params in ({"after": text}, {"limit": text}, {"after": f"1{text}"}):
        problem_of(await client.get("/v1/events", params=params), 422, "validation-error")
        response = await client.get(f"/v1/conflicts/{signed}/events", params=params)
        problem_of(response, 422, "validation-error")


async def test_sql_looking_keys(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        for text in SQLISH:
            response = await http.post(
                "/v1/events", json={}, headers={"Authorization": f"Bearer {text}"}
            )
            problem_of(response, 401, "unauthorized")


# -- unknown conflicts, bad times, bad pages, bad methods --------------------------------


@pytest.mark.parametrize("route", ["status", "allegations", "events"])
async def test_unknown_conflict(client: httpx.AsyncClient, route: str) -> None:
    missing = f"missing-{uuid.uuid4().hex[:8]}"
    for params in ({}, {"as_of": "2022-09-24T00:00:00Z"} if route != "events" else {"after": 5}):
        response = await client.get(f"/v1/conflicts/{missing}/{route}", params=params)
        problem = problem_of(response, 404, "unknown-conflict")
        assert problem["conflict"] == missing


@pytest.mark.parametrize(
    "value",
    [
        "yesterday",
        "",
        "2022-09-24T00:00:00",  # no offset
        "2022-09-24",  # a date is not an instant
        "2022-13-01T00:00:00Z",
        "2022-09-31T00:00:00Z",
        "2022-09-24T25:00:00Z",
        "0001-01-01T00:00:00+01:00",  # no UTC spelling
        "0001-01-01T00:00:00Z",  # asyncpg would send -infinity
        "9999-12-31T23:59:59.999999Z",  # and infinity
        "9999-12-31T23:59:59-01:00",
        "99999-01-01T00:00:00Z",
        "2022-09-24T00:00:00+25:00",
        "1663977600",
        "2022-09-24T00:00:00Z\u0000",
    ],
)
@pytest.mark.parametrize("name", ["as_of", "known_at"])
@pytest.mark.parametrize("route", ["status", "allegations"])
async def test_bad_times(
    client: httpx.AsyncClient, signed: str, route: str, name: str, value: str
) -> None:
    response = await client.get(f"/v1/conflicts/{signed}/{route}", params={name: value})
    problem = problem_of(response, 422, "validation-error")
    assert problem["errors"][0]["loc"] == ["query", name]


@pytest.mark.parametrize("as_of", ["0001-01-01T00:00:01Z", "9999-12-31T23:59:59Z"])
async def test_the_ends_of_time_are_answered(
    writer: httpx.AsyncClient, conflict: str, as_of: str
) -> None:
    """Instants near the ends of what a datetime holds are answered alike on both databases:
    stored with four-digit years, compared exactly, never overflowed by the contested window."""
    early = {**_signed(conflict), "occurred_at": "0001-01-01T00:00:01Z"}
    assert (await writer.post("/v1/events", json=early)).status_code == 201
    alleged = {**_alleged(conflict), "occurred_at": "0001-01-01T00:00:01Z"}
    assert (await writer.post("/v1/events", json=alleged)).status_code == 201
    for route in ("status", "allegations"):
        response = await writer.get(f"/v1/conflicts/{conflict}/{route}", params={"as_of": as_of})
        assert response.status_code == 200, response.text
    status = await writer.get(f"/v1/conflicts/{conflict}/status", params={"as_of": as_of})
    assert status.json()["state"] == ("contested" if as_of.startswith("0001") else "holding")


@pytest.mark.parametrize(
    "value",
    [
        "0001-01-01T00:00+14:00",  # no UTC spelling: an OverflowError, once a 500
        "0001-01-01T00:00:00+00:01",
        "9999-12-31T23:59:59-01:00",
        "9999-12-31T23:59:59.999999",  # no offset: UTC, the last instant a datetime holds
        "0001-01-01T00:00:00",
        "99999-01-01T00:00:00",
        "2022-09-24T00:00:00+25:00",
        "yesterday",
    ],
)
@pytest.mark.parametrize("name", ["as_of", "known_at"])
async def test_the_page_refuses_times_out_of_range(
    client: httpx.AsyncClient, signed: str, name: str, value: str
) -> None:
    problem = problem_of(await client.get("/", params={name: value}), 422, "validation-error")
    assert problem["detail"].startswith(f"{name} must be a date and time"), problem


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:01Z", "9999-12-31T23:59:58Z"])
async def test_the_page_answers_at_the_ends_of_time(
    writer: httpx.AsyncClient, conflict: str, moment: str
) -> None:
    early = {**_signed(conflict), "occurred_at": "0001-01-01T00:00:01Z"}
    assert (await writer.post("/v1/events", json=early)).status_code == 201
    for name in ("as_of", "known_at"):
        response = await writer.get("/", params={name: moment})
        assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 1001},
        {"limit": -1},
        {"limit": "ten"},
        {"limit": 1.5},
        {"after": -1},
        {"after": 2**53},
        {"after": 10**30},
        {"after": "x"},
        {"after": ""},
    ],
    ids=str,
)
@pytest.mark.parametrize("feed", ["global", "conflict"])
async def test_bad_pages(
    client: httpx.AsyncClient, signed: str, feed: str, params: dict[str, Any]
) -> None:
    path = "/v1/events" if feed == "global" else f"/v1/conflicts/{signed}/events"
    problem_of(await client.get(path, params=params), 422, "validation-error")


async def test_the_largest_position_is_a_valid_after(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/events", params={"after": 2**53 - 1, "limit": 1000})
    assert response.status_code == 200
    assert response.json() == {"events": [], "next_after": 2**53 - 1, "has_more": False}


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/v1/events", "GET, POST"),
        ("DELETE", "/v1/events", "GET, POST"),
        ("PATCH", "/v1/events", "GET, POST"),
        ("POST", "/v1/conflicts", "GET"),
        ("DELETE", "/v1/conflicts/x/status", "GET"),
        ("POST", "/v1/conflicts/x/allegations", "GET"),
        ("PUT", "/v1/conflicts/x/events", "GET"),
        ("POST", "/healthz", "GET"),
    ],
)
async def test_unsupported_methods(
    writer: httpx.AsyncClient, method: str, path: str, allowed: str
) -> None:
    response = await writer.request(method, path, json={})
    problem_of(response, 405, "method-not-allowed")
    assert set(response.headers["allow"].split(", ")) == set(allowed.split(", "))


@pytest.mark.parametrize("path", ["/v2/events", "/v1/conflict", "/v1/conflicts/x/y/status"])
async def test_unknown_routes(client: httpx.AsyncClient, path: str) -> None:
    problem_of(await client.get(path), 404, "not-found")


# -- keys --------------------------------------------------------------------------------


async def _revoked_key(database_url: str) -> str:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            key, secret = await create_key(conn, name="to revoke", role="admin")
            assert await revoke_key(conn, key.id)
    finally:
        await engine.dispose()
    return secret


@pytest.fixture(scope="session")
async def revoked_key(database_url: str) -> str:
    return await _revoked_key(database_url)


@pytest.mark.parametrize(
    ("authorization", "challenge"),
    [
        (None, "Bearer"),
        ("Bearer cfk_not-a-key", 'Bearer error="invalid_token"'),
        ("Bearer", "Bearer"),
        ("Basic d3JpdGVyOnNlY3JldA==", "Bearer"),
        ("cfk_no-scheme", "Bearer"),
    ],
)
async def test_a_write_without_a_valid_key_is_401(
    server: Server, signed: str, authorization: str | None, challenge: str
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        response = await http.post("/v1/events", json=_alleged(signed), headers=headers)
    problem_of(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == challenge


async def test_a_revoked_key_is_401(server: Server, signed: str, revoked_key: str) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        response = await http.post(
            "/v1/events", json=_alleged(signed), headers=Keys.header(revoked_key)
        )
    problem_of(response, 401, "unauthorized")
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_a_reader_key_cannot_write(server: Server, keys: Keys, signed: str) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        response = await http.post(
            "/v1/events", json=_alleged(signed), headers=Keys.header(keys.reader)
        )
        problem_of(response, 403, "forbidden")
        response = await http.post(
            "/v1/events", json=_alleged(signed), headers=Keys.header(keys.admin)
        )
        assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"type": "x"}', "application/json"),
        (b"a=b", "application/x-www-form-urlencoded"),
        (b"a=b", None),
    ],
)
async def test_a_401_comes_before_a_bad_body(
    server: Server, content: bytes, content_type: str | None
) -> None:
    """Without a key, nothing about the body is judged. (Only JSON the server cannot parse is
    a 400 before the key is looked at: FastAPI parses the body before any dependency runs.)"""
    headers = {} if content_type is None else {"Content-Type": content_type}
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        response = await http.post("/v1/events", content=content, headers=headers)
    problem_of(response, 401, "unauthorized")


async def test_reads_are_open_by_default(client: httpx.AsyncClient, signed: str) -> None:
    for path in (
        "/v1/conflicts",
        "/v1/events",
        f"/v1/conflicts/{signed}/status",
        f"/v1/conflicts/{signed}/allegations",
        f"/v1/conflicts/{signed}/events",
    ):
        assert (await client.get(path)).status_code == 200, path


@pytest.fixture(scope="module")
def closed_server(database_url: str) -> Iterator[Server]:
    """A second server on the same database, with reads closed."""
    with start_server(database_url, require_read_key="true") as running:
        yield running


async def test_reads_need_a_key_when_the_setting_says_so(
    closed_server: Server, keys: Keys, signed: str, revoked_key: str
) -> None:
    paths = (
        "/v1/conflicts",
        "/v1/events",
        f"/v1/conflicts/{signed}/status",
        f"/v1/conflicts/{signed}/allegations",
        f"/v1/conflicts/{signed}/events",
    )
    async with httpx.AsyncClient(base_url=closed_server.base_url) as http:
        for path in paths:
            response = await http.get(path)
            problem_of(response, 401, "unauthorized")
            assert response.headers["www-authenticate"] == "Bearer"
            response = await http.get(path, headers=Keys.header("cfk_unknown"))
            problem_of(response, 401, "unauthorized")
            response = await http.get(path, headers=Keys.header(revoked_key))
            problem_of(response, 401, "unauthorized")
            for key in (keys.reader, keys.writer, keys.admin):
                response = await http.get(path, headers=Keys.header(key))
                assert response.status_code == 200, (path, response.text)
        # The process answers whatever the setting: liveness is not a read of the data.
        assert (await http.get("/healthz")).status_code == 200


# -- the server's own account ------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def log_start(server: Server) -> int:
    """Where the shared server's log stood when this module began."""
    return len(server.log())


def test_nothing_above_was_an_unhandled_error(server: Server, log_start: int) -> None:
    """What the server logged during this module holds no traceback: every bad input above was
    refused, not crashed on. (It runs last in the module.)"""
    log = server.log()[log_start:]
    for sign in ("Traceback", "unhandled error", "Exception in ASGI application"):
        assert sign not in log, log[-5000:]
