"""Dependencies every route shares, as ``Annotated`` aliases."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncConnection

from app.keys import ApiKey, KeyCache, Role, find_key
from app.problems import ProblemError
from app.settings import Settings
from events.store import EventStore, storage_errors

__all__ = [
    "AdminKey",
    "ConnDep",
    "JsonContent",
    "ReaderKey",
    "SettingsDep",
    "StoreDep",
    "WriterKey",
    "authorize",
    "reader_key",
    "require",
]


# These two are ``async def`` although they do not await: FastAPI runs a plain ``def``
# dependency in a worker thread, one thread hop per request for each (bench/status.py).
async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_store(request: Request) -> EventStore:
    store: EventStore = request.app.state.store
    return store


async def get_conn(
    store: Annotated[EventStore, Depends(get_store)],
) -> AsyncIterator[AsyncConnection]:
    """A connection for one request's reads. No transaction is held open across the response."""
    with storage_errors():
        async with store.engine.connect() as conn:
            yield conn


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[EventStore, Depends(get_store)]
ConnDep = Annotated[AsyncConnection, Depends(get_conn)]

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer cfk_…`")


async def authorize(
    request: Request, role: Role, credentials: HTTPAuthorizationCredentials | None
) -> ApiKey | None:
    """The key a request may act with in ``role`` (None: a reader with no key, where none is
    required); 401 or 403 as a problem otherwise."""
    settings: Settings = request.app.state.settings
    if role == "reader" and not settings.require_read_key and credentials is None:
        return None
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ProblemError(
            401,
            "unauthorized",
            "an API key is required: Authorization: Bearer <key>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    cache: KeyCache = request.app.state.key_cache
    key = cache.get(credentials.credentials)
    if key is None:
        store: EventStore = request.app.state.store
        with storage_errors():
            async with store.engine.connect() as conn:
                key = await find_key(conn, credentials.credentials)
        if key is not None and key.revoked_at is None:
            cache.put(credentials.credentials, key)
    if key is None or key.revoked_at is not None:
        raise ProblemError(
            401,
            "unauthorized",
            "the API key is unknown or revoked",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    if not key.allows(role):
        raise ProblemError(403, "forbidden", f"this route needs a key with the {role} role")
    return key


def require(role: Role) -> Callable[..., Awaitable[ApiKey | None]]:
    # The app's state is read from the request, not through StoreDep and SettingsDep: each
    # sub-dependency costs FastAPI a solving pass on every request of every route.
    async def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> ApiKey | None:
        return await authorize(request, role, credentials)

    return dependency


async def reader_key(request: Request) -> ApiKey | None:
    """What ``ReaderKey`` resolves to, for a handler that reads the request itself
    (``app.direct``): the same credentials, the same checks, the same problems."""
    return await authorize(request, "reader", await _bearer(request))


async def require_json(request: Request) -> None:
    """A request body must be JSON. Without this check FastAPI hands a form or text body to
    validation as raw bytes and answers a puzzling 422. A body with no Content-Type at all is
    read as JSON, as FastAPI does."""
    content_type = request.headers.get("content-type")
    if content_type is None:
        return
    media = content_type.partition(";")[0].strip().lower()
    if media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    ):
        return
    raise ProblemError(
        415,
        "unsupported-media-type",
        "the request body must be application/json",
        headers={"Accept-Post": "application/json"},
    )


#: Declare it after the key, so a request without a key is a 401 before it is a 415.
JsonContent = Annotated[None, Depends(require_json)]

ReaderKey = Annotated[ApiKey | None, Depends(require("reader"))]
WriterKey = Annotated[ApiKey | None, Depends(require("writer"))]
AdminKey = Annotated[ApiKey | None, Depends(require("admin"))]
