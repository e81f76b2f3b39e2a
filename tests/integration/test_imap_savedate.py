"""SAVEDATE (RFC 8514): FETCH SAVEDATE, the SAVED* search keys and
SAVEDATESUPPORTED, on SQLite and PostgreSQL.

The save date is when a message entered its current mailbox: APPEND with
an old internal date still saves it now, and COPY and MOVE give the copy a
new save date while the internal date travels with it (RFC 8514 §2).
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
import trustme

from roost.store.db import Tx
from roost.store.schema import messages
from tests.imap_support import (
    MULTIPART,
    PLAIN,
    Wire,
    deliver,
    imap_port,
    imap_roost,
    in_thread,
)

DATE = re.compile(rb'SAVEDATE "([ \d]\d-\w{3}-\d{4} \d{2}:\d{2}:\d{2} [+-]\d{4})"')


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def _imap_date(day: datetime.date) -> str:
    return f"{day.day}-{day:%b}-{day.year}"


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_save_dates(tmp_path: Path, ca: trustme.CA, backend: str) -> None:
    async with imap_roost(tmp_path, ca, backend=backend) as roost:
        # Before the deliveries: their save dates are among those checked.
        started = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
        await deliver(roost, [PLAIN, MULTIPART])
        port = imap_port(roost)
        wire = await in_thread(lambda: Wire(port))
        try:
            capabilities = await in_thread(lambda: wire.ok("CAPABILITY"))
            assert b" SAVEDATE" in capabilities[0]
            await in_thread(lambda: wire.ok("CREATE Kept"))
            # An old internal date: the save date is still today.
            message = b"Subject: old\r\n\r\nfrom 2001\r\n"
            await in_thread(
                lambda: wire.ok(
                    f'APPEND INBOX "05-Mar-2001 10:00:00 +0000" {{{len(message)}+}}\r\n'
                    + message.decode()
                )
            )
            await in_thread(lambda: wire.ok("SELECT INBOX"))
            fetched = await in_thread(lambda: wire.ok("FETCH 1:3 (INTERNALDATE SAVEDATE)"))
            ended = datetime.datetime.now(datetime.UTC)
            assert len(fetched) == 3
            assert b'INTERNALDATE " 5-Mar-2001 10:00:00 +0000"' in fetched[2]
            for line in fetched:
                found = DATE.search(line)
                assert found is not None, line
                text = found.group(1).decode().strip()
                saved = datetime.datetime.strptime(text, "%d-%b-%Y %H:%M:%S %z")
                assert started <= saved <= ended
            today = saved.astimezone(datetime.UTC).date()

            def search(keys: str) -> bytes:
                return wire.ok(f"SEARCH {keys}")[0]

            on, before, since, supported, internal = (
                await in_thread(lambda: search(f"SAVEDON {_imap_date(today)}")),
                await in_thread(lambda: search(f"SAVEDBEFORE {_imap_date(today)}")),
                await in_thread(lambda: search("SAVEDSINCE 1-Jan-2002")),
                await in_thread(lambda: search("SAVEDATESUPPORTED")),
                await in_thread(lambda: search("BEFORE 1-Jan-2002")),
            )
            assert on == b"* SEARCH 1 2 3"
            assert before == b"* SEARCH"
            assert since == b"* SEARCH 1 2 3"
            assert supported == b"* SEARCH 1 2 3"
            assert internal == b"* SEARCH 3"

            # COPY keeps the internal date; the copy's save date is its own.
            await in_thread(lambda: wire.ok("COPY 3 Kept"))
            await in_thread(lambda: wire.ok("SELECT Kept"))
            copied = await in_thread(lambda: wire.ok("FETCH 1 (INTERNALDATE SAVEDATE)"))
            assert b'INTERNALDATE " 5-Mar-2001 10:00:00 +0000"' in copied[0]
            assert DATE.search(copied[0]) is not None
        finally:
            wire.close()

        # A row saved before Roost kept save dates (NULL): FETCH says NIL
        # (RFC 8514 §3), and SEARCH goes by its internal date.
        async def forget(tx: Tx) -> None:
            await tx.execute(sa.update(messages).values(saved_at=None))

        await roost.store.write(forget)
        wire = await in_thread(lambda: Wire(port))
        try:
            await in_thread(lambda: wire.ok("SELECT INBOX"))
            old = await in_thread(lambda: wire.ok("FETCH 3 SAVEDATE"))
            assert old == [b"* 3 FETCH (SAVEDATE NIL)"]
            early = await in_thread(lambda: wire.ok("SEARCH SAVEDBEFORE 1-Jan-2002"))
            assert early == [b"* SEARCH 3"]
            everything = await in_thread(lambda: wire.ok("SEARCH SAVEDATESUPPORTED"))
            assert everything == [b"* SEARCH 1 2 3"]
        finally:
            wire.close()
