"""The octets FETCH sends from a message: BODY[section], BINARY (RFC 3516),
RFC822.*, held in memory when small and streamed from the store when large.

A message is read whole, in one trip to the message store, when it is at most
`[imap] stream_literal_bytes` long. A larger one is read a range at a time,
and a section larger than that setting is not read at all until it is sent:
it becomes a `Streamed` literal whose chunks the FETCH writer copies to the
client as they come off the store, waiting for the client to take its output
between chunks. So a FETCH of a 50 MB message holds a few hundred kilobytes,
not the message.

BINARY undoes the part's Content-Transfer-Encoding (RFC 3516 §4.2). Its
length is known only once decoded, so a large part is decoded twice as it
streams: once to count (and to learn whether it holds NUL, which only a
literal8 may carry), once to send. A part with an encoding Roost does not
know raises `UnknownTransferEncoding`, which FETCH answers NO [UNKNOWN-CTE].
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass

from roost.core.errors import NotFound
from roost.proto.imap.fetch import Partial
from roost.proto.imap.sections import BinaryRead, SectionRead, partial
from roost.proto.imap.values import Binary, ImapData
from roost.store.store import Store
from roost.store.types import MessageInfo

Chunks = Callable[[], AsyncGenerator[bytes, None]]


@dataclass(frozen=True, slots=True)
class Streamed:
    """A literal sent from the store as it is read: ``{length}`` (or the
    literal8 ``~{length}`` when ``binary``) and then what ``chunks`` yields,
    which is exactly ``length`` octets."""

    length: int
    chunks: Chunks
    binary: bool = False


async def read_range(
    store: Store, info: MessageInfo, start: int, end: int
) -> AsyncGenerator[bytes, None]:
    """Octets ``start`` to ``end`` of a message as served (trace, then blob)."""
    if end <= start:
        return
    async for chunk in _window(store.message_chunks(info), start, end):
        yield chunk


async def read_small(
    store: Store, infos: list[MessageInfo], *, budget_octets: int
) -> AsyncGenerator[tuple[list[MessageInfo], dict[int, bytes]], None]:
    """``infos`` in groups of at most ``budget_octets``, each with the octets of
    its small messages (by UID), read in one trip to the blob store: a FETCH of
    many sections costs one trip per group, not per message, and never holds
    more than the budget. A message larger than the budget is left to be read
    (or streamed) on its own."""
    if budget_octets <= 0:
        yield infos, {}
        return
    group: list[MessageInfo] = []
    octets = 0
    for info in infos:
        if info.size > budget_octets or octets + info.size > budget_octets:
            if group:
                yield group, await _read_group(store, group)
            group, octets = [], 0
        if info.size > budget_octets:
            yield [info], {}
            continue
        group.append(info)
        octets += info.size
    if group:
        yield group, await _read_group(store, group)


async def _read_group(store: Store, group: list[MessageInfo]) -> dict[int, bytes]:
    try:
        blobs = await store.blobs.read_many([info.blob_hash for info in group])
    except NotFound:
        return {}  # one went away meanwhile: each is read alone, and says so
    return {info.uid: info.trace + blob for info, blob in zip(group, blobs, strict=True)}


def literal_of(data: bytes) -> ImapData:
    """A literal, or a literal8 when it holds NUL (RFC 3516 §4.2: only a
    literal8 may)."""
    return Binary(data) if b"\x00" in data else data


class MessageBytes:
    """One message's octets for one FETCH response."""

    def __init__(
        self, store: Store, info: MessageInfo, *, stream_octets: int, data: bytes | None = None
    ) -> None:
        """``data`` is the whole message when it was read already (`read_small`)."""
        self._store = store
        self._info = info
        self._stream_octets = stream_octets
        self._data = data

    @property
    def small(self) -> bool:
        """Read whole, in one trip: nothing about it is streamed."""
        return self._info.size <= self._stream_octets

    async def load(self) -> None:
        """Read a small message whole (a large one is read by range)."""
        if self._data is None and self.small:
            self._data = await self._store.message_bytes(self._info)

    @property
    def data(self) -> bytes | None:
        """The whole message, when it was read whole."""
        return self._data

    async def read(self, start: int, end: int) -> bytes:
        if self._data is not None:
            return self._data[start:end]
        return b"".join([c async for c in read_range(self._store, self._info, start, end)])

    def _chunks(self, start: int, end: int) -> Chunks:
        return lambda: read_range(self._store, self._info, start, end)

    async def octets(self, start: int, end: int) -> ImapData | Streamed:
        """Bytes ``start`` to ``end``: held when small, else streamed."""
        if self._data is not None or end - start <= self._stream_octets:
            return await self.read(start, end)
        return Streamed(end - start, self._chunks(start, end))

    async def section(
        self, read: SectionRead | None, window: Partial | None
    ) -> ImapData | Streamed:
        """BODY[section]<partial> (RFC 9051 §6.4.5); an empty string for a
        section that names nothing, as Dovecot sends."""
        if read is None:
            return b""
        if read.header_filter is not None:
            octets = read.header_filter(await self.read(read.start, read.end))
            if window is not None:
                first, last = partial(len(octets), window.offset, window.length)
                octets = octets[first:last]
            return octets
        if window is not None:
            read = read.narrowed(window.offset, window.length)
        return await self.octets(read.start, read.end)

    # --- BINARY (RFC 3516)

    def _decoded(self, read: BinaryRead) -> Chunks:
        """The part's body as its decoder gives it, chunk by chunk."""

        async def chunks() -> AsyncGenerator[bytes, None]:
            decoder = read.decoder()
            source = read_range(self._store, self._info, read.start, read.end)
            async with contextlib.aclosing(source):
                async for chunk in source:
                    out = decoder.feed(chunk)
                    if out:
                        yield out
            tail = decoder.close()
            if tail:
                yield tail

        return chunks

    async def _decoded_whole(self, read: BinaryRead) -> bytes:
        decoder = read.decoder()
        return decoder.feed(await self.read(read.start, read.end)) + decoder.close()

    async def _measure(self, read: BinaryRead) -> tuple[int, bool]:
        """Decoded length of a large part, and whether it holds NUL."""
        length, nul = 0, False
        source = self._decoded(read)()
        async with contextlib.aclosing(source):
            async for chunk in source:
                length += len(chunk)
                nul = nul or b"\x00" in chunk
        return length, nul

    async def binary(self, read: BinaryRead | None, window: Partial | None) -> ImapData | Streamed:
        """BINARY[part]<partial>: NIL for a part that is not there."""
        if read is None:
            return None
        read.decoder()  # an unknown encoding fails before anything is sent
        if self._data is not None or read.end - read.start <= self._stream_octets:
            data = await self._decoded_whole(read)
            if window is not None:
                first, last = partial(len(data), window.offset, window.length)
                data = data[first:last]
            return literal_of(data)
        length, nul = await self._measure(read)
        first, last = (0, length)
        if window is not None:
            first, last = partial(length, window.offset, window.length)
        decoded = self._decoded(read)
        return Streamed(last - first, lambda: _window(decoded(), first, last), binary=nul)

    async def binary_size(self, read: BinaryRead | None) -> int:
        """BINARY.SIZE[part]: the decoded size (RFC 3516 §4.2); 0 for no part."""
        if read is None:
            return 0
        read.decoder()
        if self._data is not None or read.end - read.start <= self._stream_octets:
            return len(await self._decoded_whole(read))
        return (await self._measure(read))[0]


async def _window(
    source: AsyncIterator[bytes], first: int, last: int
) -> AsyncGenerator[bytes, None]:
    """Octets ``first`` to ``last`` of what ``source`` yields; ``source`` is
    closed as soon as ``last`` is reached (a blob read stops there)."""
    at = 0
    try:
        async for chunk in source:
            low, high = max(first - at, 0), min(last - at, len(chunk))
            at += len(chunk)
            if low < high:
                yield chunk if (low, high) == (0, len(chunk)) else chunk[low:high]
            if at >= last:
                return
    finally:
        aclose = getattr(source, "aclose", None)
        if aclose is not None:
            await aclose()
