"""Webhook secrets at rest: sealed with Fernet under ``CEASEFIRE_SECRET_KEY`` (read back from
the row itself), keys rotated and the secrets resealed with the CLI, deliveries still signed
with the right secret throughout; in clear without a key, as the README says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from uuid import UUID

import pytest
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook as StandardWebhook

from app.services.api_keys import create_key
from app.webhooks.sealing import SecretBox, SecretKeyError, new_key
from app.webhooks.subscriptions import reseal_secrets, write_transaction
from app.webhooks.tables import subscriptions
from events.log.store import EventStore
from tests.factories import alleged, signed
from tests.webhooks.conftest import fast_settings, running_api
from tests.webhooks.receiver import Receiver, eventually

ROOT = Path(__file__).resolve().parents[2]


async def _admin_key(store: EventStore) -> str:
    async with store.engine.begin() as conn:
        _, secret = await create_key(conn, name="sealing tests", role="admin")
    return secret


async def _stored(store: EventStore, webhook_id: str) -> tuple[str, str | None]:
    async with store.engine.connect() as conn:
        row = (
            await conn.execute(
                select(subscriptions.c.secret, subscriptions.c.previous_secret).where(
                    subscriptions.c.id == UUID(webhook_id)
                )
            )
        ).one()
    return row.secret, row.previous_secret


def _opens(key: str, token: str) -> str | None:
    try:
        return Fernet(key.encode()).decrypt(token.encode()).decode()
    except InvalidToken:
        return None


def _reseal(database_url: str, keys: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CEASEFIRE_")}
    env.update({"CEASEFIRE_DATABASE_URL": database_url, "CEASEFIRE_SECRET_KEY": keys})
    return subprocess.run(
        [sys.executable, "-m", "app.cli.ceasefire", "webhooks", "reseal"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_secrets_are_sealed_at_rest_and_survive_a_key_rotation(
    fresh_store: EventStore, fresh_database_url: str, receiver: Receiver
) -> None:
    conflict = "sealed"
    admin = await _admin_key(fresh_store)
    old, new = new_key(), new_key()

    async with running_api(fast_settings(fresh_database_url, secret_key=old), admin) as api:
        hook = await api.subscribe(receiver.url(), conflicts=[conflict])
        secret = hook["secret"]
        stored, _ = await _stored(fresh_store, hook["id"])
        assert secret.startswith("whsec_") and secret not in stored
        assert secret.removeprefix("whsec_") not in stored
        assert _opens(old, stored) == secret
        await api.record(signed(conflict))
        await api.record(alleged(conflict))
        [first] = await eventually(lambda: receiver.at())
        StandardWebhook(secret).verify(first.body, first.headers)

        rotated = (await api.http.post(f"/v1/webhooks/{hook['id']}/rotate-secret")).json()
        stored, previous = await _stored(fresh_store, hook["id"])
        assert previous is not None and _opens(old, previous) == secret
        assert _opens(old, stored) == rotated["secret"]
        api.created.clear()  # keep it for the rotation below

    # Rotation: the new key first, the old one after it; then reseal; then the old key goes.
    result = _reseal(fresh_database_url, f"{new},{old}")
    assert result.returncode == 0, result.stderr
    assert "sealed the secrets of 1 webhook(s)" in result.stdout
    stored, previous = await _stored(fresh_store, hook["id"])
    assert previous is not None
    assert _opens(new, stored) == rotated["secret"] and _opens(old, stored) is None
    assert _opens(new, previous) == secret

    async with running_api(fast_settings(fresh_database_url, secret_key=new), admin) as api:
        await api.record(alleged(conflict, incidents=2))
        await eventually(lambda: len(receiver.at()) == 2)
        second = receiver.at()[1]
        StandardWebhook(rotated["secret"]).verify(second.body, second.headers)
        StandardWebhook(secret).verify(second.body, second.headers)  # still in its overlap

    # With a key that opens nothing: a clear problem, never a 500, and nothing written.
    with pytest.raises(SecretKeyError):
        async with write_transaction(fresh_store.engine) as conn:
            await reseal_secrets(conn, SecretBox.from_keys([new_key()]))
    assert await _stored(fresh_store, hook["id"]) == (stored, previous)
    async with running_api(fast_settings(fresh_database_url), admin) as api:
        response = await api.http.post(f"/v1/webhooks/{hook['id']}/ping")
        assert response.status_code == 503
        assert response.json()["type"].endswith("/problems/secret-key-unavailable")
        api.created.append(hook["id"])


async def test_without_a_key_secrets_are_stored_in_clear(
    fresh_store: EventStore, fresh_database_url: str, receiver: Receiver
) -> None:
    admin = await _admin_key(fresh_store)
    async with running_api(fast_settings(fresh_database_url), admin) as api:
        hook = await api.subscribe(receiver.url(), conflicts=["clear"])
        assert await _stored(fresh_store, hook["id"]) == (hook["secret"], None)
