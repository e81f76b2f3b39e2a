"""QRESYNC (RFC 7162 §3.2): ENABLE, SELECT with the QRESYNC parameter,
UID FETCH with VANISHED, and VANISHED in place of EXPUNGE; on SQLite and
PostgreSQL, over the wire and with imapclient."""

from __future__ import annotations

import re
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
    imapclient_login,
    in_thread,
)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def _code(lines: list[bytes], name: bytes) -> int:
    for line in lines:
        found = re.search(rb"\[" + name + rb" (\d+)\]", line)
        if found:
            return int(found.group(1))
    raise AssertionError(f"no {name!r} in {lines!r}")


async def test_select_qresync_tells_what_vanished_and_what_changed(
    tmp_path: Path, ca: trustme.CA, backend: str
) -> None:
    async with imap_roost(tmp_path, ca, backend=backend) as roost:
        await deliver(roost, [PLAIN, MULTIPART, NEWSLETTER, PLAIN, PLAIN])
        port = imap_port(roost)

        def scenario() -> None:
            one = Wire(port)
            assert one.ok("ENABLE QRESYNC") == [b"* ENABLED QRESYNC"]
            selected = one.ok("SELECT INBOX")
            validity = _code(selected, b"UIDVALIDITY")
            modseq = _code(selected, b"HIGHESTMODSEQ")
            one.close()

            other = Wire(port)
            other.ok("SELECT INBOX")
            other.ok("UID STORE 2 +FLAGS (\\Seen)")
            other.ok("UID STORE 3:4 +FLAGS (\\Deleted)")
            other.ok("EXPUNGE")
            other.close()

            two = Wire(port)
            two.ok("ENABLE QRESYNC")
            lines = two.ok(f"SELECT INBOX (QRESYNC ({validity} {modseq}))")
            assert lines[-2] == b"* VANISHED (EARLIER) 3:4"
            assert re.fullmatch(rb"\* 2 FETCH \(UID 2 FLAGS \(\\Seen\) MODSEQ \(\d+\)\)", lines[-1])
            assert not any(b"EXPUNGE" in line for line in lines)
            # Known UIDs limit both: 3 and 4 are not known here, 2 is.
            lines = two.ok(f"EXAMINE INBOX (QRESYNC ({validity} {modseq} 1:2,5))")
            assert lines[0].startswith(b"* OK [CLOSED]")
            assert not any(b"VANISHED" in line for line in lines)
            assert lines[-1].startswith(b"* 2 FETCH (UID 2 FLAGS (\\Seen) MODSEQ")
            # A UIDVALIDITY that does not match: a plain SELECT.
            lines = two.ok(f"SELECT INBOX (QRESYNC ({validity + 1} {modseq}))")
            assert not any(b"VANISHED" in line or b"FETCH" in line for line in lines)
            # The same through UID FETCH (CHANGEDSINCE ... VANISHED).
            lines = two.ok(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {modseq} VANISHED)")
            assert lines[0] == b"* VANISHED (EARLIER) 3:4"
            assert lines[1].startswith(b"* 2 FETCH (UID 2 FLAGS (\\Seen) MODSEQ")
            assert len(lines) == 2
            lines = two.ok(f"UID FETCH 4:5 (FLAGS) (CHANGEDSINCE {modseq} VANISHED)")
            assert lines == [b"* VANISHED (EARLIER) 4"]
            two.close()

        await in_thread(scenario)


async def test_vanished_replaces_expunge_once_enabled(tmp_path: Path, ca: trustme.CA) -> None:
    async with imap_roost(tmp_path, ca) as roost:
        await deliver(roost, [PLAIN, MULTIPART, NEWSLETTER, PLAIN])
        port = imap_port(roost)

        def scenario() -> None:
            one, other = Wire(port), Wire(port)
            one.ok("ENABLE QRESYNC")
            selected = one.ok("SELECT INBOX")
            other.ok("SELECT INBOX")
            other.ok("STORE 2,3 +FLAGS.SILENT (\\Deleted)")
            assert other.ok("EXPUNGE") == [b"* 3 EXPUNGE", b"* 2 EXPUNGE"]
            # A FETCH may not carry it; the client hears a HIGHESTMODSEQ below
            # the expunge's so it never skips past it (RFC 7162 §3.2).
            lines, done = one.command("FETCH 1:4 (FLAGS)")
            assert done.startswith(b"NO [EXPUNGEISSUED]")
            assert not any(b"VANISHED" in line for line in lines)
            before = _code(selected, b"HIGHESTMODSEQ")
            assert lines[-1] == b"* OK [HIGHESTMODSEQ %d] Expunges not yet told" % before
            assert one.ok("NOOP") == [b"* VANISHED 2:3"]
            # Its own EXPUNGE too.
            one.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
            assert one.ok("EXPUNGE") == [b"* VANISHED 4"]
            lines = one.ok("UID FETCH 1:3 (FLAGS) (CHANGEDSINCE 1 VANISHED)")
            assert lines[0] == b"* VANISHED (EARLIER) 2:3"
            assert lines[1].startswith(b"* 1 FETCH (UID 1 FLAGS () MODSEQ")
            one.close()
            # Without ENABLE QRESYNC the parameter and the modifier are BAD.
            other.ok("UNSELECT")
            _, done = other.command("SELECT INBOX (QRESYNC (1 1))")
            assert done.startswith(b"BAD")
            other.ok("SELECT INBOX")
            _, done = other.command("UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)")
            assert done.startswith(b"BAD")
            other.close()

        await in_thread(scenario)


async def test_imapclient_with_qresync(tmp_path: Path, ca: trustme.CA) -> None:
    async with imap_roost(tmp_path, ca) as roost:
        await deliver(roost, [PLAIN, MULTIPART, NEWSLETTER])
        port = imap_port(roost)

        def scenario() -> None:
            client = imapclient_login(port)
            assert client.has_capability("QRESYNC")
            assert client.enable("QRESYNC") == [b"QRESYNC"]
            info = client.select_folder("INBOX")
            modseq = info[b"HIGHESTMODSEQ"]
            client.add_flags([1], [b"$Done"])
            client.delete_messages([3])
            client.expunge()
            changed = client.fetch([1, 2], ["FLAGS"], modifiers=[f"CHANGEDSINCE {modseq}"])
            assert list(changed) == [1] and b"$Done" in changed[1][b"FLAGS"]
            assert changed[1][b"MODSEQ"][0] > modseq
            assert client.search(["ALL"]) == [1, 2]
            client.logout()

        await in_thread(scenario)
