"""The replay pauses the cyclic collector only inside a block, and only if it was running."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from events.log.gc_pause import gc_paused


@pytest.fixture(autouse=True)
def _collector_back_on() -> Iterator[None]:
    yield
    gc.enable()


def test_the_collector_is_off_inside_and_on_again_after() -> None:
    gc.enable()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_the_collector_is_on_again_after_an_error() -> None:
    gc.enable()
    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_a_collector_turned_off_by_someone_else_stays_off() -> None:
    gc.disable()
    with gc_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


class _Node:
    """A container the collector tracks, which a weak reference can watch."""

    def __init__(self) -> None:
        self.other: _Node | None = None


def test_what_the_block_leaves_alive_skips_the_young_generations_and_nothing_stays_frozen() -> None:
    gc.enable()
    frozen_before = gc.get_freeze_count()
    with gc_paused():
        kept = [_Node() for _ in range(1000)]
    assert gc.get_freeze_count() == frozen_before
    oldest = {id(o) for o in gc.get_objects(generation=2)}
    assert id(kept) in oldest and all(id(node) in oldest for node in kept)


def test_a_cycle_made_in_the_block_is_still_collected() -> None:
    gc.enable()
    with gc_paused():
        a, b = _Node(), _Node()
        a.other, b.other = b, a
        watched = weakref.ref(a)
        del a, b
    assert watched() is not None  # a cycle: reference counting alone cannot free it
    gc.collect()
    assert watched() is None
