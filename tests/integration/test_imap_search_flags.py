"""SEARCH on flags, keywords and MODSEQ runs in the database (`MailRole.find`);
the scan gives the same answers, which the same keys under OR (always a scan)
check, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
import trustme

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

QUERIES = (
    "ALL",
    "UNSEEN",
    "SEEN FLAGGED",
    "UNDELETED UNSEEN",
    "KEYWORD $work",
    "UNKEYWORD $Work UNSEEN",
    "KEYWORD $nothing",
    "RECENT",
    "NEW",
    "DELETED",
)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


async def test_database_and_scan_agree(tmp_path: Path, ca: trustme.CA, backend: str) -> None:
    async with imap_roost(tmp_path, ca, backend=backend) as roost:
        await deliver(roost, [PLAIN, MULTIPART, NEWSLETTER, PLAIN, MULTIPART, PLAIN])
        port = imap_port(roost)

        def scenario() -> None:
            wire = Wire(port)
            wire.ok("SELECT INBOX")
            wire.ok("STORE 1,3 +FLAGS.SILENT (\\Seen)")
            wire.ok("STORE 3:4 +FLAGS.SILENT (\\Flagged $Work)")
            wire.ok("STORE 5 +FLAGS.SILENT (\\Deleted)")
            for query in QUERIES:
                (fast,) = wire.ok(f"SEARCH {query}")
                (scan,) = wire.ok(f"SEARCH OR ({query}) ({query})")
                assert fast == scan, query
            assert wire.ok("UID SEARCH UNSEEN") == [b"* SEARCH 2 4 5 6"]
            assert wire.ok("SEARCH KEYWORD $WORK") == [b"* SEARCH 3 4"]
            # MODSEQ: the highest of the matches, none when nothing matches.
            (line,) = wire.ok("SEARCH MODSEQ 1 FLAGGED")
            assert line.startswith(b"* SEARCH 3 4 (MODSEQ ")
            assert wire.ok("SEARCH MODSEQ 999999") == [b"* SEARCH"]
            # A sequence set past the last message names nothing there in a
            # SEARCH key (RFC 9051's own `UID SEARCH 1:5000` example), with or
            # without the index; FETCH still refuses it.
            assert wire.ok("SEARCH 4:100 UNDELETED") == [b"* SEARCH 4 6"]
            assert wire.ok("SEARCH 99:100") == [b"* SEARCH"]
            assert wire.ok("SEARCH OR 6:100 1") == [b"* SEARCH 1 6"]
            _, status = wire.command("FETCH 1:100 FLAGS")
            assert status.startswith(b"BAD "), status
            wire.close()

        await in_thread(scenario)
