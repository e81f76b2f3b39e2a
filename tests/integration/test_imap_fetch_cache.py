"""FETCH reads stored MIME structures a batch at a time, and keeps ENVELOPE,
BODYSTRUCTURE and BODY written by blob: a second FETCH reads no structure."""

from __future__ import annotations

from pathlib import Path

import pytest
import trustme

from roost.services.imap import bodies
from roost.services.imap.service import ImapService
from roost.store.db import Tx
from roost.store.mail import MailStore, UidRanges
from roost.store.store import Store
from roost.store.types import MessageInfo
from tests.imap_support import (
    MULTIPART,
    NEWSLETTER,
    PLAIN,
    Wire,
    deliver,
    imap_port,
    imap_roost,
    in_thread,
)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


async def test_summaries_come_from_the_cache_the_second_time(
    tmp_path: Path, ca: trustme.CA, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with imap_roost(tmp_path, ca) as roost:
        await deliver(roost, [PLAIN, MULTIPART, NEWSLETTER])
        await deliver(roost, [MULTIPART], mailbox="Archive")
        port = imap_port(roost)
        service = next(s for s in roost.services if isinstance(s, ImapService))
        cache = service._deps.fetch_cache
        reads: list[int] = []
        original = MailStore.structures

        async def counted(
            self: MailStore, tx: Tx, mailbox_id: int, uids: UidRanges | None = None
        ) -> dict[int, str | None]:
            found = await original(self, tx, mailbox_id, uids)
            reads.append(len(found))
            return found

        monkeypatch.setattr(MailStore, "structures", counted)

        def scenario() -> None:
            wire = Wire(port)
            wire.ok("EXAMINE INBOX")
            first = wire.ok("FETCH 1:3 (ENVELOPE BODYSTRUCTURE BODY)")
            assert reads == [3]
            again = wire.ok("FETCH 1:3 (ENVELOPE BODYSTRUCTURE BODY)")
            assert again == first and reads == [3]
            (inbox,) = wire.ok("FETCH 2 (BODYSTRUCTURE)")
            # The same blob elsewhere: the same answer, still from the cache.
            wire.ok("EXAMINE Archive")
            (archived,) = wire.ok("FETCH 1 (BODYSTRUCTURE)")
            assert reads == [3]
            assert archived.split(b" FETCH ")[1] == inbox.split(b" FETCH ")[1]
            # A section still needs the structure (where its octets are).
            wire.ok("FETCH 1 (ENVELOPE BODY.PEEK[1])")
            assert reads == [3, 1]
            wire.close()

        await in_thread(scenario)
        assert len(cache) == 9 and cache.hits >= 8


async def test_sections_of_small_messages_are_read_in_one_trip(
    tmp_path: Path, ca: trustme.CA, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with imap_roost(tmp_path, ca, imap={"stream_literal_bytes": 65_536}) as roost:
        # Four small ones, then one over the budget, read on its own.
        await deliver(roost, [PLAIN, MULTIPART, NEWSLETTER, PLAIN, b"X: y\r\n\r\n" + b"z" * 70_000])
        port = imap_port(roost)
        groups: list[list[int]] = []
        read_group = bodies._read_group

        async def grouped(store: Store, group: list[MessageInfo]) -> dict[int, bytes]:
            groups.append([info.uid for info in group])
            return await read_group(store, group)

        monkeypatch.setattr(bodies, "_read_group", grouped)

        def scenario() -> None:
            wire = Wire(port)
            wire.ok("EXAMINE INBOX")
            lines = wire.ok("FETCH 1:5 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            assert len(lines) == 5 and b"Subject: Lunch" in lines[0]
            wire.close()

        await in_thread(scenario)
        assert groups == [[1, 2, 3, 4]]
