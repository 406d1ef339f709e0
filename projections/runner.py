"""Replay: rebuild the projection tables from the log, with the same fold as the live path.

The log is streamed in batches (keyset pages of ``batch_size`` events), so memory stays flat
whatever its length. The rebuild runs in one transaction that first takes the append lock
(``log_head``): appends wait until it commits, reads go on seeing the old tables until then.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select, update

from events.database import WRITE
from events.store import EventStore, decode_row
from events.tables import events, log_head, metadata, projection_checkpoints
from projections.changes import Changes
from projections.fold import ConflictState, apply
from projections.inline import CHECKPOINT
from projections.tables import PROJECTION_KEYS
from projections.writer import apply_changes

projection_tables = {name: metadata.tables[name] for name in PROJECTION_KEYS}

__all__ = ["ReplayStats", "replay"]


@dataclass(frozen=True, slots=True)
class ReplayStats:
    events: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


async def replay(
    store: EventStore,
    *,
    batch_size: int = 5000,
    progress: Callable[[int, int], None] | None = None,
) -> ReplayStats:
    """Rebuild every projection from position 0. ``progress(done, total)`` after each batch."""
    started = time.perf_counter()
    done = 0
    async with store.engine.connect() as plain:
        conn = await plain.execution_options(**WRITE)
        async with conn.begin():
            lock = select(log_head.c.position)
            if store.dialect == "postgresql":
                lock = lock.with_for_update()
            total = int((await conn.execute(lock)).scalar_one())
            for name in PROJECTION_KEYS:
                await conn.execute(delete(projection_tables[name]))
            states: dict[str, ConflictState] = {}
            after = 0
            while after < total:
                rows = list(
                    await conn.execute(
                        select(events)
                        .where(
                            events.c.position > after,
                            events.c.position <= total,
                        )
                        .order_by(events.c.position)
                        .limit(batch_size)
                    )
                )
                if not rows:
                    break
                changes = Changes()
                for row in rows:
                    event = decode_row(row)
                    state = states.get(event.conflict) or ConflictState(event.conflict)
                    states[event.conflict], more = apply(state, event)
                    changes.merge(more)
                await apply_changes(conn, changes)
                after = rows[-1].position
                done += len(rows)
                if progress is not None:
                    progress(done, total)
            await conn.execute(
                update(projection_checkpoints)
                .where(projection_checkpoints.c.name == CHECKPOINT)
                .values(position=total, rebuilt_at=datetime.now(UTC))
            )
    store.forget_all()
    return ReplayStats(done, time.perf_counter() - started)
