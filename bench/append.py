"""Appends, events/s: the store, the HTTP API, and baselines measured in the same run.

For each database (SQLite, PostgreSQL) and each round, in a freshly created, migrated database:

- **store**: ``EventStore.append`` of one ``violation.alleged`` per call against a conflict with
  an agreement (so the rule checks, the fold and the projection writes all run), by 1 writer,
  by 8 concurrent writers (asyncio tasks) each on a conflict of its own, and by 8 writers all
  on ONE conflict (they race for the stream version: the store retries).
- **HTTP**: ``POST /v1/events`` with a writer key to a real uvicorn (a subprocess on loopback),
  by 1 and by 8 concurrent clients; as a share of the store-level rate.
- **baselines**: raw asyncpg ``BEGIN / INSERT / COMMIT`` of a comparable row into a comparable
  table (and raw sqlite3 with the same pragmas as the store; aiosqlite too, the driver the store
  uses), and the ``eventsourcing`` library appending one event per call (``Application.save``;
  its PostgreSQL recorder takes an exclusive table lock per append), by 1 writer and 8 threads;
  on PostgreSQL also in its documented faster mode (``POSTGRES_ENABLE_DB_FUNCTIONS=y``: one
  plpgsql call per save, no table lock), and issue 21's lines compare against the faster.
- **reads**: the same number of events read back and decoded, by the store (``read_all`` pages
  of 1000), by raw SQL (no decoding) and by ``eventsourcing`` (notifications + mapper).

The lines of issue 21's table are printed with their targets, and a note per line says whether
its median holds it. Ratios are computed within each round (the machine is shared: absolute
figures drift, ratios between figures taken minutes apart drift less). No assertions: it prints
figures.

    .venv/bin/python bench/append.py                      # both databases, 2 rounds
    .venv/bin/python bench/append.py --databases postgresql --events 5000 --only store
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import re
import sqlite3
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.services.appending import Appender
from bench.harness import (
    Server,
    Table,
    alleged,
    alleged_json,
    asyncpg_dsn,
    fresh_database,
    load,
    profile,
    signed,
    sqlite_path,
    stop_profile,
    timed,
)
from events.log.database import create_engine
from events.log.store import EventStore
from events.model.envelope import canonical_json
from events.model.errors import ConcurrencyError

GROUPS = ("store", "raw", "eventsourcing", "read", "http")
#: ``eventsourcing``'s PostgreSQL recorder in its faster mode (``POSTGRES_ENABLE_DB_FUNCTIONS``).
ES_FAST = "eventsourcing db functions"


# -- the store ---------------------------------------------------------------------------------


#: What the feed readers saw, per database: (events seen, positions skipped, seen twice).
_feed_checks: dict[str, list[tuple[int, int, int]]] = {}


async def _store_append(
    url: str,
    *,
    events: int,
    writers: int,
    shared: bool,
    synchronous: str = "NORMAL",
    feed_reader: bool = False,
) -> float:
    """``feed_reader``: a reader pages the global feed (``read_all(after=…)``) while the writers
    append, and checks that it sees every position once, in order (the no-skip guarantee)."""
    engine = create_engine(url, sqlite_synchronous=synchronous, pool_size=max(10, writers))
    store = EventStore(engine, sqlite_synchronous=synchronous)
    appender = Appender(store)
    tag = uuid.uuid4().hex[:8]
    conflicts = (
        [f"bench-{tag}"] * writers if shared else [f"bench-{tag}-{w}" for w in range(writers)]
    )
    for conflict in dict.fromkeys(conflicts):
        await appender.append([signed(conflict)])

    async def warm_up(conflict: str, w: int) -> None:
        for i in range(5):
            with contextlib.suppress(ConcurrencyError):
                await appender.append([alleged(conflict, w * 10 + i)])

    # Concurrently, so the pool holds as many connections as there are writers before timing.
    await asyncio.gather(*(warm_up(c, w) for w, c in enumerate(conflicts)))
    per_writer = events // writers
    gave_up = 0

    async def writer(conflict: str, w: int) -> None:
        nonlocal gave_up
        for i in range(per_writer):
            try:
                await appender.append([alleged(conflict, (w + 1) * 100_000 + i)])
            except ConcurrencyError:  # the store ran out of retries: count it, go on
                gave_up += 1

    done = asyncio.Event()
    reader = EventStore(create_engine(url, sqlite_synchronous=synchronous))
    seen = skipped = twice = 0

    async def read_feed(after: int) -> None:
        nonlocal seen, skipped, twice
        while True:
            finished = done.is_set()  # read once more after the writers are done
            page = await reader.read_all(after=after, limit=1000)
            for event in page:
                seen += 1
                skipped += max(0, event.position - after - 1)
                twice += event.position <= after
                after = max(after, event.position)
            if not page:
                if finished:
                    return
                await asyncio.sleep(0.001)

    feed = asyncio.ensure_future(read_feed(await store.head())) if feed_reader else None
    started = time.perf_counter()
    await asyncio.gather(*(writer(c, w) for w, c in enumerate(conflicts)))
    elapsed = time.perf_counter() - started
    done.set()
    if feed is not None:
        await feed
        _feed_checks.setdefault(store.dialect, []).append((seen, skipped, twice))
    await reader.close()
    await store.close()
    if gave_up:
        print(
            f"   ({gave_up} of {per_writer * writers} appends gave up with ConcurrencyError "
            "after the store's retries; not counted)",
            file=sys.stderr,
        )
    return timed(per_writer * writers - gave_up, elapsed)


async def _store_read(url: str, *, events: int) -> float:
    engine = create_engine(url)
    store = EventStore(engine)
    await store.read_all(after=0, limit=10)  # warm-up
    started = time.perf_counter()
    read, after = 0, 0
    while read < events:
        page = await store.read_all(after=after, limit=min(1000, events - read))
        if not page:
            break
        read += len(page)
        after = page[-1].position
    elapsed = time.perf_counter() - started
    await store.close()
    return timed(read, elapsed)


# -- raw drivers -------------------------------------------------------------------------------

_RAW_TABLE_PG = """
CREATE TABLE IF NOT EXISTS bench_raw_events (
    position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id uuid NOT NULL UNIQUE,
    conflict varchar(64) NOT NULL,
    version integer NOT NULL,
    type varchar(64) NOT NULL,
    schema_version smallint NOT NULL,
    occurred_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL,
    source text NOT NULL,
    data text NOT NULL,
    hash bytea NOT NULL,
    UNIQUE (conflict, version)
);
CREATE INDEX IF NOT EXISTS ix_bench_raw_events_conflict_recorded
    ON bench_raw_events (conflict, recorded_at);
"""

_RAW_TABLE_SQLITE = """
CREATE TABLE IF NOT EXISTS bench_raw_events (
    position INTEGER PRIMARY KEY,
    id CHAR(32) NOT NULL UNIQUE,
    conflict VARCHAR(64) NOT NULL,
    version INTEGER NOT NULL,
    type VARCHAR(64) NOT NULL,
    schema_version SMALLINT NOT NULL,
    occurred_at DATETIME NOT NULL,
    recorded_at DATETIME NOT NULL,
    source TEXT NOT NULL,
    data TEXT NOT NULL,
    hash BLOB NOT NULL,
    UNIQUE (conflict, version)
);
CREATE INDEX IF NOT EXISTS ix_bench_raw_events_conflict_recorded
    ON bench_raw_events (conflict, recorded_at);
"""

_RAW_INSERT_PG = (
    "INSERT INTO bench_raw_events (id, conflict, version, type, schema_version, occurred_at, "
    "recorded_at, source, data, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
)
_RAW_INSERT_SQLITE = _RAW_INSERT_PG.replace("$10", "?").replace("$1", "?")
for _n in range(2, 10):
    _RAW_INSERT_SQLITE = _RAW_INSERT_SQLITE.replace(f"${_n}", "?")


def _raw_payload(conflict: str, i: int) -> tuple[str, str]:
    event = alleged_json(conflict, i)
    return canonical_json(event["source"]), canonical_json(event["data"])


async def _asyncpg_append(url: str, *, events: int, writers: int) -> float:
    import asyncpg

    dsn = asyncpg_dsn(url)
    setup = await asyncpg.connect(dsn)
    await setup.execute(_RAW_TABLE_PG)
    await setup.close()
    pool = await asyncpg.create_pool(dsn, min_size=writers, max_size=writers)
    tag = uuid.uuid4().hex[:8]
    source, data = _raw_payload("x", 0)
    occurred = datetime(2022, 9, 23, tzinfo=UTC)
    digest = hashlib.sha256(b"bench").digest()
    per_writer = events // writers

    async def writer(w: int) -> None:
        conflict = f"raw-{tag}-{w}"
        async with pool.acquire() as conn:
            for version in range(1, per_writer + 1):
                async with conn.transaction():
                    await conn.execute(
                        _RAW_INSERT_PG,
                        uuid.uuid4(),
                        conflict,
                        version,
                        "violation.alleged",
                        1,
                        occurred,
                        datetime.now(UTC),
                        source,
                        data,
                        digest,
                    )

    async with pool.acquire() as conn:  # warm-up
        await conn.fetchval("SELECT 1")
    started = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in range(writers)))
    elapsed = time.perf_counter() - started
    await pool.close()
    return timed(per_writer * writers, elapsed)


async def _asyncpg_read(url: str, *, events: int) -> float:
    import asyncpg

    conn = await asyncpg.connect(asyncpg_dsn(url))
    statement = "SELECT * FROM events WHERE position > $1 ORDER BY position LIMIT $2"
    await conn.fetch(statement, 0, 10)
    started = time.perf_counter()
    read, after = 0, 0
    while read < events:
        rows = await conn.fetch(statement, after, min(1000, events - read))
        if not rows:
            break
        read += len(rows)
        after = rows[-1]["position"]
    elapsed = time.perf_counter() - started
    await conn.close()
    return timed(read, elapsed)


def _sqlite_connect(path: str, synchronous: str) -> sqlite3.Connection:
    """The store's pragmas (events/log/database.py): WAL, the given synchronous, busy timeout."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def _sqlite3_append(url: str, *, events: int, synchronous: str = "NORMAL") -> float:
    conn = _sqlite_connect(sqlite_path(url), synchronous)
    conn.executescript(_RAW_TABLE_SQLITE)
    tag = uuid.uuid4().hex[:8]
    source, data = _raw_payload("x", 0)
    digest = hashlib.sha256(b"bench").digest()
    started = time.perf_counter()
    for version in range(1, events + 1):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            _RAW_INSERT_SQLITE,
            (
                uuid.uuid4().hex,
                f"raw-{tag}",
                version,
                "violation.alleged",
                1,
                "2022-09-23 00:00:00.000000",
                datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" "),
                source,
                data,
                digest,
            ),
        )
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return timed(events, elapsed)


async def _aiosqlite_append(url: str, *, events: int) -> float:
    import aiosqlite

    conn = await aiosqlite.connect(sqlite_path(url), isolation_level=None, timeout=30)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
        await conn.execute(f"PRAGMA {pragma}")
    await conn.executescript(_RAW_TABLE_SQLITE)
    tag = uuid.uuid4().hex[:8]
    source, data = _raw_payload("x", 0)
    digest = hashlib.sha256(b"bench").digest()
    started = time.perf_counter()
    for version in range(1, events + 1):
        await conn.execute("BEGIN IMMEDIATE")
        await conn.execute(
            _RAW_INSERT_SQLITE,
            (
                uuid.uuid4().hex,
                f"raw-aio-{tag}",
                version,
                "violation.alleged",
                1,
                "2022-09-23 00:00:00.000000",
                datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" "),
                source,
                data,
                digest,
            ),
        )
        await conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    await conn.close()
    return timed(events, elapsed)


def _sqlite3_read(url: str, *, events: int) -> float:
    conn = _sqlite_connect(sqlite_path(url), "NORMAL")
    statement = "SELECT * FROM events WHERE position > ? ORDER BY position LIMIT ?"
    started = time.perf_counter()
    read, after = 0, 0
    while read < events:
        rows = conn.execute(statement, (after, min(1000, events - read))).fetchall()
        if not rows:
            break
        read += len(rows)
        after = rows[-1][0]
    elapsed = time.perf_counter() - started
    conn.close()
    return timed(read, elapsed)


# -- the eventsourcing library -----------------------------------------------------------------

try:
    from eventsourcing.application import Application
    from eventsourcing.domain import Aggregate, event
except ImportError:  # the bench extra is not installed: those rows print "-"
    Application = None  # type: ignore[assignment,misc]
else:

    class Ceasefire(Aggregate):  # type: ignore[misc]
        """A conflict as an ``eventsourcing`` aggregate, with the same allegation content."""

        def __init__(self, conflict: str) -> None:
            self.conflict = conflict
            self.allegations = 0

        @event("ViolationAlleged")
        def allege(
            self,
            occurred_at: str,
            source: dict,  # type: ignore[type-arg]
            alleged_by: str,
            accused: str,
            location: str,
            description: str,
            incidents: int,
        ) -> None:
            self.allegations += 1

    class BenchEventsourcing(Application):  # type: ignore[misc]
        pass


def eventsourcing_env(
    kind: str, url: str, pool: int, *, db_functions: bool = False
) -> dict[str, str]:
    """``db_functions``: its PostgreSQL recorder's documented faster mode
    (``POSTGRES_ENABLE_DB_FUNCTIONS=y``: one plpgsql call per save, no table lock)."""
    from sqlalchemy.engine import make_url

    if kind == "sqlite":
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(Path(sqlite_path(url)).with_name("eventsourcing.db")),
        }
    parsed = make_url(url)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": str(parsed.database),
        "POSTGRES_HOST": parsed.host or "127.0.0.1",
        "POSTGRES_PORT": str(parsed.port or 5432),
        "POSTGRES_USER": parsed.username or "postgres",
        "POSTGRES_PASSWORD": parsed.password or "",
        "POSTGRES_POOL_SIZE": str(max(5, pool)),
        "POSTGRES_ENABLE_DB_FUNCTIONS": "y" if db_functions else "n",
    }


def _eventsourcing_append(
    kind: str, url: str, *, events: int, writers: int, db_functions: bool = False
) -> float:
    if Application is None:
        return float("nan")
    app = BenchEventsourcing(env=eventsourcing_env(kind, url, writers, db_functions=db_functions))
    per_writer = events // writers
    aggregates = [Ceasefire(f"es-{uuid.uuid4().hex[:8]}-{w}") for w in range(writers)]
    app.save(*aggregates)

    def writer(w: int) -> None:
        aggregate = aggregates[w]
        for i in range(per_writer):
            e = alleged_json(aggregate.conflict, i)
            aggregate.allege(e["occurred_at"], e["source"], **e["data"])
            app.save(aggregate)

    writer_0 = aggregates[0]
    for i in range(5):  # warm-up
        e = alleged_json(writer_0.conflict, i)
        writer_0.allege(e["occurred_at"], e["source"], **e["data"])
        app.save(writer_0)
    started = time.perf_counter()
    if writers == 1:
        writer(0)
    else:
        with ThreadPoolExecutor(writers) as pool:
            list(pool.map(writer, range(writers)))
    elapsed = time.perf_counter() - started
    app.close()
    return timed(per_writer * writers, elapsed)


def _eventsourcing_read(kind: str, url: str, *, events: int) -> float:
    if Application is None:
        return float("nan")
    app = BenchEventsourcing(env=eventsourcing_env(kind, url, 1))
    started = time.perf_counter()
    read, start = 0, 1
    while read < events:
        page = app.recorder.select_notifications(start=start, limit=min(1000, events - read))
        if not page:
            break
        for notification in page:
            app.mapper.to_domain_event(notification)
        read += len(page)
        start = page[-1].id + 1
    elapsed = time.perf_counter() - started
    app.close()
    # Nothing to read when the eventsourcing group did not run (``--only read``): no figure.
    return timed(read, elapsed) if read else float("nan")


# -- over HTTP ---------------------------------------------------------------------------------


async def _writer_key(url: str) -> str:
    from app.services.api_keys import create_key

    engine = create_engine(url)
    async with engine.begin() as conn:
        _, secret = await create_key(conn, name="bench", role="writer")
    await engine.dispose()
    return secret


def _http_append(
    url: str, *, clients: int, shared: bool, seconds: float, webhook_worker: bool = True
) -> float:
    """POST /v1/events to a real uvicorn. ``webhook_worker=False`` serves without the webhook
    worker that ``ceasefire serve`` runs in-process, to show what it costs."""
    import httpx

    secret = asyncio.run(_writer_key(url))
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    tag = uuid.uuid4().hex[:8]
    conflicts = [f"http-{tag}"] if shared else [f"http-{tag}-{c}" for c in range(clients)]
    env = {"CEASEFIRE_DATABASE_URL": url}
    if not webhook_worker:
        env["CEASEFIRE_WEBHOOK_WORKER"] = "false"
    spy_to = _profiling.get("server")
    with Server("app.main:create_app", factory=True, env=env, profile_to=spy_to) as srv:
        with httpx.Client(base_url=srv.base_url, headers=headers) as client:
            for conflict in conflicts:
                body = signed(conflict).model_dump(mode="json")
                client.post("/v1/events", json=body).raise_for_status()
                for i in range(5):  # warm-up
                    client.post("/v1/events", json=alleged_json(conflict, i)).raise_for_status()
        result = load(
            srv.base_url + "/v1/events",
            method="POST",
            connections=clients,
            threads=clients,
            seconds=seconds,
            headers=headers,
            bodies=[json.dumps(alleged_json(c, 7)) for c in conflicts],
        )
    if result.bad:
        print(f"   ({result.bad} of {result.requests} HTTP appends were not 2xx)", file=sys.stderr)
    return result.rate


# -- the run -----------------------------------------------------------------------------------


#: ``--profile DIR``: where py-spy writes, and in which format (see ``harness.profile``).
_profiling: dict[str, str] = {}


def _measure(
    table: Table, round_: int, name: str, group: str, only: set[str], run: Callable[[], float]
) -> None:
    if group not in only:
        return
    spy = None
    if _profiling and group in ("store", "http"):
        slug = re.sub(r"[^a-z0-9]+", "-", f"{table.title.split()[2]} {name}".lower()).strip("-")
        path = f"{_profiling['dir']}/{slug}-round{round_ + 1}.{_profiling['format']}"
        if group == "http":
            _profiling["server"] = path  # the server is the process to watch
        else:
            spy = profile(os.getpid(), path)
    try:
        value = run()
    except Exception as error:  # one failing figure must not lose the others: print why
        print(f"   {name}: failed: {error!r}", file=sys.stderr)
        value = float("nan")
    finally:
        if spy is not None:
            stop_profile(spy)
        _profiling.pop("server", None)
    table.add(name, round_, value)
    print(f"   round {round_ + 1}  {name}: {value:,.0f} events/s", file=sys.stderr, flush=True)


def run_database(kind: str, table: Table, round_: int, args: argparse.Namespace) -> None:
    """One round on one database. Figures that are compared are taken next to each other, so
    the load other work puts on the machine drifts as little as possible between them."""
    only = set(args.only)
    n, w, secs = args.events, args.writers, args.http_seconds
    pg = kind == "postgresql"
    raw = "raw asyncpg" if pg else "raw sqlite3"

    def m(name: str, group: str, run: Callable[[], float]) -> None:
        _measure(table, round_, name, group, only, run)

    def store(
        writers: int, shared: bool = False, synchronous: str = "NORMAL", feed: bool = False
    ) -> float:
        return float(
            asyncio.run(
                _store_append(
                    url,
                    events=n,
                    writers=writers,
                    shared=shared,
                    synchronous=synchronous,
                    feed_reader=feed,
                )
            )
        )

    def raw_append(writers: int) -> float:
        if pg:
            return float(asyncio.run(_asyncpg_append(url, events=n, writers=writers)))
        return _sqlite3_append(url, events=n)

    with fresh_database(kind) as url:
        m("store, 1 writer", "store", lambda: store(1))
        m(
            "eventsourcing, 1 writer",
            "eventsourcing",
            lambda: _eventsourcing_append(kind, url, events=n, writers=1),
        )
        if pg:
            m(
                f"{ES_FAST}, 1 writer",
                "eventsourcing",
                lambda: _eventsourcing_append(kind, url, events=n, writers=1, db_functions=True),
            )
        m(f"{raw} BEGIN/INSERT/COMMIT, 1 writer", "raw", lambda: raw_append(1))
        m(f"store, {w} writers, own conflicts", "store", lambda: store(w))
        m(
            f"eventsourcing, {w} threads",
            "eventsourcing",
            lambda: _eventsourcing_append(kind, url, events=n, writers=w),
        )
        if pg:
            m(
                f"{ES_FAST}, {w} threads",
                "eventsourcing",
                lambda: _eventsourcing_append(kind, url, events=n, writers=w, db_functions=True),
            )
        if pg:
            m(f"{raw} BEGIN/INSERT/COMMIT, {w} writers", "raw", lambda: raw_append(w))
        m(f"store, {w} writers, one conflict", "store", lambda: store(w, shared=True))
        m(
            f"store, {w} writers, own conflicts, feed reader",
            "store",
            lambda: store(w, feed=True),
        )
        if not pg:
            m("store, 1 writer, synchronous=FULL", "store", lambda: store(1, synchronous="FULL"))
            m(
                "raw sqlite3, synchronous=FULL",
                "raw",
                lambda: _sqlite3_append(url, events=n, synchronous="FULL"),
            )
            m(
                "raw aiosqlite BEGIN/INSERT/COMMIT, 1 writer",
                "raw",
                lambda: asyncio.run(_aiosqlite_append(url, events=n)),
            )
        m("read: store read_all + decode", "read", lambda: asyncio.run(_store_read(url, events=n)))
        m("read: eventsourcing + decode", "read", lambda: _eventsourcing_read(kind, url, events=n))
        m(
            "read: raw driver, no decode",
            "read",
            lambda: (
                asyncio.run(_asyncpg_read(url, events=n)) if pg else _sqlite3_read(url, events=n)
            ),
        )
        m(
            "HTTP, 1 client",
            "http",
            lambda: _http_append(url, clients=1, shared=False, seconds=secs),
        )
        m(
            "HTTP, 1 client, webhook worker off",
            "http",
            lambda: _http_append(url, clients=1, shared=False, seconds=secs, webhook_worker=False),
        )
        m(
            f"HTTP, {w} clients, own conflicts",
            "http",
            lambda: _http_append(url, clients=w, shared=False, seconds=secs),
        )
        m(
            f"HTTP, {w} clients, one conflict",
            "http",
            lambda: _http_append(url, clients=w, shared=True, seconds=secs),
        )


def _issue_lines(kind: str, w: int) -> list[tuple[str, str, str, float]]:
    """The lines of issue 21's append table on ``kind``: (line, numerator, denominator, the
    floor its median must reach)."""
    pg = kind == "postgresql"
    raw = "raw asyncpg" if pg else "raw sqlite3"
    return [
        (
            "store 1w / eventsourcing 1w, its faster mode",
            "store, 1 writer",
            "eventsourcing, 1 writer, the faster mode",
            2.0,
        ),
        (
            "store 1w / raw driver BEGIN-INSERT-COMMIT",
            "store, 1 writer",
            f"{raw} BEGIN/INSERT/COMMIT, 1 writer",
            0.8 if pg else 0.35,
        ),
        (
            f"store {w}w own / store 1w",
            f"store, {w} writers, own conflicts",
            "store, 1 writer",
            2.0,
        ),
        ("HTTP 1 client / store 1w", "HTTP, 1 client", "store, 1 writer", 0.5),
        (
            f"HTTP {w} clients / store {w}w own",
            f"HTTP, {w} clients, own conflicts",
            f"store, {w} writers, own conflicts",
            0.5,
        ),
    ]


def add_ratios(table: Table, kind: str, w: int) -> None:
    # The peer at its best: the faster of its two PostgreSQL modes, round by round.
    peers = ["eventsourcing, 1 writer", f"{ES_FAST}, 1 writer"]
    if any(p in table.rows for p in peers):
        for r in range(table.rounds):
            best = max((v for p in peers if (v := table.get(p, r)) == v), default=float("nan"))
            table.add("eventsourcing, 1 writer, the faster mode", r, best)
    for name, numerator, denominator, floor in _issue_lines(kind, w):
        if numerator in table.rows and denominator in table.rows:
            table.ratio(f"{name}  (issue 21: >= {floor:g})", numerator, denominator)
            table.target(f"{name}  (issue 21: >= {floor:g})", minimum=floor)
    pairs = [
        (
            f"store {w}w one conflict / store 1w",
            f"store, {w} writers, one conflict",
            "store, 1 writer",
        ),
        (
            f"store {w}w own / eventsourcing {w} threads",
            f"store, {w} writers, own conflicts",
            f"eventsourcing, {w} threads",
        ),
        (
            "HTTP 1 client, worker off / store 1w",
            "HTTP, 1 client, webhook worker off",
            "store, 1 writer",
        ),
        (
            "read: store / eventsourcing",
            "read: store read_all + decode",
            "read: eventsourcing + decode",
        ),
        (
            "read: store / raw driver",
            "read: store read_all + decode",
            "read: raw driver, no decode",
        ),
    ]
    if kind == "sqlite":
        pairs.append(
            (
                "store FULL / eventsourcing (which syncs FULL)",
                "store, 1 writer, synchronous=FULL",
                "eventsourcing, 1 writer",
            )
        )
        pairs.append(
            (
                "raw aiosqlite / raw sqlite3",
                "raw aiosqlite BEGIN/INSERT/COMMIT, 1 writer",
                "raw sqlite3 BEGIN/INSERT/COMMIT, 1 writer",
            )
        )
    for name, numerator, denominator in pairs:
        if numerator in table.rows and denominator in table.rows:
            table.ratio(name, numerator, denominator)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--databases", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql"
    )
    parser.add_argument(
        "--events", type=int, default=2000, help="events appended (and read) per store-level figure"
    )
    parser.add_argument("--writers", type=int, default=8, help="concurrent writers")
    parser.add_argument(
        "--http-seconds", type=float, default=5.0, help="duration of each HTTP figure"
    )
    parser.add_argument("--rounds", type=int, default=2, help="times each figure is taken")
    parser.add_argument(
        "--only", default=",".join(GROUPS), help=f"comma-separated groups: {', '.join(GROUPS)}"
    )
    parser.add_argument(
        "--profile", help="a folder: py-spy records each store and HTTP figure into it"
    )
    parser.add_argument("--profile-format", default="svg", choices=["svg", "json", "txt"])
    args = parser.parse_args(argv)
    if args.profile:
        _profiling.update(dir=args.profile, format=args.profile_format)
    args.only = [g.strip() for g in args.only.split(",") if g.strip()]
    kinds = [k.strip() for k in args.databases.split(",") if k.strip()]
    tables = {k: Table(f"appends on {k}, events/s", args.rounds) for k in kinds}
    started = time.perf_counter()
    for round_ in range(args.rounds):
        for kind in kinds:
            print(f"-- round {round_ + 1}, {kind}", file=sys.stderr, flush=True)
            run_database(kind, tables[kind], round_, args)
    for kind, table in tables.items():
        add_ratios(table, kind, args.writers)
        for seen, skipped, twice in _feed_checks.get(kind, []):
            table.notes.append(
                f"feed reader beside {args.writers} writers: saw {seen} events, "
                f"{skipped} positions skipped, {twice} seen twice"
            )
        table.notes.append(
            f"{args.events} events per store-level figure, one event per append call; "
            f"HTTP: {args.http_seconds:g} s per figure; ratios taken within each round"
        )
        print(table.render())
        print()
    print(f"({time.perf_counter() - started:.0f} s in all)")


if __name__ == "__main__":
    main()
