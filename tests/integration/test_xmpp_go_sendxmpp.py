"""Debian's go-sendxmpp against the XMPP service over STARTTLS: it sends a
message that a slixmpp client receives, and with ``--listen`` receives one
that a slixmpp client sends. Go finds the test CA through SSL_CERT_FILE."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
import trustme

from tests.conftest import require_tool
from tests.xmpp_support import (
    ALICE,
    ALICE_PASSWORD,
    BOB,
    BOB_PASSWORD,
    TIMEOUT_S,
    next_of,
    signed_in,
    xmpp_port,
    xmpp_roost,
)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def _environment(ca: trustme.CA, folder: Path) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    bundle = folder / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    return {**os.environ, "SSL_CERT_FILE": str(bundle), "HOME": str(folder)}


async def test_go_sendxmpp_sends(tmp_path: Path, ca: trustme.CA) -> None:
    binary = require_tool("go-sendxmpp", "go-sendxmpp")
    async with xmpp_roost(tmp_path, ca) as roost, signed_in(roost, ca, BOB, BOB_PASSWORD) as bob:
        server = f"127.0.0.1:{xmpp_port(roost)}"
        process = await asyncio.create_subprocess_exec(
            binary,
            "-u",
            ALICE,
            "-p",
            ALICE_PASSWORD,
            "-j",
            server,
            BOB,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=_environment(ca, tmp_path / "go"),
        )
        output, _ = await asyncio.wait_for(process.communicate(b"sent by go-sendxmpp\n"), TIMEOUT_S)
        assert process.returncode == 0, output.decode(errors="replace")
        message = await next_of(bob.messages, "go-sendxmpp's message")
        assert message["body"].strip() == "sent by go-sendxmpp"
        assert message["from"].bare == ALICE


async def test_go_sendxmpp_listens(tmp_path: Path, ca: trustme.CA) -> None:
    binary = require_tool("go-sendxmpp", "go-sendxmpp")
    async with xmpp_roost(tmp_path, ca) as roost:
        server = f"127.0.0.1:{xmpp_port(roost)}"
        process = await asyncio.create_subprocess_exec(
            binary,
            "-u",
            BOB,
            "-p",
            BOB_PASSWORD,
            "-j",
            server,
            "--listen",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=_environment(ca, tmp_path / "go"),
        )
        try:
            assert process.stdout is not None
            async with signed_in(roost, ca, ALICE, ALICE_PASSWORD) as alice:
                seen = b""
                async with asyncio.timeout(TIMEOUT_S):
                    while b"for go-sendxmpp" not in seen:
                        # Resent until go-sendxmpp is online and prints it.
                        alice.send_message(mto=BOB, mbody="for go-sendxmpp", mtype="chat")
                        try:
                            seen += await asyncio.wait_for(process.stdout.read(4096), 1.0)
                        except TimeoutError:
                            continue
                assert ALICE.encode() in seen
        finally:
            if process.returncode is None:
                process.terminate()
            await asyncio.wait_for(process.wait(), TIMEOUT_S)
