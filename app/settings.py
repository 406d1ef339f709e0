"""Every setting, in one place: read from ``CEASEFIRE_*`` environment variables, validated at
start-up so a bad value fails fast instead of at the first request that needs it."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "get_settings"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CEASEFIRE_", extra="ignore", frozen=True)

    #: A SQLAlchemy URL: ``sqlite+aiosqlite:///path.db`` or ``postgresql+asyncpg://...``.
    database_url: str = "sqlite+aiosqlite:///./ceasefire.db"
    #: SQLite only. NORMAL (default, with WAL): a commit survives a crash of the process but
    #: the last commits may be lost on power loss. FULL: every commit is synced to disk.
    sqlite_synchronous: Literal["NORMAL", "FULL"] = "NORMAL"
    #: An allegation within this window before T makes an in-effect agreement "contested".
    contested_window: timedelta = timedelta(days=7)
    #: When true, reads need a key too (any role); by default reads are open.
    require_read_key: bool = False
    #: Largest request body accepted, in bytes.
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    #: Connections per process on PostgreSQL.
    pool_size: int = Field(default=10, ge=1, le=200)

    @field_validator("database_url")
    @classmethod
    def _supported(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @field_validator("contested_window")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be positive")
        return value


@lru_cache
def get_settings() -> Settings:
    return Settings()
