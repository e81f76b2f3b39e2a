"""Reading a blob in chunks, on both backends: every byte once and in
order whatever the size against the chunk (the file store reads the next
chunk while the caller uses this one), and a reader that stops early
leaves nothing open or pending."""

from __future__ import annotations

import os

import pytest

from roost.store import blobs
from roost.store.store import Store


@pytest.mark.parametrize(
    "size",
    [
        0,
        1,
        blobs.READ_CHUNK_BYTES - 1,
        blobs.READ_CHUNK_BYTES,
        blobs.READ_CHUNK_BYTES * 2,
        blobs.READ_CHUNK_BYTES * 3 + 17,
        blobs.PG_CHUNK_BYTES + 5,
    ],
)
async def test_chunks_give_every_byte_in_order(store: Store, size: int) -> None:
    data = os.urandom(size)
    staged = await store.blobs.stage(data)
    chunks = [chunk async for chunk in store.blobs.chunks(staged.hash)]
    assert b"".join(chunks) == data
    assert all(chunks)


async def test_a_reader_that_stops_early_closes_cleanly(store: Store) -> None:
    data = os.urandom(blobs.READ_CHUNK_BYTES * 4)
    staged = await store.blobs.stage(data)
    for _ in range(20):  # stopping with a read ahead in flight, again and again
        reader = store.blobs.chunks(staged.hash)
        first = await anext(reader)
        assert first == data[: len(first)]
        await reader.aclose()
    assert await store.blobs.read(staged.hash) == data
