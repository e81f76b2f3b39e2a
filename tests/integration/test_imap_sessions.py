"""Several sessions on one mailbox, IDLE hearing delivery through the Spool, and
clients that misbehave: on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import pytest
import trustme

from roost.control.intake import Envelope, Intake
from roost.store.types import NewRecipient
from tests.imap_support import (
    ALICE,
    ALICE_PASSWORD,
    MULTIPART,
    NEWSLETTER,
    PLAIN,
    TIMEOUT_S,
    deliver,
    imap_port,
    imap_roost,
    imapclient_login,
    imaplib_login,
    in_thread,
)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


async def test_expunge_reaches_another_session_only_when_allowed(
    tmp_path: Path, ca: trustme.CA, backend: str
) -> None:
    async with imap_roost(tmp_path, ca, backend=backend) as roost:
        await deliver(roost, [PLAIN, MULTIPART, NEWSLETTER])
        port = imap_port(roost)

        def scenario() -> None:
            one = imaplib_login(port)
            two = imaplib_login(port)
            one.select("INBOX")
            two.select("INBOX")
            one.store("2", "+FLAGS", "\\Deleted")
            typ, data = one.expunge()
            assert (typ, data) == ("OK", [b"2"])
            # FETCH, STORE and SEARCH never carry EXPUNGE (RFC 9051 §7.5.1): for
            # session two, message 2 keeps its number until it is told.
            typ, data = two.fetch("1:3", "(UID)")
            assert typ == "NO" and b"EXPUNGEISSUED" in data[0]
            assert two.untagged_responses.pop("FETCH") == [b"1 (UID 1)", b"3 (UID 3)"]
            assert "EXPUNGE" not in two.untagged_responses
            typ, data = two.store("3", "+FLAGS", "\\Seen")
            assert typ == "OK" and data == [b"3 (FLAGS (\\Seen))"]
            typ, data = two.search(None, "ALL")
            assert data == [b"1 3"] and "EXPUNGE" not in two.untagged_responses
            # NOOP may: now message 3 becomes 2.
            assert two.noop()[0] == "OK"
            assert two.untagged_responses.pop("EXPUNGE") == [b"2"]
            typ, data = two.fetch("2", "(UID FLAGS)")
            assert data == [b"2 (UID 3 FLAGS (\\Seen))"]
            # Session one hears of two's flag change at its next command.
            one.noop()
            assert one.untagged_responses.pop("FETCH") == [b"2 (UID 3 FLAGS (\\Seen))"]
            one.logout()
            two.logout()

        await in_thread(scenario)


async def test_uid_commands_may_carry_expunges(tmp_path: Path, ca: trustme.CA) -> None:
    async with imap_roost(tmp_path, ca) as roost:
        await deliver(roost, [PLAIN, MULTIPART])
        port = imap_port(roost)

        def scenario() -> None:
            one = imaplib_login(port)
            two = imaplib_login(port)
            one.select("INBOX")
            two.select("INBOX")
            one.store("1", "+FLAGS", "\\Deleted")
            one.expunge()
            typ, _data = two.uid("FETCH", "1:*", "(FLAGS)")
            assert typ == "OK"
            assert two.untagged_responses.pop("EXPUNGE") == [b"1"]
            one.logout()
            two.logout()

        await in_thread(scenario)


async def test_idle_hears_mail_delivered_through_the_spool(
    tmp_path: Path, ca: trustme.CA, backend: str
) -> None:
    async with imap_roost(tmp_path, ca, backend=backend) as roost:
        await deliver(roost, [PLAIN])
        port = imap_port(roost)
        intake = Intake(roost.store, roost.config.spool, roost.store.clock)
        idling = asyncio.Event()
        loop = asyncio.get_running_loop()

        def scenario() -> list[object]:
            client = imapclient_login(port)
            client.select_folder("INBOX")
            client.idle()
            loop.call_soon_threadsafe(idling.set)
            heard: list[object] = []
            deadline = TIMEOUT_S
            while not any(r[1] == b"EXISTS" for r in heard if isinstance(r, tuple)):
                got = client.idle_check(timeout=deadline)
                assert got, "nothing heard while idling"
                heard += got
            client.idle_done()
            client.logout()
            return heard

        task = asyncio.ensure_future(in_thread(scenario))
        await asyncio.wait_for(idling.wait(), TIMEOUT_S)
        await asyncio.sleep(0.2)  # let IDLE's "+ idling" reach the client first
        await intake.accept_bytes(
            NEWSLETTER, Envelope("news@example.com", (NewRecipient(ALICE),), source="smtp")
        )
        heard = await task
        assert (2, b"EXISTS") in heard


async def test_idle_hears_flag_changes_and_expunges(tmp_path: Path, ca: trustme.CA) -> None:
    async with imap_roost(tmp_path, ca) as roost:
        await deliver(roost, [PLAIN, MULTIPART])
        port = imap_port(roost)
        idling = asyncio.Event()
        loop = asyncio.get_running_loop()

        def idler() -> list[object]:
            client = imapclient_login(port)
            client.select_folder("INBOX")
            client.idle()
            loop.call_soon_threadsafe(idling.set)
            heard: list[object] = []
            while not any(isinstance(r, tuple) and r[1] == b"EXPUNGE" for r in heard):
                got = client.idle_check(timeout=TIMEOUT_S)
                assert got, "nothing heard while idling"
                heard += got
            client.idle_done()
            client.logout()
            return heard

        def changer() -> None:
            client = imapclient_login(port)
            client.select_folder("INBOX")
            client.add_flags([1], [b"\\Flagged"])
            client.add_flags([2], [b"\\Deleted"])
            client.expunge()
            client.logout()

        task = asyncio.ensure_future(in_thread(idler))
        await asyncio.wait_for(idling.wait(), TIMEOUT_S)
        await asyncio.sleep(0.2)
        await in_thread(changer)
        heard = await task
        assert (2, b"EXPUNGE") in heard
        fetches = [r for r in heard if isinstance(r, tuple) and r[:2] == (1, b"FETCH")]
        assert fetches and "Flagged" in repr(fetches)


async def test_a_client_that_never_reads_is_disconnected(tmp_path: Path, ca: trustme.CA) -> None:
    async with imap_roost(
        tmp_path, ca, imap={"output_buffer_bytes": 16_384, "write_timeout_s": 1.0}
    ) as roost:
        await deliver(roost, [NEWSLETTER] * 20)
        port = imap_port(roost)

        def scenario() -> bool:
            sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            login = f"a1 LOGIN {ALICE} {ALICE_PASSWORD}\r\na2 SELECT INBOX\r\n".encode()
            fetches = b"".join(b"f%d FETCH 1:* (BODY.PEEK[])\r\n" % i for i in range(200))
            try:
                sock.sendall(login + fetches)
                # Never read; the server gives up on us and resets the connection,
                # which the next write notices.
                for _ in range(int(TIMEOUT_S * 10)):
                    sock.sendall(b"n NOOP\r\n")
                    time.sleep(0.1)
            except OSError:
                return True
            finally:
                sock.close()
            return False

        assert await in_thread(scenario)
        # The service goes on serving others.
        await in_thread(lambda: imaplib_login(port).logout())


async def test_bad_input_gets_its_error_and_the_session_goes_on(
    tmp_path: Path, ca: trustme.CA
) -> None:
    async with imap_roost(tmp_path, ca, imap={"max_append_bytes": 4096}) as roost:
        port = imap_port(roost)

        def scenario() -> list[bytes]:
            with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S) as sock:
                reader = sock.makefile("rb")
                reader.readline()
                sock.sendall(
                    f"a1 LOGIN {ALICE} {ALICE_PASSWORD}\r\na2 FROB\r\na3 FETCH 1 FLAGS\r\n"
                    "a4 APPEND INBOX {100000}\r\n".encode()
                    + b"a5 SEARCH "
                    + b"(" * 100
                    + b"ALL"
                    + b")" * 100
                    + b"\r\n"
                    b'a6 SELECT "\xff\xfe"\r\na7 LOGOUT\r\n'
                )
                lines = [reader.readline() for _ in range(8)]
            return lines

        lines = await in_thread(scenario)
        assert lines[0].startswith(b"a1 OK")
        assert lines[1] == b"a2 BAD unknown command FROB\r\n"
        assert lines[2] == b"a3 BAD FETCH is not allowed in the authenticated state\r\n"
        assert lines[3] == b"a4 NO [TOOBIG] literal too big\r\n"
        assert lines[4].startswith(b"a5 BAD search keys are nested deeper")
        assert lines[5].startswith(b"a6 BAD")
        assert lines[6] == b"* BYE Logging out\r\n" and lines[7].startswith(b"a7 OK")
