"""The cyclic collector is paused only inside a block, and only if it was running; only a
replay's pause promotes what the block leaves alive, and frequent pauses keep no garbage."""

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
    with gc_paused(promote=True):
        kept = [_Node() for _ in range(1000)]
    assert gc.get_freeze_count() == frozen_before
    oldest = {id(o) for o in gc.get_objects(generation=2)}
    assert id(kept) in oldest and all(id(node) in oldest for node in kept)


@pytest.mark.parametrize("promote", [False, True])
def test_a_cycle_made_in_the_block_is_still_collected(promote: bool) -> None:
    gc.enable()
    with gc_paused(promote=promote):
        a, b = _Node(), _Node()
        a.other, b.other = b, a
        watched = weakref.ref(a)
        del a, b
    assert watched() is not None  # a cycle: reference counting alone cannot free it
    gc.collect()
    assert watched() is None


def test_cycles_made_between_frequent_pauses_are_collected_without_asking() -> None:
    """Page reads pause the collector as often as clients ask, between other requests' work.
    Promoting at each pause lifted those requests' cyclic garbage past the young collections
    before one could run, and it does not count towards a full one: all of it was kept."""
    gc.enable()
    made = 20_000
    alive: weakref.WeakSet[_Node] = weakref.WeakSet()
    for i in range(made):
        node = _Node()
        node.other = node  # a cycle: only the collector frees it
        alive.add(node)
        del node
        if i % 50 == 0:
            with gc_paused():
                pass
    # The young collections that ran meanwhile freed nearly all of them (no gc.collect()).
    assert len(alive) < made // 10
