"""RFC 9457 problem details: every error the API returns, mapped in one place.

Each problem has a stable ``type`` URI (relative, resolved against the API's base) that a
client can switch on; ``app/docs/problems.md`` lists them and ``/problems/<name>`` serves each
(``app.docs``). Nothing here ever echoes a driver message or a stack trace: unexpected
exceptions become a bare ``internal-error`` and are logged.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from app.http.links import slash_redirect
from events.model.errors import (
    ConcurrencyError,
    DomainRuleError,
    DuplicateEventError,
    PositionNotReachedError,
    ProjectionJobRunningError,
    StorageUnavailableError,
    UnknownActorError,
    UnknownConflictError,
)

__all__ = [
    "PROBLEM_JSON",
    "AnsweredErrors",
    "FieldError",
    "Problem",
    "ProblemError",
    "install",
    "problem_response",
    "problem_responses",
    "problem_schema",
]

# Set in the request's scope once the catch-all handler has answered an unexpected error.
_ANSWERED = "ceasefire.error_answered"

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("ceasefire.api")

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    408: "Request Timeout",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class FieldError(BaseModel):
    """One reason a request does not fit the schema."""

    loc: list[str] = Field(
        description='Where: `["body", "violation.alleged", "data", "incidents"]`, '
        '`["query", "as_of"]`.'
    )
    msg: str = Field(description="What is wrong, for people.")
    type: str = Field(description="The kind of error, for programs (`missing`, `int_type`…).")


class Problem(BaseModel):
    """An RFC 9457 problem. Extension members (``rule``, ``errors``, ``current_version``…)
    appear beside the standard ones; ``/problems/{type}`` explains each type."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": "/problems/version-conflict",
                    "title": "Conflict",
                    "status": 409,
                    "detail": "conflict 'armenia-azerbaijan' is at version 7, not the expected 6",
                    "instance": "/v1/events",
                    "conflict": "armenia-azerbaijan",
                    "expected_version": 6,
                    "current_version": 7,
                }
            ]
        },
    )
    type: str = Field(
        description="Stable: switch on it. A relative URI (`/problems/<name>`) whose page "
        "explains the problem."
    )
    title: str = Field(description="The HTTP status phrase.")
    status: int = Field(description="The HTTP status code.")
    detail: str | None = Field(
        default=None, description="What went wrong, for people; its wording may change."
    )
    instance: str | None = Field(default=None, description="The request's path.")
    errors: list[FieldError] | None = Field(
        default=None, description="`/problems/validation-error` only: each reason."
    )
    rule: str | None = Field(
        default=None,
        description="`/problems/domain-rule` and `/problems/unknown-actor` only: the rule the "
        "event breaks.",
    )
    did_you_mean: list[str] | None = Field(
        default=None,
        description="`/problems/unknown-actor` only: the conflict's actors whose names are "
        "closest to `name` (none when nothing is close).",
    )


#: What each status means on any route, as the OpenAPI document tells it.
_MEANINGS = {
    400: "The body is not JSON the server can read (`/problems/malformed-json`).",
    401: "No key where one is needed, or an unknown or revoked key (`/problems/unauthorized`).",
    403: "The key's role is too low for this route (`/problems/forbidden`).",
    404: "Not found (`/problems/not-found`).",
    409: "Conflict with the stored state.",
    413: "The body is over CEASEFIRE_MAX_BODY_BYTES (`/problems/body-too-large`).",
    415: "The body is not `application/json` (`/problems/unsupported-media-type`).",
    422: "The request does not fit the schema (`/problems/validation-error`).",
    429: "This client already has as many expensive reads, streams or long-polls at once as "
    "one client may (`/problems/too-many-requests`); retry after `Retry-After` seconds.",
    503: "The database cannot be reached (`/problems/storage-unavailable`); retry after "
    "`Retry-After` seconds.",
}
_PROBLEM_CONTENT = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}


def problem_responses(
    *statuses: int, specific: dict[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` entries of the problems a route can answer with, declared as
    ``application/problem+json`` with the ``Problem`` schema: ``statuses`` with their general
    meaning, ``specific`` with the route's own words."""
    meanings = {status: _MEANINGS[status] for status in statuses} | (specific or {})
    return {
        status: {"description": meaning, "content": _PROBLEM_CONTENT}
        for status, meaning in sorted(meanings.items())
    }


def problem_schema() -> dict[str, dict[str, Any]]:
    """The ``Problem`` schema and those it refers to, for the OpenAPI document's components."""
    schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    defs: dict[str, dict[str, Any]] = schema.pop("$defs", {})
    return {**defs, "Problem": schema}


class ProblemError(Exception):
    """Raise from a route to answer with a problem."""

    def __init__(
        self,
        status: int,
        slug: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.detail = detail
        self.headers = headers
        self.extensions = extensions


def problem_response(
    request: Request | None,
    status: int,
    slug: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"/problems/{slug}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if request is not None:
        body["instance"] = request.url.path
    body.update(extensions)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    errors = []
    for error in exc.errors():
        loc = [str(part) for part in error.get("loc", ())]
        msg, kind = str(error.get("msg", "")), str(error.get("type", ""))
        if kind == "missing" and loc == ["body"]:
            msg = "a JSON body is required"
        elif kind == "union_tag_not_found":  # pydantic: "Unable to extract tag using …"
            discriminator = str(error.get("ctx", {}).get("discriminator", "")).strip("'")
            loc, kind = [*loc, discriminator], "missing"
            msg = f"`{discriminator}` is required: it says which kind of object this is"
        elif kind == "union_tag_invalid":
            ctx = error.get("ctx", {})
            discriminator = str(ctx.get("discriminator", "")).strip("'")
            loc = [*loc, discriminator]
            msg = f"`{discriminator}` must be one of {ctx.get('expected_tags', '')}"
        errors.append({"loc": loc, "msg": msg, "type": kind})
    return errors


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route answers at this path. Starlette's own ``Allow`` names only the
    methods of the first route whose path matched (``/v1/events`` has a GET and a POST)."""
    routes = request.app.router.routes
    return [
        method
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE")
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes
        )
    ]


#: The errors of the domain and the store (``events.model.errors``) as problems: each one's
#: status, type and the members it adds (in the order shown); its message is the detail.
#: Starlette picks an error's handler by its class's MRO, so ``UnknownActorError`` gets its
#: own row before ``DomainRuleError``, of which it is one.
_STORE_PROBLEMS: dict[type[Exception], tuple[int, str, Callable[[Any], dict[str, Any]]]] = {
    ConcurrencyError: (
        409,
        "version-conflict",
        lambda e: {
            "conflict": e.conflict,
            "expected_version": e.expected,
            "current_version": e.actual,
        },
    ),
    DuplicateEventError: (409, "idempotency-conflict", lambda e: {"event_id": e.event_id}),
    ProjectionJobRunningError: (409, "job-running", lambda e: {"job_id": e.job_id}),
    PositionNotReachedError: (
        409,
        "position-not-reached",
        lambda e: {"min_position": e.position, "log_position": e.head},
    ),
    UnknownActorError: (
        422,
        "unknown-actor",
        lambda e: {"rule": e.rule, "name": e.name, "did_you_mean": e.closest},
    ),
    DomainRuleError: (422, "domain-rule", lambda e: {"rule": e.rule}),
    UnknownConflictError: (404, "unknown-conflict", lambda e: {"conflict": e.conflict}),
}


def _store_problem(
    status: int, slug: str, members: Callable[[Any], dict[str, Any]]
) -> Callable[[Request, Exception], Awaitable[Response]]:
    async def handler(request: Request, exc: Exception) -> Response:
        return problem_response(request, status, slug, str(exc), **members(exc))

    return handler


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into a problem."""

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(
            request, exc.status, exc.slug, exc.detail, headers=exc.headers, **exc.extensions
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _validation_errors(exc)
        if any(e["type"] == "json_invalid" for e in errors):
            return problem_response(
                request, 400, "malformed-json", "the request body is not valid JSON"
            )
        return problem_response(
            request, 422, "validation-error", "the request is not valid", errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404 and (redirect := slash_redirect(request)) is not None:
            return redirect
        if exc.status_code == 400:
            # FastAPI's only 400: a JSON body it could not read (nested too deep, not UTF-8).
            return problem_response(
                request, 400, "malformed-json", "the request body is not valid JSON"
            )
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": ", ".join(_allowed_methods(request))}
        slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        return problem_response(request, exc.status_code, slug, str(exc.detail), headers=headers)

    for error, (status, slug, members) in _STORE_PROBLEMS.items():
        app.add_exception_handler(error, _store_problem(status, slug, members))

    @app.exception_handler(StorageUnavailableError)
    async def _unavailable(request: Request, exc: StorageUnavailableError) -> JSONResponse:
        log.warning("storage unavailable: %r", exc.__cause__)
        return problem_response(
            request, 503, "storage-unavailable", str(exc), headers={"Retry-After": "5"}
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        request.scope[_ANSWERED] = True
        return problem_response(
            request, 500, "internal-error", "an unexpected error occurred; it has been logged"
        )


class AnsweredErrors:
    """Keeps the connection open after an unexpected error has been answered with its problem.

    Starlette sends the catch-all handler's 500 and then re-raises the exception for the server
    to log; uvicorn, seeing an exception after a response, closes the connection, and a client
    reusing it for its next request gets a reset instead of an answer. The error is logged
    already, so here it ends. An exception with no answer sent (one raised while a response
    was streaming) still reaches the server, which must cut that connection."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except Exception:
            if not scope.get(_ANSWERED):
                raise
