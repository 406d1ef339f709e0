"""``RepresentationCache``: its byte cap bounds what the entries really hold (keys, headers,
bodies and the objects around them), checked against the process's resident memory; and it is
still a least-recently-used cache that shares equal computations in flight."""

from __future__ import annotations

import asyncio
import gc
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.reads.cache import RepresentationCache, footprint
from app.reads.entity_tags import Representation, Validator

NOW = datetime(2026, 1, 1, tzinfo=UTC)
STATM = Path("/proc/self/statm")


def _rss() -> int:
    """The resident memory of this process, in bytes (Linux)."""
    return int(STATM.read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _tiny(i: int) -> tuple[tuple[object, ...], Representation]:
    """A key and a 2-byte representation shaped like a status read's: a fresh conflict slug
    and an instant in the key, a validator with an instant."""
    key = ("status", f"conflict-{i:09d}", NOW - timedelta(seconds=i), None)
    return key, Representation(b"{}", Validator(i, NOW + timedelta(seconds=i)))


async def _put(cache: RepresentationCache, key: object, representation: Representation) -> None:
    async def compute() -> Representation:
        return representation

    assert await cache.get(key, 0, NOW, compute) is representation


@pytest.mark.skipif(not STATM.exists(), reason="reads resident memory from /proc (Linux)")
async def test_many_tiny_entries_stay_within_the_cap_in_resident_memory() -> None:
    """120,000 entries of a 2-byte body each: counted by their bodies alone they would all be
    kept (240 KB of bodies under a 2 MiB cap) and hold about 70 MiB; counted by what they
    hold, the process grows by a small multiple of the cap at most."""
    entries, cap = 120_000, 2 * 1024 * 1024
    cache = RepresentationCache(cap)
    gc.collect()
    before = _rss()
    for i in range(entries):
        await _put(cache, *_tiny(i))
    gc.collect()
    grown = _rss() - before
    assert cache.bytes <= cap
    assert grown <= 3 * cap, f"resident memory grew by {grown / 2**20:.1f} MiB for a 2 MiB cap"
    assert len(cache) < entries // 10  # it evicted, rather than kept nearly all of them


def test_the_footprint_counts_the_key_and_headers_not_only_the_body() -> None:
    key, representation = _tiny(1)
    assert footprint(key, representation) > 300  # a 2-byte body
    long_key = (*key, "h" * 10_000)
    assert footprint(long_key, representation) >= footprint(key, representation) + 10_000
    linked = Representation(b"{}", Validator(1), headers=(("Link", "x" * 5_000),))
    assert footprint(key, linked) >= footprint(key, Representation(b"{}", Validator(1))) + 5_000


async def test_least_recently_used_entries_go_first() -> None:
    keys_and_representations = [_tiny(i) for i in range(1, 4)]  # footprints all equal
    room = sum(footprint(k, r) for k, r in keys_and_representations[:2])
    cache = RepresentationCache(room)
    first, second, third = keys_and_representations
    await _put(cache, *first)
    await _put(cache, *second)
    await _put(cache, *first)  # used again: the second is now the oldest
    await _put(cache, *third)
    assert len(cache) == 2 and cache.bytes <= room

    computed: list[object] = []

    async def again(key: object, representation: Representation) -> Representation:
        async def compute() -> Representation:
            computed.append(key)
            return representation

        return await cache.get(key, 0, NOW, compute)

    await again(*first)
    await again(*third)
    assert computed == []
    await again(*second)
    assert computed == [second[0]]


async def test_an_entry_larger_than_the_cap_is_served_but_not_kept() -> None:
    key, representation = _tiny(1)
    cache = RepresentationCache(footprint(key, representation) - 1)
    await _put(cache, key, representation)
    assert len(cache) == 0 and cache.bytes == 0


async def test_equal_computations_in_flight_are_shared() -> None:
    cache = RepresentationCache(1024 * 1024)
    key, representation = _tiny(1)
    release = asyncio.Event()
    calls = 0

    async def compute() -> Representation:
        nonlocal calls
        calls += 1
        await release.wait()
        return representation

    readers = [asyncio.ensure_future(cache.get(key, 0, NOW, compute)) for _ in range(5)]
    await asyncio.sleep(0)
    release.set()
    assert all(r is representation for r in await asyncio.gather(*readers))
    assert calls == 1
