"""`Flag` behaves as `asyncio.Event` does for its users."""

from __future__ import annotations

import asyncio

import pytest

from roost.core.flag import Flag


async def test_waiters_wake_when_set_and_a_set_flag_does_not_wait() -> None:
    flag = Flag()
    assert not flag.is_set()
    waiters = [asyncio.create_task(flag.wait()) for _ in range(3)]
    await asyncio.sleep(0)
    assert not any(w.done() for w in waiters)
    flag.set()
    await asyncio.wait_for(asyncio.gather(*waiters), 5)
    assert flag.is_set()
    await asyncio.wait_for(flag.wait(), 5)  # set: returns at once


async def test_clear_makes_the_next_wait_wait_again() -> None:
    flag = Flag()
    flag.set()
    flag.clear()
    waiter = asyncio.create_task(flag.wait())
    await asyncio.sleep(0)
    assert not waiter.done()
    flag.set()
    await asyncio.wait_for(waiter, 5)


async def test_a_waiter_that_times_out_leaves_the_others_waiting() -> None:
    flag = Flag()
    other = asyncio.create_task(flag.wait())
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(flag.wait(), 0.01)
    assert not other.done()
    flag.set()
    await asyncio.wait_for(other, 5)
