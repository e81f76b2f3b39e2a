"""OBJECTID (RFC 8474): MAILBOXID through CREATE, SELECT, STATUS and RENAME;
EMAILID kept through COPY and MOVE and searchable; THREADID NIL."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import trustme

from tests.imap_support import (
    MULTIPART,
    PLAIN,
    Wire,
    deliver,
    imap_port,
    imap_roost,
    imapclient_login,
    in_thread,
)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def _id(pattern: bytes, lines: list[bytes]) -> bytes:
    for line in lines:
        found = re.search(pattern + rb" \(([A-Za-z0-9_-]+)\)", line)
        if found:
            return found.group(1)
    raise AssertionError(f"no {pattern!r} in {lines!r}")


async def test_mailboxid_follows_a_mailbox(tmp_path: Path, ca: trustme.CA, backend: str) -> None:
    async with imap_roost(tmp_path, ca, backend=backend) as roost:
        port = imap_port(roost)

        def scenario() -> None:
            wire = Wire(port)
            assert b"OBJECTID" in wire.ok("CAPABILITY")[0].split()
            _, done = wire.command("CREATE Work")
            created = _id(rb"\[MAILBOXID", [done])
            assert re.fullmatch(rb"F\d+-\d+", created)
            status = wire.ok("STATUS Work (MAILBOXID MESSAGES)")
            assert status == [b'* STATUS "Work" (MAILBOXID (' + created + b") MESSAGES 0)"]
            assert _id(rb"\[MAILBOXID", wire.ok("SELECT Work")) == created
            wire.ok("UNSELECT")
            wire.ok("RENAME Work Play")
            assert _id(rb"MAILBOXID", wire.ok("STATUS Play (MAILBOXID)")) == created
            wire.ok("DELETE Play")
            _, done = wire.command("CREATE Play")
            assert _id(rb"\[MAILBOXID", [done]) != created
            inbox = _id(rb"MAILBOXID", wire.ok("STATUS INBOX (MAILBOXID)"))
            assert inbox != created
            wire.close()

        await in_thread(scenario)


async def test_emailid_is_kept_by_copy_and_move(tmp_path: Path, ca: trustme.CA) -> None:
    async with imap_roost(tmp_path, ca) as roost:
        await deliver(roost, [PLAIN, MULTIPART])
        await deliver(roost, [PLAIN], trace=b"Delivered-To: alice@example.org\r\n")
        port = imap_port(roost)

        def scenario() -> None:
            wire = Wire(port)
            wire.ok("CREATE Kept")
            wire.ok("SELECT INBOX")
            lines = wire.ok("FETCH 1:3 (EMAILID THREADID)")
            ids = [_id(rb"EMAILID", [line]) for line in lines]
            assert all(re.fullmatch(rb"M[0-9a-f]{32}", i) for i in ids)
            # The same octets delivered again with another trace: another message.
            assert len(set(ids)) == 3
            assert all(b"THREADID NIL" in line for line in lines)
            assert wire.ok(f"SEARCH EMAILID {ids[1].decode()}") == [b"* SEARCH 2"]
            assert wire.ok("SEARCH THREADID T1") == [b"* SEARCH"]
            wire.ok("COPY 1 Kept")
            wire.ok("MOVE 2 Kept")
            wire.ok("SELECT Kept")
            moved = [_id(rb"EMAILID", [line]) for line in wire.ok("FETCH 1:2 EMAILID")]
            assert moved == ids[:2]
            wire.close()
            client = imapclient_login(port)
            client.select_folder("Kept", readonly=True)
            fetched = client.fetch([1], ["EMAILID"])
            assert fetched[1][b"EMAILID"] == (ids[0],)
            client.logout()

        await in_thread(scenario)
