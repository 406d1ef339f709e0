"""Settings read from the environment: every duration in seconds or ISO 8601, bad values fail
at start-up."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from app.settings import Settings


@pytest.mark.parametrize(
    ("text", "expected"),
    [("604800", timedelta(days=7)), ("P3D", timedelta(days=3)), ("1.5", timedelta(seconds=1.5))],
)
def test_durations_in_seconds_or_iso_8601(
    monkeypatch: pytest.MonkeyPatch, text: str, expected: timedelta
) -> None:
    monkeypatch.setenv("CEASEFIRE_CONTESTED_WINDOW", text)
    monkeypatch.setenv("CEASEFIRE_WEBHOOK_LEASE", text)
    monkeypatch.setenv("CEASEFIRE_WEBHOOK_TIMEOUT", "1")
    settings = Settings()
    assert settings.contested_window == expected


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CEASEFIRE_CONTESTED_WINDOW", "0"),
        ("CEASEFIRE_CONTESTED_WINDOW", "a week"),
        ("CEASEFIRE_DATABASE_URL", "mysql://localhost/db"),
        ("CEASEFIRE_SQLITE_SYNCHRONOUS", "OFF"),
        ("CEASEFIRE_MAX_BODY_BYTES", "10"),
        ("CEASEFIRE_PUBLIC_URL", "ceasefire.example.org"),
        ("CEASEFIRE_PUBLIC_URL", "/ceasefire"),
        ("CEASEFIRE_PUBLIC_URL", "ftp://ceasefire.example.org"),
        ("CEASEFIRE_PUBLIC_URL", "https://"),
        ("CEASEFIRE_PUBLIC_URL", "https://ceasefire.example.org/?a=1"),
        ("CEASEFIRE_PUBLIC_URL", "https://ceasefire.example.org/#top"),
        ("CEASEFIRE_PUBLIC_URL", "https://user@ceasefire.example.org"),
        ("CEASEFIRE_PUBLIC_URL", "https://ceasefire.example.org:99999"),
        ("CEASEFIRE_CORS_ORIGINS", "news.example"),
        ("CEASEFIRE_CORS_ORIGINS", "https://news.example/embeds"),
        ("CEASEFIRE_CORS_ORIGINS", "ftp://news.example"),
        ("CEASEFIRE_CORS_ORIGINS", "https://news.example:99999"),
        ("CEASEFIRE_CORS_ORIGINS", "https://user@news.example"),
        ("CEASEFIRE_CORS_ORIGINS", "*, https://news.example"),
        ("CEASEFIRE_EMBED_ORIGINS", "news.example"),
        ("CEASEFIRE_EMBED_ORIGINS", "https://news.example/page"),
        ("CEASEFIRE_EMBED_ORIGINS", "https://news.example; script-src *"),
        ("CEASEFIRE_EMBED_ORIGINS", "https://news.example 'unsafe-inline'"),
        ("CEASEFIRE_EMBED_ORIGINS", "javascript:alert(1)"),
        ("CEASEFIRE_EMBED_ORIGINS", "https://news.example:99999"),
    ],
)
def test_bad_values_fail_fast(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()


def test_embed_origins_are_a_comma_separated_list_of_origins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CEASEFIRE_EMBED_ORIGINS", "https://news.example/, http://127.0.0.1:8080")
    assert Settings().embed_origins == ("https://news.example", "http://127.0.0.1:8080")
    monkeypatch.setenv("CEASEFIRE_EMBED_ORIGINS", "*")
    assert Settings().embed_origins == ("*",)


def test_read_replicas_are_a_comma_separated_list_of_postgresql_urls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CEASEFIRE_DATABASE_URL", "postgresql+asyncpg://p@primary/db")
    monkeypatch.setenv(
        "CEASEFIRE_READ_DATABASE_URL",
        "postgresql+asyncpg://r@replica-1/db, postgresql+asyncpg://r@replica-2/db",
    )
    settings = Settings()
    assert settings.read_database_url == (
        "postgresql+asyncpg://r@replica-1/db",
        "postgresql+asyncpg://r@replica-2/db",
    )


@pytest.mark.parametrize(
    ("primary", "replicas"),
    [
        ("postgresql+asyncpg://p@primary/db", "sqlite+aiosqlite:///copy.db"),
        ("sqlite+aiosqlite:///ceasefire.db", "postgresql+asyncpg://r@replica/db"),
    ],
)
def test_read_replicas_need_postgresql_on_both_sides(
    monkeypatch: pytest.MonkeyPatch, primary: str, replicas: str
) -> None:
    monkeypatch.setenv("CEASEFIRE_DATABASE_URL", primary)
    monkeypatch.setenv("CEASEFIRE_READ_DATABASE_URL", replicas)
    with pytest.raises(ValidationError):
        Settings()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://ceasefire.example.org", "https://ceasefire.example.org"),
        ("https://ceasefire.example.org/", "https://ceasefire.example.org"),
        ("http://127.0.0.1:8000/ceasefire/", "http://127.0.0.1:8000/ceasefire"),
        (" https://[::1]:8443/a/b ", "https://[::1]:8443/a/b"),
    ],
)
def test_the_public_url_is_kept_without_its_trailing_slash(
    monkeypatch: pytest.MonkeyPatch, text: str, expected: str
) -> None:
    monkeypatch.setenv("CEASEFIRE_PUBLIC_URL", text)
    assert Settings().public_url == expected


@pytest.mark.parametrize(
    ("text", "origins"),
    [
        ("", ()),
        ("*", ("*",)),
        (
            "HTTPS://News.Example/, http://127.0.0.1:8080,https://news.example:443",
            ("https://news.example", "http://127.0.0.1:8080", "https://news.example"),
        ),
        ("http://[::1]:8000", ("http://[::1]:8000",)),
    ],
)
def test_cors_origins_are_kept_as_browsers_send_origin(
    monkeypatch: pytest.MonkeyPatch, text: str, origins: tuple[str, ...]
) -> None:
    monkeypatch.setenv("CEASEFIRE_CORS_ORIGINS", text)
    assert Settings().cors_origins == origins


def test_cors_needs_anonymous_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CEASEFIRE_CORS_ORIGINS", "*")
    monkeypatch.setenv("CEASEFIRE_REQUIRE_READ_KEY", "true")
    with pytest.raises(ValidationError, match="require_read_key"):
        Settings()
