"""``/v1/admin/keys`` on real servers: a key made over HTTP works on every process, and its
revocation reaches every running process: on PostgreSQL at once (a notification), although
the other process would trust the key it found for a minute; on SQLite within its cache time."""

from __future__ import annotations

import asyncio
import time

import httpx

from tests.e2e.conftest import Keys, Server, start_server

#: Far longer than a notification takes, far shorter than the other server's cache on
#: PostgreSQL (60 s): a refusal within it there can only come from the notification.
_WITHIN = 30.0


async def _refused(http: httpx.AsyncClient, url: str, key: dict[str, str]) -> int:
    """Ask until the key is refused (or ``_WITHIN`` passes): the last status."""
    deadline = time.monotonic() + _WITHIN
    while True:
        status = (await http.get(url, headers=key)).status_code
        if status != 200 or time.monotonic() > deadline:
            return status
        await asyncio.sleep(0.02)


async def test_a_revocation_reaches_every_running_server(
    server: Server, keys: Keys, db_kind: str
) -> None:
    cache = "60" if db_kind == "postgresql" else "0.5"
    admin = Keys.header(keys.admin)
    with start_server(server.database_url, key_cache_seconds=cache) as other:
        async with httpx.AsyncClient(timeout=30) as http:
            here, there = f"{server.base_url}/v1/admin/keys", f"{other.base_url}/v1/admin/keys"
            assert (
                await http.post(here, json={"name": "x", "role": "root"}, headers=admin)
            ).status_code == 422
            writer = Keys.header(keys.writer)
            assert (
                await http.post(here, json={"name": "x", "role": "admin"}, headers=writer)
            ).status_code == 403

            created = await http.post(
                here, json={"name": "short-lived", "role": "admin"}, headers=admin
            )
            assert created.status_code == 201, created.text
            body = created.json()
            assert body["secret"].startswith(body["prefix"]) and body["secret"].startswith("cfk_")
            assert created.headers["location"] == f"/v1/admin/keys/{body['id']}"
            key = Keys.header(body["secret"])

            # Both servers trust it (and now hold it in their caches).
            for url in (here, there):
                listed = await http.get(url, headers=key)
                assert listed.status_code == 200
                mine = [k for k in listed.json() if k["id"] == body["id"]]
                assert mine and mine[0]["revoked_at"] is None and "secret" not in mine[0]

            revoked = await http.delete(f"{here}/{body['id']}", headers=admin)
            assert revoked.status_code == 204
            assert (await http.get(here, headers=key)).status_code == 401  # this process: at once
            assert await _refused(http, there, key) == 401

            again = await http.delete(f"{here}/{body['id']}", headers=admin)
            assert again.status_code == 404
            assert again.json()["type"].endswith("/unknown-key")
