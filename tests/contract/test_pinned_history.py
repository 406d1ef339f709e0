"""A head noted earlier pins the history: a rewrite made with full access to the database,
the chain recomputed after it, passes the chain's own check but not ``expect``."""

from __future__ import annotations

from typing import Any

import pytest

from app.services.appending import Appender
from events.log.chain import LogHead, read_log_head, verify_chain
from events.log.store import EventStore
from tests.factories import seed_events
from tests.logtools import rewrite


def _more_incidents(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "incidents": data["incidents"] + 10} if "incidents" in data else data


async def test_a_rewrite_passes_the_chain_but_not_a_head_noted_before(
    fresh_store: EventStore, fresh_appender: Appender
) -> None:
    heads: list[LogHead] = []
    for event in seed_events("pinned"):
        await fresh_appender.append([event])
        async with fresh_store.engine.connect() as conn:
            heads.append(await read_log_head(conn))
    rows = [r async for batch in fresh_store.iter_rows() for r in batch]
    alleged_at = next(r.position for r in rows if r.type == "violation.alleged")

    # Untouched, the log extends every head it ever had, and no other.
    for head in [LogHead(0, bytes(32)), *heads]:
        assert (await verify_chain(fresh_store, expect=head)).ok, head
    wrong = await verify_chain(fresh_store, expect=LogHead(2, heads[2].hash))
    assert wrong.pin_problem is not None and "position 2 " in wrong.pin_problem
    ahead = await verify_chain(fresh_store, expect=LogHead(99, heads[-1].hash))
    assert ahead.pin_problem is not None and "before the noted position 99" in ahead.pin_problem

    await rewrite(fresh_store.engine, alleged_at, _more_incidents)

    assert (await verify_chain(fresh_store)).ok, "the chain was recomputed: alone, it holds"
    for head in heads:
        report = await verify_chain(fresh_store, expect=head)
        assert not (report.broken or report.gaps or report.head_problem or report.undecodable)
        if head.position < alleged_at:
            assert report.ok, "what came before the rewrite is still extended"
        else:
            assert report.pin_problem is not None and "rewritten" in report.pin_problem


def test_a_head_is_spelled_position_colon_hash() -> None:
    head = LogHead(42, bytes(range(32)))
    assert LogHead.parse(str(head)) == head
    for bad in ("42", "x:" + "0" * 64, "42:abc", "42:" + "zz" * 32, "-1:" + "0" * 64):
        with pytest.raises(ValueError):
            LogHead.parse(bad)
