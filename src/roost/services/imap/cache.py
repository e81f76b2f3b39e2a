"""FETCH data kept written: ENVELOPE, BODYSTRUCTURE and BODY by blob.

These three depend only on a message's blob (the trace fields in front of it
are none of the fields they show, and they count no offsets), and a blob never
changes: its name is the hash of its octets. So once written for one FETCH
they serve every later one, in every session and mailbox that holds the blob,
without reading or parsing the stored MIME structure again. That is what makes
a client's ``FETCH 1:* (FLAGS ENVELOPE)`` of a large mailbox cheap the second
time, as Dovecot's dovecot.index.cache does.

The cache is bounded by `[imap] fetch_cache_entries` and forgets the entry
used longest ago; an entry is a few hundred octets.
"""

from __future__ import annotations

from collections import OrderedDict

CacheKey = tuple[str, str, bool, bool]
"""(blob hash, FETCH item, IMAP4rev2 on, UTF-8 on): rev2 changes message/global
parts, UTF-8 how strings are written."""


class FetchCache:
    def __init__(self, entries: int) -> None:
        self._entries = entries
        self._data: OrderedDict[CacheKey, bytes] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: CacheKey) -> bytes | None:
        found = self._data.get(key)
        if found is None:
            self.misses += 1
            return None
        self._data.move_to_end(key)
        self.hits += 1
        return found

    def peek(self, key: CacheKey) -> bool:
        """Whether ``key`` is kept, without counting or reordering."""
        return key in self._data

    def put(self, key: CacheKey, value: bytes) -> None:
        if self._entries <= 0:
            return
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self._entries:
            self._data.popitem(last=False)
