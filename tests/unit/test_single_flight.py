"""``SingleFlight``: callers share lookups, and none is answered by a lookup that started
before it arrived (a head read after an acknowledged write must see that write)."""

from __future__ import annotations

import asyncio

from events.log.heads import SingleFlight


class Source:
    """A value that moves, read by lookups that take until ``release`` is set."""

    def __init__(self) -> None:
        self.value = 0
        self.lookups = 0
        self.release = asyncio.Event()

    async def lookup(self) -> int:
        self.lookups += 1
        seen = self.value  # read when the lookup starts, as a query's snapshot is
        await self.release.wait()
        return seen


async def test_a_lone_caller_runs_its_own_lookup() -> None:
    flights, source = SingleFlight(), Source()
    source.release.set()
    assert await flights.run("k", source.lookup) == 0
    source.value = 5
    assert await flights.run("k", source.lookup) == 5
    assert source.lookups == 2


async def test_callers_arriving_during_a_lookup_share_the_next_one_never_the_running_one() -> None:
    flights, source = SingleFlight(), Source()
    first = asyncio.ensure_future(flights.run("k", source.lookup))
    await asyncio.sleep(0)  # the first lookup has started, seeing 0
    source.value = 7  # a write acknowledged before the next callers arrive
    later = [asyncio.ensure_future(flights.run("k", source.lookup)) for _ in range(5)]
    await asyncio.sleep(0)
    assert source.lookups == 1  # they wait for the running one to end
    source.release.set()
    assert await first == 0
    assert await asyncio.gather(*later) == [7] * 5  # one more lookup, started after they came
    assert source.lookups == 2


async def test_keys_do_not_wait_for_each_other_and_errors_reach_every_sharer() -> None:
    flights, source = SingleFlight(), Source()
    blocked = asyncio.ensure_future(flights.run("a", source.lookup))
    await asyncio.sleep(0)

    async def failing() -> int:
        raise RuntimeError("down")

    running = asyncio.ensure_future(flights.run("b", source.lookup))
    await asyncio.sleep(0)
    sharers = [asyncio.ensure_future(flights.run("b", failing)) for _ in range(3)]
    source.release.set()
    assert await blocked == 0 and await running == 0
    for sharer in sharers:
        try:
            await sharer
        except RuntimeError as error:
            assert str(error) == "down"
        else:
            raise AssertionError("a sharer of a failed lookup got an answer")


async def test_a_cancelled_caller_does_not_strand_the_ones_waiting() -> None:
    flights, source = SingleFlight(), Source()
    first = asyncio.ensure_future(flights.run("k", source.lookup))
    await asyncio.sleep(0)
    waiting = asyncio.ensure_future(flights.run("k", source.lookup))
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.sleep(0)
    source.release.set()
    assert await asyncio.wait_for(waiting, 5) == 0
