"""`Flag`: an `asyncio.Event` that costs nothing until someone waits.

An `asyncio.Event` allocates its deque of waiters when it is made, about
760 bytes; an XMPP session holds several, most of them never awaited, and
a server holds thousands of idle sessions. A `Flag` makes one future only
when a task waits, shared by every task that waits meanwhile.
"""

from __future__ import annotations

import asyncio


class Flag:
    __slots__ = ("_is_set", "_waiter")

    def __init__(self) -> None:
        self._is_set = False
        self._waiter: asyncio.Future[None] | None = None

    def is_set(self) -> bool:
        return self._is_set

    def set(self) -> None:
        """Set the flag and wake every task waiting for it."""
        self._is_set = True
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def clear(self) -> None:
        self._is_set = False

    async def wait(self) -> None:
        """Return once the flag is set (at once if it is). A waiter that is
        cancelled (a timeout) leaves the others waiting."""
        if self._is_set:
            return
        if self._waiter is None:
            self._waiter = asyncio.get_running_loop().create_future()
        await asyncio.shield(self._waiter)
