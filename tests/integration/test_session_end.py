"""Disabling an account, changing its password or removing it ends its open
sessions in IMAP, POP and SMTP at once, each with its protocol's goodbye; the
other users' sessions go on, and nothing a POP session marked is committed."""

from __future__ import annotations

import asyncio
import imaplib
import poplib
import smtplib
import socket
from pathlib import Path

import pytest
import trustme

from roost.app import Roost
from roost.services.smtp.service import SmtpService
from tests.imap_support import (
    ACTOR,
    ALICE,
    ALICE_PASSWORD,
    BOB,
    PLAIN,
    TIMEOUT_S,
    deliver,
    imap_port,
    imap_roost,
    imaplib_login,
    in_thread,
)
from tests.pop_support import pop_port
from tests.tls_support import client_context
from tests.xmpp_support import next_of, signed_in, xmpp_roost

SECTIONS: dict[str, dict[str, object]] = {
    "pop": {"listen": ["127.0.0.1:0"], "tls_listen": []},
    "smtp": {"mx_listen": [], "submission_listen": ["127.0.0.1:0"], "submissions_listen": []},
}


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def submission_port(roost: Roost) -> int:
    smtp = next(s for s in roost.services if isinstance(s, SmtpService))
    (address,) = smtp.addresses["smtp-submission"]
    return int(address.rpartition(":")[2])


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (bounded by the socket timeout)."""
    received = b""
    while chunk := sock.recv(4096):
        received += chunk
    return received


def imap_signed_in(port: int, user: str = ALICE, password: str = ALICE_PASSWORD) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S)
    with sock.makefile("rb") as reader:
        reader.readline()  # greeting
        sock.sendall(f"a LOGIN {user} {password}\r\n".encode())
        while not (line := reader.readline()).startswith(b"a "):
            assert line, "closed during LOGIN"
    assert line.startswith(b"a OK"), line
    return sock


async def test_disabling_ends_imap_pop_and_smtp_sessions_but_not_others(
    tmp_path: Path, ca: trustme.CA
) -> None:
    async with imap_roost(tmp_path, ca, **SECTIONS) as roost:
        await deliver(roost, [PLAIN])
        imap, pop, submission = imap_port(roost), pop_port(roost), submission_port(roost)

        def sign_in() -> tuple[socket.socket, imaplib.IMAP4, poplib.POP3, smtplib.SMTP]:
            idle = imap_signed_in(imap)
            bob = imaplib_login(imap, BOB, "bob-password")
            bob.select("INBOX")
            pop3 = poplib.POP3("127.0.0.1", pop, timeout=TIMEOUT_S)
            pop3.user(ALICE)
            pop3.pass_(ALICE_PASSWORD)
            pop3.dele(1)
            smtp = smtplib.SMTP("127.0.0.1", submission, timeout=TIMEOUT_S)
            smtp.starttls(context=client_context(ca))
            smtp.login(ALICE, ALICE_PASSWORD)
            return idle, bob, pop3, smtp

        idle, bob, pop3, smtp = await in_thread(sign_in)
        registry = roost.directory.sessions
        assert registry is not None
        assert {s.service for s in registry.sessions(ALICE)} == {"imap", "pop", "smtp"}

        await roost.directory.set_enabled(ACTOR, ALICE, False)

        def goodbyes() -> None:
            # IMAP: the idle client hears an unsolicited BYE at once, then the close.
            assert read_until_closed(idle).startswith(b"* BYE Your account was disabled\r\n")
            idle.close()
            # POP: an error with the [AUTH] code, and the DELE is not committed.
            with pytest.raises(poplib.error_proto, match=r"\[AUTH\] Your account was disabled"):
                pop3.stat()
            pop3.close()
            # SMTP: 421 4.7.0.
            code, text = smtp.noop()
            assert code == 421 and text.startswith(b"4.7.0 ")
            assert b"Your account was disabled, closing connection" in text
            smtp.close()
            # Bob's session goes on.
            assert bob.noop()[0] == "OK"
            bob.logout()

        await in_thread(goodbyes)
        await _until_no_sessions(roost, ALICE)
        messages = await roost.store.read(roost.store.mail.messages, await _inbox(roost))
        assert len(messages) == 1

        # Disabled: no new session; enabled again: sign-in works.
        def refused() -> None:
            client = imaplib.IMAP4("127.0.0.1", imap, timeout=TIMEOUT_S)
            with pytest.raises(imaplib.IMAP4.error):
                client.login(ALICE, ALICE_PASSWORD)
            client.shutdown()

        await in_thread(refused)
        await roost.directory.set_enabled(ACTOR, ALICE, True)
        client = await in_thread(lambda: imaplib_login(imap))
        await in_thread(client.logout)


async def test_a_password_change_ends_the_idle_imap_session(tmp_path: Path, ca: trustme.CA) -> None:
    async with imap_roost(tmp_path, ca) as roost:
        port = imap_port(roost)

        def idle_in_inbox() -> socket.socket:
            sock = imap_signed_in(port)
            sock.sendall(b"b SELECT INBOX\r\nc IDLE\r\n")
            with sock.makefile("rb") as reader:
                while not (line := reader.readline()).startswith(b"+ "):
                    assert line, "closed before IDLE"
            return sock

        sock = await in_thread(idle_in_inbox)
        await roost.directory.set_password(ACTOR, ALICE, "a-new-long-password")
        goodbye = await in_thread(lambda: read_until_closed(sock))
        sock.close()
        assert b"* BYE Your password was changed; sign in again\r\n" in goodbye
        await _until_no_sessions(roost, ALICE)


async def _inbox(roost: Roost) -> int:
    store = roost.store
    account = await store.read(store.directory.account, ALICE)
    box = await store.read(store.mail.mailbox, account.id, "INBOX")
    return box.id


async def _until_no_sessions(roost: Roost, user: str) -> None:
    registry = roost.directory.sessions
    assert registry is not None
    async with asyncio.timeout(TIMEOUT_S):
        while registry.sessions(user):
            await asyncio.sleep(0.02)


async def test_disabling_ends_the_xmpp_session_with_a_stream_error(
    tmp_path: Path, ca: trustme.CA
) -> None:
    async with (
        xmpp_roost(tmp_path, ca) as roost,
        signed_in(roost, ca, ALICE, ALICE_PASSWORD) as alice,
    ):
        errors: asyncio.Queue[object] = asyncio.Queue()
        alice.add_event_handler("stream_error", errors.put_nowait)
        gone = asyncio.Event()
        alice.add_event_handler("disconnected", lambda _event: gone.set())
        await roost.directory.set_enabled(ACTOR, ALICE, False)
        error = await next_of(errors, "the stream error")
        assert error["condition"] == "not-authorized"  # type: ignore[index]
        assert error["text"] == "Your account was disabled"  # type: ignore[index]
        async with asyncio.timeout(TIMEOUT_S):
            await gone.wait()
        await _until_no_sessions(roost, ALICE)
