"""Replay: events/s and peak memory at 100k and 1M events, beside a raw scan of the same table.

For each database (SQLite, PostgreSQL) and each size, in a freshly created, migrated database:

- the log is filled directly (rows built in Python with their hash chain, then ``COPY`` /
  ``executemany``): a realistic mix over 1,000 conflicts, per conflict an agreement then mostly
  allegations (half of them with a casualty range), some missions, a second agreement, ~1%
  retractions and ~1% corrections (so the replay's lookups run too);
- **replay**: ``projections.runner.replay`` (the whole blue/green rebuild: scratch tables, fold,
  catch-up and swap under the append lock), in a fresh subprocess so its peak RSS is its own;
- **raw scan**: the same columns of the same table read in the same keyset batches, by the bare
  driver (asyncpg / sqlite3) with no decoding, also in a fresh subprocess: the floor a replay
  could reach, measured in the same run (the machine is shared, absolute figures drift).
- **eventsourcing read + decode**: the same number of allegations saved by the ``eventsourcing``
  library (in the same database), read back as its own replay reads them
  (``recorder.select_notifications`` pages of 500 and ``mapper.to_domain_event``), in a fresh
  subprocess: issue 21's yardstick for the replay's rate.

Issue 21's lines are printed with their targets: replay events/s at least half the
``eventsourcing`` read + decode rate, replay time at most 3 times the raw scan's.

Peak RSS is the process's high-water mark (``VmHWM``); "base" is its RSS after its imports,
before any work, so peak - base is what the work itself needed. Flat memory means peak - base
stays the same from 100k to 1M events.

    .venv/bin/python bench/replay.py                                  # both databases, 100k and 1M
    .venv/bin/python bench/replay.py --sizes 100000 --databases postgresql --profile
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import asyncpg_dsn, fresh_database, sqlite_path
from events.log.codec import EVENT_COLUMNS
from events.model.envelope import GENESIS_HASH, canonical_json, chain_hash, content_hash

CONFLICTS = 1000
BATCH = 5000
SOURCES = [
    {"name": "Armenian Defense Ministry", "url": "https://example.org/am/statement"},
    {"name": "Azerbaijani Defense Ministry", "url": "https://example.org/az/statement"},
    {"name": "CSTO monitoring desk"},
]
T0 = datetime(2022, 9, 14, 16, 0, tzinfo=UTC)
COLUMNS = (*EVENT_COLUMNS, "hash")


def _rss_kb(field: str = "VmHWM") -> int:
    """This process's peak (``VmHWM``) or current (``VmRSS``) resident set, in kB. Not
    ``ru_maxrss``: on Linux that carries the parent's peak over ``exec``."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


# -- the log ---------------------------------------------------------------------------------


class _Conflict:
    def __init__(self, name: str) -> None:
        self.name = name
        self.version = 0
        self.clock = T0
        self.allegations: list[tuple[uuid.UUID, dict[str, Any]]] = []  # (id, data), live
        self.missions = 0
        self.agreements = 0


def _events(
    n: int, seed: int = 7
) -> Iterator[tuple[str, str, dict[str, Any], datetime, uuid.UUID]]:
    """(conflict, type, data, occurred_at, id) for n events, valid under the domain rules."""
    rng = random.Random(seed)
    conflicts = [_Conflict(f"bench-{i:04d}") for i in range(CONFLICTS)]
    made = 0
    while made < n:
        c = conflicts[made % CONFLICTS] if made < 2 * CONFLICTS else rng.choice(conflicts)
        c.clock += timedelta(minutes=rng.randint(1, 90))
        roll = rng.random()
        if c.agreements == 0 or (roll < 0.003 and c.agreements < 3):
            c.agreements += 1
            kind, data = (
                "agreement.signed",
                {
                    "agreement_id": f"cf-{c.agreements}",
                    "parties": ["Armenia", "Azerbaijan"],
                    "mediators": ["Russia"],
                    "kind": "ceasefire",
                    "terms": "bench agreement",
                },
            )
        elif roll < 0.05:
            c.missions += 1
            kind, data = (
                "mission.dispatched",
                {
                    "mission_id": f"m-{c.missions}",
                    "organization": "CSTO",
                    "purpose": "assessment",
                },
            )
        elif roll < 0.06 and c.allegations:
            target_id, target = c.allegations.pop(rng.randrange(len(c.allegations)))
            kind, data = (
                "allegation.retracted",
                {
                    "allegation_id": str(target_id),
                    "retracted_by": target["alleged_by"],
                    "reason": "withdrawn",
                },
            )
        elif roll < 0.07 and c.allegations:
            i = rng.randrange(len(c.allegations))
            target_id, target = c.allegations[i]
            new = {**target, "incidents": target["incidents"] % 9 + 1}
            c.allegations[i] = (target_id, new)
            kind, data = (
                "event.corrected",
                {
                    "event_id": str(target_id),
                    "event_type": "violation.alleged",
                    "data": new,
                    "reason": "corrected figures",
                },
            )
        else:
            by, accused = ("Armenia", "Azerbaijan") if roll < 0.5 else ("Azerbaijan", "Armenia")
            data = {
                "alleged_by": by,
                "accused": accused,
                "location": "eastern direction",
                "description": "fired at positions with small arms and mortars",
                "incidents": 1 + made % 3,
            }
            if roll < 0.55:
                low = made % 4
                data["casualties_claimed"] = {"low": low, "best": low + 1, "high": low + 3}
            kind = "violation.alleged"
        event_id = uuid.uuid4()
        if kind == "violation.alleged":
            c.allegations.append((event_id, data))
            if len(c.allegations) > 200:
                c.allegations.pop(0)
        made += 1
        yield c.name, kind, data, c.clock, event_id


def _rows(n: int) -> Iterator[tuple[Any, ...]]:
    versions: dict[str, int] = {}
    previous = GENESIS_HASH
    recorded = datetime(2026, 1, 1, tzinfo=UTC)
    for position, (conflict, kind, data, occurred, event_id) in enumerate(_events(n), start=1):
        version = versions[conflict] = versions.get(conflict, 0) + 1
        recorded += timedelta(microseconds=137)
        source = canonical_json(SOURCES[position % len(SOURCES)])
        data_json = canonical_json(data)
        schema = 2 if kind == "violation.alleged" else 1
        previous = chain_hash(
            previous,
            content_hash(
                event_id=str(event_id),
                type=kind,
                conflict=conflict,
                version=version,
                schema_version=schema,
                occurred_at=occurred,
                recorded_at=recorded,
                source_json=source,
                data_json=data_json,
            ),
        )
        yield (
            position, event_id, conflict, version, kind, schema, occurred, recorded,
            source, data_json, previous,
        )  # fmt: skip


async def _fill_postgresql(url: str, n: int) -> None:
    import asyncpg

    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        streams: dict[str, tuple[int, int]] = {}
        last: tuple[Any, ...] = ()
        chunk: list[tuple[Any, ...]] = []
        for row in _rows(n):
            chunk.append(row)
            streams[row[2]] = (row[3], row[0])
            last = row
            if len(chunk) == 20_000:
                await conn.copy_records_to_table("events", records=chunk, columns=COLUMNS)
                chunk = []
        await conn.copy_records_to_table("events", records=chunk, columns=COLUMNS)
        await conn.copy_records_to_table(
            "streams",
            records=[(c, v, p) for c, (v, p) in streams.items()],
            columns=("conflict", "version", "position"),
        )
        await conn.execute("UPDATE log_head SET position = $1, hash = $2", last[0], last[-1])
        await conn.execute("UPDATE projection_checkpoints SET position = $1", last[0])
        await conn.execute("VACUUM ANALYZE events")
    finally:
        await conn.close()


def _fill_sqlite(url: str, n: int) -> None:
    conn = sqlite3.connect(sqlite_path(url), isolation_level=None)
    conn.execute("BEGIN")
    streams: dict[str, tuple[int, int]] = {}
    last: tuple[Any, ...] = ()

    def converted() -> Iterator[tuple[Any, ...]]:
        nonlocal last
        for row in _rows(n):
            streams[row[2]] = (row[3], row[0])
            last = row
            yield (
                row[0], row[1].hex, row[2], row[3], row[4], row[5],
                row[6].strftime("%Y-%m-%d %H:%M:%S.%f"), row[7].strftime("%Y-%m-%d %H:%M:%S.%f"),
                row[8], row[9], row[10],
            )  # fmt: skip

    conn.executemany(
        f"INSERT INTO events ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
        converted(),
    )
    conn.executemany(
        "INSERT INTO streams VALUES (?, ?, ?)", [(c, v, p) for c, (v, p) in streams.items()]
    )
    conn.execute("UPDATE log_head SET position = ?, hash = ?", (last[0], last[-1]))
    conn.execute("UPDATE projection_checkpoints SET position = ?", (last[0],))
    conn.execute("COMMIT")
    conn.close()


def _fill_eventsourcing(kind: str, url: str, n: int) -> None:
    """``n`` allegations saved through ``eventsourcing``, in batches of ``BATCH`` events per
    aggregate and save (how it is filled is not measured)."""
    from bench.append import BenchEventsourcing, Ceasefire, eventsourcing_env
    from bench.harness import alleged_json

    app = BenchEventsourcing(env=eventsourcing_env(kind, url, 1))
    try:
        made = 0
        while made < n:
            aggregate = Ceasefire(f"es-{uuid.uuid4().hex[:8]}")
            for i in range(min(BATCH, n - made)):
                e = alleged_json(aggregate.conflict, i)
                aggregate.allege(e["occurred_at"], e["source"], **e["data"])
            made += min(BATCH, n - made)
            app.save(aggregate)
    finally:
        app.close()


def _eventsourcing_read(kind: str, url: str) -> dict[str, Any]:
    """``eventsourcing``'s read + decode of everything it holds, pages of 500."""
    from bench.append import BenchEventsourcing, eventsourcing_env

    base = _rss_kb("VmRSS")
    app = BenchEventsourcing(env=eventsourcing_env(kind, url, 1))
    started = time.perf_counter()
    count, start = 0, 1
    while True:
        page = app.recorder.select_notifications(start=start, limit=500)
        if not page:
            break
        for notification in page:
            app.mapper.to_domain_event(notification)
        count += len(page)
        start = page[-1].id + 1
    seconds = time.perf_counter() - started
    app.close()
    return {"events": count, "seconds": seconds, "base_kb": base, "peak_kb": _rss_kb()}


def fill(kind: str, url: str, n: int) -> float:
    started = time.perf_counter()
    if kind == "postgresql":
        asyncio.run(_fill_postgresql(url, n))
    else:
        _fill_sqlite(url, n)
    return time.perf_counter() - started


# -- the measured children -------------------------------------------------------------------


async def _replay(url: str) -> dict[str, Any]:
    from events.log.database import create_engine
    from events.log.store import EventStore
    from projections.runner import replay

    base = _rss_kb("VmRSS")
    store = EventStore(create_engine(url))
    try:
        stats = await replay(store, batch_size=BATCH)
    finally:
        await store.close()
    return {
        "events": stats.events,
        "seconds": stats.seconds,
        "locked_ms": stats.locked_seconds * 1000,
        "base_kb": base,
        "peak_kb": _rss_kb(),
    }


async def _scan_postgresql(url: str) -> dict[str, Any]:
    import asyncpg

    base = _rss_kb("VmRSS")
    conn = await asyncpg.connect(asyncpg_dsn(url))
    started = time.perf_counter()
    after, count = 0, 0
    query = (
        f"SELECT {', '.join(COLUMNS[:-1])} FROM events WHERE position > $1 "
        "ORDER BY position LIMIT $2"
    )
    while True:
        rows = await conn.fetch(query, after, BATCH)
        if not rows:
            break
        count += len(rows)
        after = rows[-1][0]
    seconds = time.perf_counter() - started
    await conn.close()
    return {"events": count, "seconds": seconds, "base_kb": base, "peak_kb": _rss_kb()}


def _scan_sqlite(url: str) -> dict[str, Any]:
    base = _rss_kb("VmRSS")
    conn = sqlite3.connect(sqlite_path(url))
    started = time.perf_counter()
    after, count = 0, 0
    query = (
        f"SELECT {', '.join(COLUMNS[:-1])} FROM events WHERE position > ? ORDER BY position LIMIT ?"
    )
    while True:
        rows = conn.execute(query, (after, BATCH)).fetchall()
        if not rows:
            break
        count += len(rows)
        after = rows[-1][0]
    seconds = time.perf_counter() - started
    conn.close()
    return {"events": count, "seconds": seconds, "base_kb": base, "peak_kb": _rss_kb()}


def child(what: str, url: str, profile: bool) -> None:
    if what == "replay":
        if profile:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            result = profiler.runcall(asyncio.run, _replay(url))
            stats = pstats.Stats(profiler, stream=sys.stderr)
            stats.sort_stats("tottime").print_stats(25)
        else:
            result = asyncio.run(_replay(url))
    elif what == "eventsourcing":
        kind = "postgresql" if url.startswith("postgresql") else "sqlite"
        result = _eventsourcing_read(kind, url)
    elif url.startswith("postgresql"):
        result = asyncio.run(_scan_postgresql(url))
    else:
        result = _scan_sqlite(url)
    print(json.dumps(result))


def _measure(what: str, url: str, profile: bool = False) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", what, url, *(["--profile"] if profile else [])],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{out.stderr}")
    if profile:
        print(out.stderr, file=sys.stderr)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# -- main ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--profile", action="store_true", help="cProfile the replay (stderr)")
    parser.add_argument(
        "--no-eventsourcing",
        action="store_true",
        help="skip the eventsourcing read + decode yardstick (it needs the bench extra)",
    )
    parser.add_argument("--child", nargs=2, metavar=("WHAT", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.profile)
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    for kind in args.databases.split(","):
        rows: dict[str, list[str]] = {}
        notes = []
        verdicts: list[str] = []
        for n in sizes:
            with fresh_database(kind) as url:
                filled = fill(kind, url, n)
                notes.append(f"{n:,} events written directly in {filled:.0f}s (not measured)")
                scan = _measure("scan", url)
                replayed = _measure("replay", url, args.profile)
                peer = None
                if not args.no_eventsourcing:
                    _fill_eventsourcing(kind, url, n)
                    peer = _measure("eventsourcing", url)
            assert replayed["events"] == n and scan["events"] == n, (replayed, scan)
            ratio = replayed["seconds"] / scan["seconds"]
            figures = {
                "raw scan, events/s (driver, no decoding)": f"{n / scan['seconds']:,.0f}",
                "replay, events/s (blue/green rebuild)": f"{n / replayed['seconds']:,.0f}",
                "replay time / raw scan time (issue 21: <= 3)": f"{ratio:.1f}",
                "replay peak RSS, MB": f"{replayed['peak_kb'] / 1024:,.0f}",
                "replay peak - base RSS, MB": (
                    f"{(replayed['peak_kb'] - replayed['base_kb']) / 1024:,.0f}"
                ),
                "raw scan peak RSS, MB": f"{scan['peak_kb'] / 1024:,.0f}",
                "append lock held for catch-up + swap, ms": f"{replayed['locked_ms']:,.0f}",
            }
            if peer is not None:
                peer_rate = peer["events"] / peer["seconds"]
                replay_rate = n / replayed["seconds"]
                figures["eventsourcing read + decode, events/s"] = f"{peer_rate:,.0f}"
                figures["replay events/s / eventsourcing read + decode (issue 21: >= 0.5)"] = (
                    f"{replay_rate / peer_rate:.2f}"
                )
                verdicts.append(
                    f"{n:,} events: replay / eventsourcing read + decode "
                    f"{replay_rate / peer_rate:.2f}, target >= 0.5: "
                    + ("holds" if replay_rate / peer_rate >= 0.5 else "SHORT")
                )
            verdicts.append(
                f"{n:,} events: replay time / raw scan time {ratio:.1f}, target <= 3: "
                + ("holds" if ratio <= 3 else "SHORT")
            )
            for name, value in figures.items():
                rows.setdefault(name, []).append(value)
        width = max(len(name) for name in rows)
        print(f"== replay on {kind}")
        print(" " * width + "".join(f"{f'{n:,} events':>20}" for n in sizes))
        for name, values in rows.items():
            print(f"{name:<{width}}" + "".join(f"{v:>20}" for v in values))
        for note in notes:
            print(f"   {note}")
        for verdict in verdicts:
            print(f"   issue 21: {verdict}")
        print(flush=True)


if __name__ == "__main__":
    main()
