"""Every event records the id (never the secret) of the key that appended it: shown to admins
in the feed, carried by exports, covered by the chain; ``load`` and ``import`` record the
operator's key, or ``cli``."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import httpx
from sqlalchemy import select

from app.cli.loader import load_lines
from app.services.appending import Appender
from events.log.chain import stored_content_hash
from events.log.database import create_engine
from events.log.export import export_lines
from events.log.store import EventStore
from events.log.tables import events
from events.model.envelope import GENESIS_HASH, chain_hash
from tests.e2e.conftest import Keys, Server
from tests.e2e.test_operate_cli import CEASEFIRE, _env
from tests.e2e.test_polling import agreement, allegation


async def test_each_event_names_the_key_that_appended_it(
    server: Server, keys: Keys, conflict: str, tmp_path: Path
) -> None:
    admin = Keys.header(keys.admin)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        made = await http.post(
            "/v1/admin/keys", json={"name": "audited", "role": "writer"}, headers=admin
        )
        writer_id, secret = made.json()["id"], made.json()["secret"]
        answer = await http.post(
            "/v1/events", json=agreement(conflict), headers=Keys.header(secret)
        )
        assert answer.status_code == 201, answer.text

        # The operator's commands: `cli` without a key, the key's id with one.
        store = EventStore(create_engine(server.database_url))
        try:
            loaded = await load_lines(Appender(store), [json.dumps(allegation(conflict))])
            assert loaded.appended == 1
            keyed = tmp_path / "keyed.ndjson"
            keyed.write_text(json.dumps(allegation(conflict, "2022-09-24T00:00:00Z")) + "\n")
            env = _env(server.database_url) | {"CEASEFIRE_OPERATOR_KEY": secret}
            done = await asyncio.to_thread(
                subprocess.run,
                [CEASEFIRE, "load", str(keyed)],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert done.returncode == 0, done.stderr
            # A reader's key may not sign a load: refused before anything is written.
            refused = await asyncio.to_thread(
                subprocess.run,
                [CEASEFIRE, "load", str(keyed), "--key", keys.reader],
                env=_env(server.database_url),
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert refused.returncode == 2 and "--key" in refused.stderr, refused.stderr

            expected = [writer_id, "cli", writer_id]
            page = f"/v1/conflicts/{conflict}/events"
            shown = (await http.get(page, headers=admin)).json()["events"]
            assert [e["key_id"] for e in shown] == expected
            for headers in ({}, Keys.header(keys.reader), Keys.header(secret)):
                unseen = (await http.get(page, headers=headers)).json()["events"]
                assert all("key_id" not in e for e in unseen)
            assert secret not in json.dumps(shown)

            exported = [json.loads(line) async for line in export_lines(store, conflict=conflict)]
            assert [line["key_id"] for line in exported] == expected

            # The chain covers it: each link recomputed with the key id matches as stored.
            async with store.engine.connect() as conn:
                rows = (
                    await conn.execute(
                        select(events).where(events.c.conflict == conflict).order_by("position")
                    )
                ).all()
                for row in rows:
                    before = (
                        await conn.execute(
                            select(events.c.hash).where(events.c.position == row.position - 1)
                        )
                    ).scalar_one_or_none() or GENESIS_HASH
                    assert chain_hash(bytes(before), stored_content_hash(row)) == bytes(row.hash)
                    unkeyed = row._asdict() | {"key_id": None}
                    assert chain_hash(bytes(before), stored_content_hash(_Row(unkeyed))) != bytes(
                        row.hash
                    )
        finally:
            await store.close()


class _Row:
    def __init__(self, values: dict[str, object]) -> None:
        self.__dict__.update(values)
