"""Checking the projections against the log: rebuild them aside and compare, row for row.

Every projection is rebuilt into ``verify_*`` scratch tables the way a replay rebuilds (same
fold, same writer), then each is compared with its live table as a multiset of rows, in the
database: ``GROUP BY`` every column with a count, ``EXCEPT`` the other side. The comparison
runs in a snapshot in which the log's head is exactly where the rebuild stopped, so appends go
on meanwhile; when the log keeps moving it falls back to comparing under the append lock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from events.log.store import EventStore
from events.log.tables import metadata
from projections.driver import RawConnection, raw_connection
from projections.jobs import finish_job, heartbeat_every, start_job
from projections.runner import PROJECTIONS, Replayer
from projections.scratch import Scratch, drop_leftovers

__all__ = ["Difference", "verify_projections"]

_EXAMPLES = 5
_SNAPSHOT_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class Difference:
    projection: str
    #: Rows (counted with their multiplicity) in the live table and not in the rebuilt one.
    only_live: int
    #: Rows in the rebuilt table and not in the live one.
    only_rebuilt: int
    examples: list[str] = field(default_factory=list)


async def verify_projections(
    store: EventStore,
    *,
    batch_size: int = 5000,
    progress: Callable[[int, int], None] | None = None,
) -> list[Difference]:
    """Rebuild every projection aside and compare; the projections that differ. Runs as a
    projection job of kind ``verify`` (``ProjectionJobRunningError`` when one runs)."""
    job = await start_job(store.engine, "verify", list(PROJECTIONS))
    beat = heartbeat_every(store.engine, job.id, 1.0)
    scratch = Scratch("verify_", tuple(PROJECTIONS.values()))
    try:
        async with (
            raw_connection(store.engine) as conn,
            raw_connection(store.engine) as reader,
        ):
            await drop_leftovers(conn)
            await scratch.create(conn)
            try:
                replayer = Replayer(conn, scratch.rename, reader=reader)

                async def on_batch(_: int) -> None:
                    if progress is not None:
                        progress(replayer.position, head)
                    await beat(replayer.position, head)

                for _ in range(_SNAPSHOT_ATTEMPTS):
                    head = await conn.head()
                    await replayer.run(head, batch_size=batch_size, on_batch=on_batch)
                    async with conn.snapshot():
                        if await conn.head() == replayer.position:
                            differences = await _compare(conn, scratch)
                            break
                else:
                    async with conn.transaction(lock=True) as head_now:
                        assert head_now is not None
                        await replayer.run(head_now, batch_size=batch_size, in_transaction=True)
                        differences = await _compare(conn, scratch)
            finally:
                await scratch.drop(conn)
    except BaseException as error:
        await finish_job(store.engine, job.id, "failed", error=f"{type(error).__name__}: {error}")
        raise
    await finish_job(store.engine, job.id, "succeeded", done=replayer.position)
    return differences


async def _compare(conn: RawConnection, scratch: Scratch) -> list[Difference]:
    differences = []
    for name, live in PROJECTIONS.items():
        columns = ", ".join(f'"{c.name}"' for c in metadata.tables[live].columns)
        rebuilt = scratch.name(live)

        def only(a: str, b: str, columns: str = columns) -> str:
            return (
                f'SELECT {columns}, count(*) AS n FROM "{a}" GROUP BY {columns} '
                f'EXCEPT SELECT {columns}, count(*) AS n FROM "{b}" GROUP BY {columns}'
            )

        only_live = await conn.fetch(only(live, rebuilt))
        only_rebuilt = await conn.fetch(only(rebuilt, live))
        if only_live or only_rebuilt:
            examples = [f"live only: {tuple(r)}" for r in only_live[:_EXAMPLES]]
            examples += [f"rebuilt only: {tuple(r)}" for r in only_rebuilt[:_EXAMPLES]]
            differences.append(
                Difference(
                    projection=name,
                    only_live=sum(int(r[-1]) for r in only_live),
                    only_rebuilt=sum(int(r[-1]) for r in only_rebuilt),
                    examples=examples,
                )
            )
    return differences
