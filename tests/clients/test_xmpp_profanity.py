"""Debian's profanity (a terminal XMPP client, driven in a detached tmux
session) against the XMPP service over STARTTLS: it signs in, sends a chat
message that a slixmpp client receives, and shows the answer on its screen.
OpenSSL under libstrophe finds the test CA through SSL_CERT_FILE."""

from __future__ import annotations

import asyncio
import os
import shlex
import subprocess
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

POLL_S = 0.2
ECHO_WAIT_S = 2.0


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


class Terminal:
    """One program in a detached tmux session of its own (its own socket)."""

    def __init__(self, tmux: str, folder: Path, environment: dict[str, str]) -> None:
        self._base = [tmux, "-S", str(folder / "tmux.sock")]
        self._environment = environment

    def _tmux(self, *args: str) -> str:
        done = subprocess.run(
            [*self._base, *args],
            env=self._environment,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=True,
        )
        return done.stdout

    def start(self, command: list[str]) -> None:
        self._tmux("new-session", "-d", "-x", "200", "-y", "50", "-s", "roost", shlex.join(command))

    async def type(self, text: str, *, echoed: bool = True) -> None:
        """Type a line and press Enter. Keys sent before the program reads
        its terminal are lost: an echoed line is typed again until it shows."""
        async with asyncio.timeout(TIMEOUT_S):
            while True:
                self._tmux("send-keys", "-t", "roost", "-l", text)
                if not echoed or await self._shows(text.rsplit(" ", 1)[-1], ECHO_WAIT_S):
                    break
                self._tmux("send-keys", "-t", "roost", "C-u")
        self._tmux("send-keys", "-t", "roost", "Enter")

    async def _shows(self, needle: str, seconds: float) -> bool:
        try:
            async with asyncio.timeout(seconds):
                while needle not in self.screen():
                    await asyncio.sleep(POLL_S)
        except TimeoutError:
            return False
        return True

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "roost", "-S", "-200")

    async def wait_for(self, needle: str) -> str:
        async with asyncio.timeout(TIMEOUT_S):
            while needle not in (shown := self.screen()):
                await asyncio.sleep(POLL_S)
        return shown

    def stop(self) -> None:
        subprocess.run(
            [*self._base, "kill-server"], env=self._environment, capture_output=True, check=False
        )


async def test_profanity_chats_with_a_slixmpp_client(tmp_path: Path, ca: trustme.CA) -> None:
    profanity = require_tool("profanity", "profanity")
    tmux = require_tool("tmux", "tmux")
    home = tmp_path / "home"
    home.mkdir()
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
        "SSL_CERT_FILE": str(bundle),
    }
    terminal = Terminal(tmux, tmp_path, environment)
    async with xmpp_roost(tmp_path, ca) as roost, signed_in(roost, ca, BOB, BOB_PASSWORD) as bob:
        terminal.start([profanity])
        try:
            await terminal.wait_for("/register")
            port = xmpp_port(roost)
            await terminal.type(f"/connect {ALICE} server 127.0.0.1 port {port} tls force")
            await terminal.wait_for("Enter password")
            await terminal.type(ALICE_PASSWORD, echoed=False)
            await terminal.wait_for("logged in successfully")
            await terminal.type(f"/msg {BOB} sent by profanity")
            message = await next_of(bob.messages, "profanity's message")
            assert message["body"] == "sent by profanity"
            assert message["from"].bare == ALICE
            bob.send_message(mto=message["from"], mbody="answered by slixmpp", mtype="chat")
            await terminal.wait_for("answered by slixmpp")
            await terminal.type("/quit", echoed=False)
        except TimeoutError:
            raise AssertionError(f"profanity's screen:\n{terminal.screen()[-3000:]}") from None
        finally:
            terminal.stop()
