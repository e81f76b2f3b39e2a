"""Feeding a sans-I/O protocol core from a `Connection`.

Services drive their cores themselves; this is the one loop they all
share: ask the core for an event, and read more only when it needs data.
"""

from __future__ import annotations

from typing import TypeVar

from roost.net.errors import ConnectionClosed
from roost.net.interfaces import Connection, SansIoCore

__all__ = ["next_event"]

EventT = TypeVar("EventT")

_READ_OCTETS = 64 * 1024


async def next_event(
    conn: Connection,
    core: SansIoCore[EventT],
    *,
    max_octets: int = _READ_OCTETS,
    timeout_s: float | None = None,
    between_commands: bool = False,
) -> EventT:
    """The core's next event, reading from *conn* as long as it needs data.

    At end of input the core gets ``receive_data(b"")``; a core that still
    has no event then is treated as a closed connection.
    """
    while True:
        event = core.next_event()
        if event is not None:
            return event
        data = await conn.read(max_octets, timeout_s=timeout_s, between_commands=between_commands)
        core.receive_data(data)
        if not data:
            event = core.next_event()
            if event is None:
                raise ConnectionClosed("the peer closed the connection")
            return event
