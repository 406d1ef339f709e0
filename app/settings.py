"""Every setting, in one place: read from ``CEASEFIRE_*`` environment variables, validated at
start-up so a bad value fails fast instead of at the first request that needs it."""

from __future__ import annotations

import json
from datetime import timedelta
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["Settings", "get_settings"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CEASEFIRE_", extra="ignore", frozen=True)

    #: A SQLAlchemy URL: ``sqlite+aiosqlite:///path.db`` or ``postgresql+asyncpg://...``.
    database_url: str = "sqlite+aiosqlite:///./ceasefire.db"
    #: PostgreSQL: the role that owns the tables and runs the migrations, when the service
    #: runs as another (``database_url``'s user), which is then granted reading and appending
    #: only: it cannot rewrite the log. Unset: one URL does both (the embedded/dev default).
    migration_database_url: str | None = None
    #: SQLite only. NORMAL (default, with WAL): a commit survives a crash of the process but
    #: the last commits may be lost on power loss. FULL: every commit is synced to disk.
    sqlite_synchronous: Literal["NORMAL", "FULL"] = "NORMAL"
    #: An allegation within this window before T makes an in-effect agreement "contested".
    contested_window: timedelta = timedelta(days=7)
    #: A conflict whose latest report (any event) is this old or older is ``stale``: its status
    #: and the list say so, and its page and badge say "no reports since ...".
    stale_after: timedelta = timedelta(days=30)
    #: When true, reads need a key too (any role); by default reads are open.
    require_read_key: bool = False
    #: How long a key found in the database is trusted without looking again, in seconds; on
    #: SQLite a revocation by another process takes up to this long to be seen (PostgreSQL
    #: notifies every process at once; 0: look every time).
    key_cache_seconds: float = Field(default=1.0, ge=0, le=60)
    #: Largest request body accepted, in bytes.
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)

    # -- the HTTP edge: what one client may hold of a process (app/http/edge.py, app/http/limits.py)
    #: Largest request target and headers accepted, in bytes (more: 431; ``ceasefire serve``:
    #: headers still arriving past it are a 400 from uvicorn's h11 parser, app/http/edge.py).
    max_header_bytes: int = Field(default=16 * 1024, ge=1024)
    #: Seconds a connection may stay open with nothing sent after its last answer (uvicorn's
    #: ``timeout_keep_alive``). uvicorn has no deadline on a request's headers (app/http/edge.py).
    keep_alive_timeout: int = Field(default=5, ge=1)
    #: A request's body must all arrive this long after its headers (else 408).
    body_timeout: timedelta = Field(default=timedelta(seconds=30), gt=timedelta(0))
    #: Open connections per process (``ceasefire serve``; uvicorn's ``limit_concurrency``).
    #: Past it, a request is answered 503 and its connection closed.
    max_connections: int = Field(default=4096, ge=1)
    #: Live streams (/v1/stream) per process; more: 503 with Retry-After.
    max_streams: int = Field(default=1024, ge=1)
    #: Requests waiting at once with ``Prefer: wait`` per process; more: 503 with Retry-After.
    max_long_polls: int = Field(default=2048, ge=1)
    #: Per client address (an IPv6 address by its /64; behind a proxy uvicorn trusts, the
    #: forwarded one), at once: reads the process must compute because they are not in the
    #: representation cache (timelines, the page at /, views at other times...), live streams,
    #: and long-polls. More: 429 with Retry-After, for that client only (app/http/capacity.py).
    max_reads_per_client: int = Field(default=4, ge=1)
    max_streams_per_client: int = Field(default=32, ge=1)
    max_long_polls_per_client: int = Field(default=64, ge=1)
    #: Largest page body (/v1/events, a conflict's events, /timeline, /v1/conflicts), in bytes:
    #: a page ends early (with its ``next_after``) rather than pass it; it holds one item at least.
    max_page_bytes: int = Field(default=1024 * 1024, ge=1024)
    #: PostgreSQL connections per process, all of them (``app.composition.connection_budget``
    #: shares them out: the listener, the append writer, the head lookups, SQLAlchemy's pool).
    pool_size: int = Field(default=20, ge=4, le=200)
    #: Log lines as plain text, or as one JSON object a line (``json``).
    log_format: Literal["text", "json"] = "text"
    #: One log line per request; false turns them off (the X-Request-ID header stays), as
    #: uvicorn's --no-access-log does for its own: a stderr nobody reads would fill and block.
    log_requests: bool = True
    #: Where clients reach the service (``https://ceasefire.example.org``, or with the path
    #: prefix a proxy serves it under): the base of the absolute links it writes (the Atom
    #: feed's, a redirect's ``Location``). Unset: those links are absolute paths (``/v1/...``),
    #: which a client resolves against the URL it asked; the ``Host`` header is never used.
    public_url: str | None = None
    #: Other sites whose pages' JavaScript may read the open reads (views, the log, its head,
    #: the stream, badges and feeds) across origins (CORS, ``app.http.cross_site``): origins
    #: such as ``https://news.example``, comma-separated, or ``*`` for any site. Empty (the
    #: default): no CORS, and a preflight is answered 405. Reads only, without credentials and
    #: without a key (a key in another site's JavaScript is a key every reader holds), so not
    #: with ``require_read_key``; writes and admin are never open to other sites.
    cors_origins: Annotated[tuple[str, ...], NoDecode] = ()

    #: Origins whose pages may frame ``/embed/conflicts/{slug}`` (comma-separated, e.g.
    #: ``https://news.example``, or ``*`` for any): its CSP ``frame-ancestors``. The other
    #: pages are framed by this app only. Empty: the embed too.
    embed_origins: Annotated[tuple[str, ...], NoDecode] = ()

    # -- scaling out (docs/scaling.md) -------------------------------------------------------
    #: PostgreSQL hot standbys for reads (views, the feed, streams, long-polls), comma-separated
    #: ``postgresql+asyncpg://`` URLs; empty: everything reads the primary.
    read_database_url: Annotated[tuple[str, ...], NoDecode] = ()
    #: How long a read that needs a log position (``min_position``, a held ETag, a woken
    #: long-poll) waits for a standby to replay it before the primary answers; also how long
    #: the primary is given before a position it has not reached is refused.
    replica_catch_up: timedelta = Field(default=timedelta(seconds=1), gt=timedelta(0))
    #: A standby that failed is left alone this long (its reads go to the primary), then tried.
    replica_retry: timedelta = Field(default=timedelta(seconds=5), gt=timedelta(0))
    #: ``max-age`` (seconds) of anonymous reads of *now*, for shared caches and CDNs; 0 keeps
    #: ``no-cache`` (every use revalidated with the ETag).
    cache_max_age: int = Field(default=0, ge=0, le=86_400)
    #: ``stale-while-revalidate`` (seconds) beside ``max-age`` (RFC 5861), when that is set.
    cache_stale_while_revalidate: int = Field(default=0, ge=0, le=86_400)
    #: A view pinned in ``as_of`` and ``known_at`` is ``immutable`` when ``known_at`` is this
    #: much older than the newest event's ``recorded_at``: the most an append's recorded_at
    #: (the API process's clock when it decided) may trail the events committed before it.
    cache_immutable_after: timedelta = Field(default=timedelta(hours=1), gt=timedelta(0))

    # -- webhooks (app/webhooks) -------------------------------------------------------------
    #: The delay before each delivery attempt, the first counted from the event's dispatch;
    #: its length is the number of attempts. Seconds or ISO 8601 durations, comma-separated
    #: or a JSON list.
    webhook_retry_schedule: Annotated[tuple[timedelta, ...], NoDecode] = tuple(
        timedelta(seconds=s) for s in (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
    )
    #: Each retry delay is stretched by a random fraction up to this (0.1: up to +10%).
    webhook_retry_jitter: float = Field(default=0.1, ge=0, le=1)
    #: Allow ``http://`` webhook URLs (otherwise https only).
    webhook_allow_http: bool = False
    #: Subnets deliveries may reach although they are not public (e.g. ``10.1.0.0/16``).
    webhook_allowed_subnets: Annotated[tuple[IPv4Network | IPv6Network, ...], NoDecode] = ()
    #: False: deliveries reach only ``webhook_allowed_subnets``, and URLs must name an address
    #: (host names are refused unresolved): for closed networks and fuzzing runs.
    webhook_public_addresses: bool = True
    #: Time to connect (and resolve), then the whole attempt's limit, response included.
    webhook_connect_timeout: timedelta = timedelta(seconds=5)
    webhook_timeout: timedelta = timedelta(seconds=15)
    #: At most this much of a receiver's response is read and kept.
    webhook_max_response_bytes: int = Field(default=64 * 1024, ge=0)
    #: An endpoint whose every attempt has failed for this long is disabled.
    webhook_disable_after: timedelta = timedelta(days=5)
    #: After a rotation the previous secret keeps signing (beside the new one) this long.
    webhook_secret_overlap: timedelta = timedelta(hours=24)
    #: Fernet keys, comma-separated, that seal webhook secrets in the database: the first
    #: seals, every one opens (``app/webhooks/sealing.py``). None: secrets stored in clear.
    secret_key: Annotated[tuple[SecretStr, ...], NoDecode] = ()
    #: How long a worker holds a claimed delivery; past it, another worker takes it over.
    #: Must exceed ``webhook_timeout``, so a live worker never loses a delivery mid-send.
    webhook_lease: timedelta = timedelta(seconds=60)
    #: How often a worker looks for work it was not woken for (other processes' appends).
    webhook_poll_interval: timedelta = timedelta(seconds=1)
    #: Deliveries one worker sends at the same time.
    webhook_concurrency: int = Field(default=16, ge=1, le=1000)
    #: Of those, at most this many to any one endpoint (at most ``webhook_concurrency``): a
    #: slow or hanging endpoint holds only its share, and the others keep their latency.
    webhook_endpoint_concurrency: int = Field(default=4, ge=1, le=1000)
    #: Events the dispatcher turns into deliveries per transaction.
    webhook_dispatch_batch: int = Field(default=500, ge=1, le=10_000)
    #: ``ceasefire serve`` runs one worker in-process; false leaves it to ``ceasefire worker``.
    webhook_worker: bool = True

    # -- polling and the live stream ---------------------------------------------------------
    #: A comment line on an idle event stream this often, so proxies and clients see it alive.
    stream_heartbeat: timedelta = Field(default=timedelta(seconds=15), gt=timedelta(0))
    #: How far back (in events) a stream resumes from Last-Event-ID; None: from anywhere.
    #: Further back is told in-band (event ``position-too-old``) and resumes at the limit.
    stream_replay_limit: int | None = Field(default=None, ge=1)
    #: How many bytes of event bodies a stream holds for a client at once: the events of a
    #: catch-up read and the live events the client has not yet taken. A client further behind
    #: is caught up from the log again, a read at a time, as it takes what it was sent.
    stream_buffer_bytes: int = Field(default=256 * 1024, ge=1024)
    #: How many bytes of recent representations (status, allegations…) each process keeps,
    #: keyed by what was asked and the log position they reflect, counting everything an entry
    #: holds (key, headers, body, bookkeeping); 0 keeps none (concurrent equal reads still
    #: share one).
    representation_cache_bytes: int = Field(default=32 * 1024 * 1024, ge=0)
    #: SQLite only (it has no LISTEN/NOTIFY): how often one query per process looks for
    #: appends by other processes while clients wait.
    sqlite_notify_poll: timedelta = Field(default=timedelta(milliseconds=250), gt=timedelta(0))

    @field_validator(
        "contested_window",
        "stale_after",
        "stream_heartbeat",
        "sqlite_notify_poll",
        "body_timeout",
        "webhook_connect_timeout",
        "webhook_timeout",
        "webhook_disable_after",
        "webhook_secret_overlap",
        "webhook_lease",
        "webhook_poll_interval",
        "replica_catch_up",
        "replica_retry",
        "cache_immutable_after",
        mode="before",
    )
    @classmethod
    def _seconds(cls, value: Any) -> Any:
        """Every duration: seconds as a number (``"0.5"``) or an ISO 8601 duration (``P5D``)."""
        return _number_or_text(value.strip()) if isinstance(value, str) else value

    @field_validator("database_url", "migration_database_url")
    @classmethod
    def _supported(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(
            ("sqlite+aiosqlite://", "postgresql+asyncpg://")
        ):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        """An absolute http(s) URL without query or fragment; kept without a trailing ``/``,
        so that ``public_url + "/v1/..."`` is the link."""
        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an absolute http:// or https:// URL")
        if parts.query or parts.fragment or "@" in parts.netloc:
            raise ValueError("must have no query, fragment or user name")
        try:
            parts.port  # noqa: B018 (a bad port raises here)
        except ValueError:
            raise ValueError("has an invalid port") from None
        return value.strip().rstrip("/")

    @field_validator("cors_origins", "embed_origins", mode="before")
    @classmethod
    def _origins_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(origin.strip() for origin in value.split(",") if origin.strip())
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        """``*`` alone, or origins as a browser sends them in ``Origin``: scheme, host and a
        port other than the scheme's default, lower case, no path."""
        if "*" in value:
            if len(value) > 1:
                raise ValueError("* allows every origin: give it alone")
            return value
        origins = []
        for origin in value:
            parts = urlsplit(origin)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"{origin!r} is not an http:// or https:// origin")
            if parts.path not in ("", "/") or parts.query or parts.fragment or "@" in origin:
                raise ValueError(f"{origin!r}: an origin has no path, query or user name")
            try:
                port = parts.port
            except ValueError:
                raise ValueError(f"{origin!r} has an invalid port") from None
            default = {"http": 80, "https": 443}[parts.scheme]
            host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
            shown = f":{port}" if port is not None and port != default else ""
            origins.append(f"{parts.scheme}://{host}{shown}")
        return tuple(origins)

    @field_validator("embed_origins")
    @classmethod
    def _frame_ancestors(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        """Each an origin (``https://host[:port]``, nothing after it) or ``*``: a CSP source
        that cannot add a directive or widen another."""
        for origin in value:
            if origin == "*":
                continue
            parts = urlsplit(origin)
            if (
                parts.scheme not in ("http", "https")
                or not parts.hostname
                or parts.path not in ("", "/")
                or parts.query
                or parts.fragment
                or "@" in parts.netloc
                or any(c in origin for c in " ;,'\"")
            ):
                raise ValueError(f"{origin!r} is not an origin like https://news.example")
            try:
                parts.port  # noqa: B018 (a bad port raises here)
            except ValueError:
                raise ValueError(f"{origin!r} has an invalid port") from None
        return tuple(origin.rstrip("/") for origin in value)

    @field_validator("read_database_url", mode="before")
    @classmethod
    def _urls(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(url.strip() for url in value.split(",") if url.strip())
        return value

    @field_validator("read_database_url")
    @classmethod
    def _standbys(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for url in value:
            if not url.startswith("postgresql+asyncpg://"):
                raise ValueError("read replicas must be postgresql+asyncpg:// URLs")
        return value

    @field_validator("webhook_retry_schedule", "webhook_allowed_subnets", mode="before")
    @classmethod
    def _list(cls, value: Any) -> Any:
        """A JSON list or comma-separated values, from the environment."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [_number_or_text(p.strip()) for p in text.split(",") if p.strip()]
        return value

    @field_validator("secret_key", mode="before")
    @classmethod
    def _keys(cls, value: Any) -> Any:
        """Comma-separated Fernet keys; each checked now, so a bad one fails at start-up."""
        if isinstance(value, str):
            value = [k.strip() for k in value.split(",") if k.strip()]
        keys = [k.get_secret_value() if isinstance(k, SecretStr) else k for k in value]
        try:
            for key in keys:
                Fernet(key.encode("ascii"))
        except (ValueError, TypeError):
            raise ValueError(
                "each key must be a Fernet key: 32 bytes in url-safe base64 "
                "(python -c 'from app.webhooks.sealing import new_key; print(new_key())')"
            ) from None
        return value

    @field_validator("webhook_retry_schedule")
    @classmethod
    def _schedule(cls, value: tuple[timedelta, ...]) -> tuple[timedelta, ...]:
        if not value:
            raise ValueError("needs at least one attempt")
        if any(delay < timedelta(0) for delay in value):
            raise ValueError("delays must not be negative")
        return value

    @model_validator(mode="after")
    def _lease_outlasts_attempt(self) -> Settings:
        if self.webhook_timeout <= timedelta(0) or self.webhook_connect_timeout <= timedelta(0):
            raise ValueError("webhook timeouts must be positive")
        if self.webhook_lease <= self.webhook_timeout:
            raise ValueError("webhook_lease must be longer than webhook_timeout")
        if self.webhook_poll_interval <= timedelta(0):
            raise ValueError("webhook_poll_interval must be positive")
        if self.read_database_url and not self.database_url.startswith("postgresql"):
            raise ValueError("read_database_url needs a PostgreSQL database_url (its primary)")
        if self.cors_origins and self.require_read_key:
            raise ValueError(
                "cors_origins opens the anonymous reads to other sites, and require_read_key "
                "leaves none: set one of them"
            )
        return self

    @field_validator("contested_window", "stale_after")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be positive")
        return value

    def as_owner(self) -> Settings:
        """These settings over the owner's database URL (``migration_database_url``) when one
        is set: for what only the role that owns the log may do on PostgreSQL, such as keeping
        chosen recording times (``import``; migration 0008)."""
        if self.migration_database_url is None:
            return self
        return self.model_copy(update={"database_url": self.migration_database_url})


def _number_or_text(value: str) -> float | str:
    """``"5"`` is five seconds; anything else (``PT5M``, ``10.0.0.0/8``) stays text."""
    try:
        return float(value)
    except ValueError:
        return value


@lru_cache
def get_settings() -> Settings:
    return Settings()
