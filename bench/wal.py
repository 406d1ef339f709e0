"""A burst of appends on SQLite: the WAL's size and the append's time as the burst goes on.

SQLite writes its WAL from the start again only once a checkpoint has copied all of it. While
appends committed beside every checkpoint, none ever did, and a burst grew the WAL by about
60 kB an append (about 1 GB after 16,000 appends in a row, beside a 16 MB database), each commit
slower as it grew (170 to 330 µs an append). This prints, every ``--every`` appends of one
writer (``Appender.append``, one allegation per call, in a fresh migrated database): the time
an append took over that stretch, and the sizes of the WAL and of the database file.
``--readers N`` pages the global feed in N tasks of the same process meanwhile (a reader's
snapshot can keep the WAL from starting over: then ``journal_size_limit`` bounds the file).

    .venv/bin/python bench/wal.py                         # 20,000 appends
    .venv/bin/python bench/wal.py --events 40000 --readers 2
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.services.appending import Appender
from bench.harness import alleged, fresh_database, signed, sqlite_path
from events.log.database import create_engine
from events.log.store import EventStore


def _mb(path: str) -> float:
    return os.path.getsize(path) / 1e6 if os.path.exists(path) else 0.0


async def _burst(url: str, events: int, every: int, readers: int) -> None:
    path = sqlite_path(url)
    store = EventStore(create_engine(url))
    appender = Appender(store)
    await appender.append([signed("bench-wal")])
    batch = [alleged("bench-wal", 1000 + i) for i in range(events)]  # built outside the timing
    stop = asyncio.Event()
    reads = 0

    async def reader() -> None:
        nonlocal reads
        own = EventStore(create_engine(url))
        after = 0
        try:
            while not stop.is_set():
                page = await own.read_all(after=max(0, after - 50), limit=100)
                if page:
                    after = page[-1].position
                reads += 1
                await asyncio.sleep(0)
        finally:
            await own.close()

    tasks = [asyncio.create_task(reader()) for _ in range(readers)]
    largest = 0.0
    print(f"{'appends':>8} {'us/append':>10} {'WAL MB':>8} {'db MB':>8} {'reads':>7}")
    try:
        for start in range(0, events, every):
            began = time.perf_counter()
            stretch = batch[start : start + every]
            for event in stretch:
                await appender.append([event])
            took = (time.perf_counter() - began) / len(stretch) * 1e6
            wal = _mb(path + "-wal")
            largest = max(largest, wal)
            print(
                f"{start + len(stretch):>8,} {took:>10.0f} {wal:>8.1f} {_mb(path):>8.1f} "
                f"{reads:>7,}",
                flush=True,
            )
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        await store.close()
    print(f"largest WAL seen: {largest:.1f} MB, database {_mb(path):.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000, help="appends in the burst")
    parser.add_argument("--every", type=int, default=2_000, help="appends between two lines")
    parser.add_argument("--readers", type=int, default=0, help="feed readers beside the writer")
    args = parser.parse_args()
    with fresh_database("sqlite") as url:
        asyncio.run(_burst(url, args.events, args.every, args.readers))


if __name__ == "__main__":
    main()
