"""TLS and sign-in: STARTTLS and implicit TLS with a test CA, LOGINDISABLED
before TLS where plaintext passwords are not allowed, AUTHENTICATE PLAIN
(with SASL-IR) and SCRAM-SHA-256."""

from __future__ import annotations

import imaplib
import socket
from base64 import b64encode
from pathlib import Path

import pytest
import trustme
from scramp import ScramClient

from roost.services.imap.service import ImapService
from tests.imap_support import (
    ALICE,
    ALICE_PASSWORD,
    PLAIN,
    TIMEOUT_S,
    deliver,
    imap_port,
    imap_roost,
    in_thread,
)
from tests.tls_support import client_context

NO_PLAINTEXT = {"plaintext_on_loopback": False}


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


async def test_logindisabled_before_starttls_then_login(tmp_path: Path, ca: trustme.CA) -> None:
    async with imap_roost(tmp_path, ca, auth=NO_PLAINTEXT) as roost:
        await deliver(roost, [PLAIN])
        port = imap_port(roost)
        context = client_context(ca)

        def scenario() -> None:
            client = imaplib.IMAP4("127.0.0.1", port, timeout=TIMEOUT_S)
            caps = set(client.capabilities)
            assert {"STARTTLS", "LOGINDISABLED", "AUTH=SCRAM-SHA-256"} <= caps
            assert "AUTH=PLAIN" not in caps
            with pytest.raises(imaplib.IMAP4.error, match="PRIVACYREQUIRED"):
                client.login(ALICE, ALICE_PASSWORD)
            assert client.starttls(ssl_context=context)[0] == "OK"
            caps = set(client.capabilities)
            assert "AUTH=PLAIN" in caps and "STARTTLS" not in caps and "LOGINDISABLED" not in caps
            assert client.login(ALICE, ALICE_PASSWORD)[0] == "OK"
            assert client.select("INBOX") == ("OK", [b"1"])
            client.logout()

        await in_thread(scenario)


async def test_starttls_drops_commands_sent_with_it(tmp_path: Path, ca: trustme.CA) -> None:
    async with imap_roost(tmp_path, ca, auth=NO_PLAINTEXT) as roost:
        port = imap_port(roost)
        context = client_context(ca)

        def scenario() -> list[bytes]:
            raw = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S)
            reader = raw.makefile("rb")
            reader.readline()
            raw.sendall(b"a1 STARTTLS\r\na2 CAPABILITY\r\n")  # a2 is injected plaintext
            assert reader.readline() == b"a1 OK Begin TLS negotiation now\r\n"
            tls = context.wrap_socket(raw, server_hostname="localhost")
            tls.sendall(b"a3 NOOP\r\n")
            secure = tls.makefile("rb")
            answer = [secure.readline()]
            tls.sendall(b"a4 LOGOUT\r\n")
            answer += [secure.readline(), secure.readline()]
            tls.close()
            return answer

        assert await in_thread(scenario) == [
            b"a3 OK NOOP completed\r\n",
            b"* BYE Logging out\r\n",
            b"a4 OK LOGOUT completed\r\n",
        ]


async def test_implicit_tls(tmp_path: Path, ca: trustme.CA) -> None:
    async with imap_roost(tmp_path, ca, auth=NO_PLAINTEXT) as roost:
        port = imap_port(roost, "imaps")
        context = client_context(ca)

        def scenario() -> None:
            client = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=context, timeout=TIMEOUT_S)
            caps = set(client.capabilities)
            assert "AUTH=PLAIN" in caps and "STARTTLS" not in caps
            assert client.login(ALICE, ALICE_PASSWORD)[0] == "OK"
            client.logout()

        await in_thread(scenario)


async def test_authenticate_plain(tmp_path: Path, ca: trustme.CA) -> None:
    async with imap_roost(tmp_path, ca) as roost:
        port = imap_port(roost)

        def scenario() -> None:
            client = imaplib.IMAP4("127.0.0.1", port, timeout=TIMEOUT_S)
            with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
                client.authenticate("PLAIN", lambda _: f"\0{ALICE}\0wrong".encode())
            typ, _ = client.authenticate("PLAIN", lambda _: f"\0{ALICE}\0{ALICE_PASSWORD}".encode())
            assert typ == "OK" and client.state == "AUTH"
            client.logout()

        await in_thread(scenario)


async def test_authenticate_plain_with_sasl_ir(tmp_path: Path, ca: trustme.CA) -> None:
    async with imap_roost(tmp_path, ca) as roost:
        port = imap_port(roost)
        response = b64encode(f"\0{ALICE}\0{ALICE_PASSWORD}".encode()).decode()

        def scenario() -> list[bytes]:
            with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S) as sock:
                reader = sock.makefile("rb")
                reader.readline()
                sock.sendall(f"a1 AUTHENTICATE PLAIN {response}\r\na2 LOGOUT\r\n".encode())
                return [reader.readline() for _ in range(3)]

        lines = await in_thread(scenario)
        assert lines[0].startswith(b"a1 OK [CAPABILITY IMAP4rev1 IMAP4rev2 ")
        assert lines[1:] == [b"* BYE Logging out\r\n", b"a2 OK LOGOUT completed\r\n"]


async def test_authenticate_scram_sha_256(tmp_path: Path, ca: trustme.CA) -> None:
    async with imap_roost(tmp_path, ca, auth=NO_PLAINTEXT) as roost:
        port = imap_port(roost)

        def scenario(password: str) -> str:
            scram = ScramClient(["SCRAM-SHA-256"], ALICE, password)
            steps = iter(
                [
                    lambda _: scram.get_client_first().encode(),
                    lambda challenge: (
                        scram.set_server_first(challenge.decode()),
                        scram.get_client_final().encode(),
                    )[1],
                    lambda challenge: (scram.set_server_final(challenge.decode()), b"")[1],
                ]
            )
            client = imaplib.IMAP4("127.0.0.1", port, timeout=TIMEOUT_S)
            try:
                # SCRAM never shows the password: offered without TLS too.
                client.authenticate("SCRAM-SHA-256", lambda c: next(steps)(c))
            except imaplib.IMAP4.error as exc:
                client.logout()
                return str(exc)
            state = client.state
            client.logout()
            return state

        assert await in_thread(lambda: scenario(ALICE_PASSWORD)) == "AUTH"
        assert "AUTHENTICATIONFAILED" in await in_thread(lambda: scenario("wrong"))


async def test_probe(tmp_path: Path, ca: trustme.CA) -> None:
    async with imap_roost(tmp_path, ca) as roost:
        service = next(s for s in roost.services if isinstance(s, ImapService))
        result = await service.probe()
        assert result.ok, result
        assert service.status().counters
