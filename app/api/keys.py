"""``/v1/admin/keys``: create, list and revoke API keys over HTTP, as ``ceasefire keys`` does.

A revocation is refused at once by this process (its cache forgets the key) and, on
PostgreSQL, by every other running process as soon as it commits (a notification on
``app.services.api_keys.KEYS_CHANNEL``); on SQLite the others stop trusting the key within
``CEASEFIRE_KEY_CACHE_SECONDS``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Body, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from app.deps import AdminKey, ConnDep, JsonContent, KeyCacheDep, StoreDep, writing
from app.http.problems import ProblemError, problem_responses
from app.services.api_keys import ApiKey, Role, create_key, list_keys, revoke_key
from events.model.values import NO_NUL

__all__ = ["router"]

router = APIRouter(tags=["admin"])

_KEY_PROBLEMS = problem_responses(401, 403, 422, 503)


class KeyIn(BaseModel):
    """A new API key: what it is for, and what it may do."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        min_length=1, max_length=200, pattern=NO_NUL, description="Who or what the key is for."
    )
    role: Role = Field(description="reader, writer or admin.")


class KeyView(BaseModel):
    """An API key, without its secret."""

    id: UUID = Field(description="The key's id: pass it to revoke the key.")
    name: str = Field(description="Who or what the key is for.")
    role: Role = Field(description="reader, writer or admin: each may do what the ones before may.")
    prefix: str = Field(description="The secret's first characters, to recognise it by.")
    created_at: datetime = Field(description="When it was created.")
    revoked_at: datetime | None = Field(description="When it was revoked, if it was.")

    @classmethod
    def of(cls, key: ApiKey) -> KeyView:
        return cls.model_validate(key, from_attributes=True)


class KeyCreated(KeyView):
    """The new key, with its secret (shown this once)."""

    secret: str = Field(description="The key itself: shown here once, stored only as a hash.")


@router.post(
    "/v1/admin/keys",
    operation_id="create_key",
    status_code=201,
    response_model=KeyCreated,
    responses=_KEY_PROBLEMS | problem_responses(400, 413, 415),
    summary="Create an API key (its secret is in this answer only)",
)
async def create_api_key(
    body: Annotated[KeyIn, Body()],
    store: StoreDep,
    _key: AdminKey,
    _json: JsonContent,
    response: Response,
) -> KeyCreated:
    """The secret is in this answer only; the service keeps a hash of it."""
    async with writing(store.engine) as conn:
        key, secret = await create_key(conn, name=body.name, role=body.role)
    response.headers["Location"] = f"/v1/admin/keys/{key.id}"
    return KeyCreated(**KeyView.of(key).model_dump(), secret=secret)


@router.get(
    "/v1/admin/keys",
    operation_id="list_keys",
    response_model=list[KeyView],
    responses=_KEY_PROBLEMS,
    summary="Every API key, revoked ones included (never their secrets)",
)
async def list_api_keys(_key: AdminKey, conn: ConnDep) -> list[KeyView]:
    """Each key's name, role, prefix and dates; never a secret."""
    return [KeyView.of(key) for key in await list_keys(conn)]


@router.delete(
    "/v1/admin/keys/{key_id}",
    operation_id="revoke_key",
    status_code=204,
    response_class=Response,
    responses=_KEY_PROBLEMS
    | problem_responses(specific={404: "No active key of this id (`/problems/unknown-key`)."}),
    summary="Revoke an API key, on every running server",
)
async def revoke_api_key(
    key_id: Annotated[UUID, Path(description="The key's id.")],
    cache: KeyCacheDep,
    store: StoreDep,
    _key: AdminKey,
) -> Response:
    """Refused at once by this process; by every other one as soon as it hears (PostgreSQL)
    or within CEASEFIRE_KEY_CACHE_SECONDS (SQLite)."""
    async with writing(store.engine) as conn:
        revoked = await revoke_key(conn, key_id)
    cache.forget(key_id)
    if not revoked:
        raise ProblemError(404, "unknown-key", f"no active key {key_id}")
    return Response(status_code=204)
