"""The representation cache's LRU against ``cachetools.LRUCache`` on the same path (issue 20).

- get: a hit through our ``RepresentationCache.get`` (a coroutine: lookup, freshness check,
  move to the end) against the same coroutine around ``LRUCache.get``;
- put: keeping a new entry in a full cache, so every put evicts one: our ``_keep`` against
  ``LRUCache.__setitem__``, both counting the same ``footprint`` (about 4 µs of either).

Interleaved rounds, best of each, so a burst of load on a shared machine hits both alike.
``cachetools`` is not a dependency (ours was faster); install it somewhere to run this:

    pip install --target /tmp/cachetools cachetools
    PYTHONPATH=/tmp/cachetools .venv/bin/python bench/lru.py
"""

from __future__ import annotations

import sys
import timeit
from collections.abc import Callable, Coroutine, Hashable
from datetime import UTC, datetime
from itertools import count
from pathlib import Path
from typing import Any

import cachetools

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.reads.cache import RepresentationCache, _fresh, footprint
from app.reads.entity_tags import Representation, Validator

ENTRIES = 10_000
NUMBER = 100_000
ROUNDS = 15
NOW = datetime(2026, 1, 1, tzinfo=UTC)
KEYS: list[Hashable] = [("status", f"conflict-{i}", None, None) for i in range(ENTRIES)]
BODY = Representation(b"x" * 200, Validator(1))
SIZE = footprint(KEYS[0], BODY)


def _done(coroutine: Coroutine[Any, Any, Representation]) -> Representation:
    """The result of a coroutine that never suspends (a cache hit)."""
    try:
        coroutine.send(None)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    raise RuntimeError("suspended: not a hit")


async def _compute() -> Representation:
    return BODY


def ours() -> tuple[Callable[[Hashable], object], Callable[[Hashable], None]]:
    hits = RepresentationCache(1 << 40)
    full = RepresentationCache(SIZE * ENTRIES // 2)
    for key in KEYS:
        hits._keep(key, BODY)
        full._keep(key, BODY)
    return (
        lambda key: _done(hits.get(key, 0, NOW, _compute)),
        lambda key: full._keep(key, BODY),
    )


def theirs() -> tuple[Callable[[Hashable], object], Callable[[Hashable], None]]:
    def size(entry: tuple[Representation, int]) -> int:
        return entry[1]

    hits: cachetools.LRUCache[Hashable, tuple[Representation, int]] = cachetools.LRUCache(
        1 << 40, getsizeof=size
    )
    full: cachetools.LRUCache[Hashable, tuple[Representation, int]] = cachetools.LRUCache(
        SIZE * ENTRIES // 2, getsizeof=size
    )
    for key in KEYS:
        hits[key] = full[key] = (BODY, footprint(key, BODY))

    async def get(key: Hashable) -> Representation:
        entry = hits.get(key)
        if entry is not None and _fresh(entry[0], 0, NOW):
            return entry[0]
        raise RuntimeError("not a hit")

    def put(key: Hashable) -> None:
        full[key] = (BODY, footprint(key, BODY))

    return lambda key: _done(get(key)), put


def _per_call(operation: Callable[[Hashable], object]) -> float:
    """Seconds per call of ``operation`` on the keys in turn."""
    n = count()
    return timeit.timeit(lambda: operation(KEYS[next(n) % ENTRIES]), number=NUMBER) / NUMBER


def main() -> None:
    best = {name: [float("inf"), float("inf")] for name in ("ours", "cachetools")}
    for _ in range(ROUNDS):
        for name, make in (("ours", ours), ("cachetools", theirs)):
            get, put = make()
            got, kept = _per_call(get), _per_call(put)
            best[name] = [min(best[name][0], got), min(best[name][1], kept)]
    for name, (got, kept) in best.items():
        print(f"{name:10s} get {got * 1e9:5.0f} ns   put (evicting) {kept * 1e9:5.0f} ns")
    print(
        f"best of {ROUNDS} x {NUMBER:,}; cachetools {cachetools.__version__}, "
        f"CPython {sys.version.split()[0]}"
    )


if __name__ == "__main__":
    main()
