"""API keys: created once, shown once, stored only as a SHA-256 hash, revocable.

This is the one module outside ``events/`` and ``projections/`` that holds SQL: keys are not
events and no projection derives them, so they get a small table and store of their own.
A key is ``cfk_`` + 43 URL-safe characters (32 random bytes): long enough that a plain hash
(not a slow password hash) is the right tool, and a lookup is one indexed equality.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from uuid import UUID, uuid4

from sqlalchemy import Column, LargeBinary, String, Table, Uuid, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from events.log.tables import UtcDateTime, metadata, record_of

__all__ = [
    "KEYS_CHANNEL",
    "ROLES",
    "ApiKey",
    "KeyCache",
    "Role",
    "create_key",
    "find_key",
    "list_keys",
    "operator_key_id",
    "revoke_key",
]

#: PostgreSQL: a revocation NOTIFYs the key's id here when it commits; every running server
#: listens (``events.log.notifications``) and forgets the key at once.
KEYS_CHANNEL = "ceasefire_keys"

Role = Literal["reader", "writer", "admin"]
ROLES: dict[Role, int] = {"reader": 0, "writer": 1, "admin": 2}

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("prefix", String(16), nullable=False),
    Column("hash", LargeBinary(32), nullable=False, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
)


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: UUID
    name: str
    role: Role
    prefix: str
    created_at: datetime
    revoked_at: datetime | None

    def allows(self, role: Role) -> bool:
        return self.revoked_at is None and ROLES[self.role] >= ROLES[role]


class KeyCache:
    """Keys found recently, by the hash of their secret, for ``ttl`` seconds: a write then costs
    no key lookup in the database. The price is that a revocation made by another process takes
    up to ``ttl`` to be seen here (``CEASEFIRE_KEY_CACHE_SECONDS``; 0 turns the cache off).
    Unknown secrets are never cached, so a wrong key is always looked up. ``clock`` (seconds,
    monotonic) is for tests."""

    def __init__(
        self, ttl: float, max_size: int = 1024, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl
        self._max_size = max_size
        self._clock = clock
        self._keys: dict[bytes, tuple[float, ApiKey]] = {}

    def get(self, secret: str) -> ApiKey | None:
        if self._ttl <= 0:
            return None
        hit = self._keys.get(_hash(secret))
        if hit is None or hit[0] < self._clock():
            return None
        return hit[1]

    def put(self, secret: str, key: ApiKey) -> None:
        if self._ttl <= 0:
            return
        if len(self._keys) >= self._max_size:
            self._keys.clear()
        self._keys[_hash(secret)] = (self._clock() + self._ttl, key)

    def forget(self, key_id: UUID) -> None:
        self._keys = {h: hit for h, hit in self._keys.items() if hit[1].id != key_id}

    def on_revoked(self, payload: str | None) -> None:
        """A notification on ``KEYS_CHANNEL``: forget that key; None (notifications may have
        been missed): forget every key."""
        if payload is None:
            self._keys = {}
            return
        self.forget(UUID(payload))


def _hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def _key(row: object) -> ApiKey:
    return record_of(ApiKey, row)


async def create_key(conn: AsyncConnection, *, name: str, role: Role) -> tuple[ApiKey, str]:
    """Create a key; returns it with the secret, which is never stored and never shown again."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    secret = "cfk_" + secrets.token_urlsafe(32)
    key = ApiKey(
        id=uuid4(),
        name=name,
        role=role,
        prefix=secret[:10],
        created_at=datetime.now(UTC),
        revoked_at=None,
    )
    await conn.execute(
        api_keys.insert().values(
            id=key.id,
            name=key.name,
            role=key.role,
            prefix=key.prefix,
            hash=_hash(secret),
            created_at=key.created_at,
        )
    )
    return key, secret


async def find_key(conn: AsyncConnection, secret: str) -> ApiKey | None:
    row = (
        await conn.execute(select(api_keys).where(api_keys.c.hash == _hash(secret)))
    ).one_or_none()
    return None if row is None else _key(row)


async def operator_key_id(conn: AsyncConnection, secret: str) -> str:
    """The id of the active writer or admin key ``secret``, for an operator's command to
    record as the author of what it appends; ``ValueError`` for any other."""
    key = await find_key(conn, secret)
    if key is None or not key.allows("writer"):
        raise ValueError("not an active writer or admin key")
    return str(key.id)


async def list_keys(conn: AsyncConnection) -> list[ApiKey]:
    return [_key(r) for r in await conn.execute(select(api_keys).order_by(api_keys.c.created_at))]


async def revoke_key(conn: AsyncConnection, key_id: UUID) -> bool:
    """Revoke an active key; False when there is none with that id. On PostgreSQL every
    running server hears of it when the transaction commits (``KEYS_CHANNEL``); on SQLite
    they stop trusting it within ``CEASEFIRE_KEY_CACHE_SECONDS``."""
    result = await conn.execute(
        update(api_keys)
        .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    if not result.rowcount:
        return False
    if conn.dialect.name == "postgresql":
        await conn.execute(
            text("SELECT pg_notify(:channel, :key)"), {"channel": KEYS_CHANNEL, "key": str(key_id)}
        )
    return True
