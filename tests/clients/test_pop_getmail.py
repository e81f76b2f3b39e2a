"""Debian's getmail6 against Roost's POP service: plaintext on loopback and
implicit TLS with a checked certificate, leave-on-server runs that fetch only
new messages (UIDL), then a run that deletes.

getmail6 refuses to run as root: as root, the test runs it as `nobody` with a
home folder of its own.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from tests.conftest import require_tool
from tests.pop_support import (
    ALICE,
    ALICE_PASSWORD,
    deliver,
    pop_port,
    pop_roost,
    sample_messages,
    stored,
)

DELIVERED_TO = b"Delivered-To: alice@example.org\r\n"
"""Roost's trace field that getmail keeps (it replaces Return-Path with its own)."""
RUN_TIMEOUT_S = 120
UNPRIVILEGED = "nobody"


class Getmail:
    def __init__(self, home: Path, ca: trustme.CA) -> None:
        self.binary = require_tool("getmail", "getmail6")
        self.home = home
        self.maildir = home / "Maildir"
        for sub in ("cur", "new", "tmp"):
            (self.maildir / sub).mkdir(parents=True)
        self.ca_file = home / "ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_file))
        (home / "getmail").mkdir()
        self.user = pwd.getpwnam(UNPRIVILEGED) if os.geteuid() == 0 else None
        if self.user is not None:
            for path in [home, *home.rglob("*")]:
                os.chown(path, self.user.pw_uid, self.user.pw_gid)

    def run(self, port: int, *, tls: bool, delete: bool) -> subprocess.CompletedProcess[str]:
        rc = self.home / "getmail" / "getmailrc"
        retriever = "SimplePOP3SSLRetriever" if tls else "SimplePOP3Retriever"
        rc.write_text(
            f"[retriever]\ntype = {retriever}\nserver = 127.0.0.1\nport = {port}\n"
            f"username = {ALICE}\npassword = {ALICE_PASSWORD}\n"
            + (f"ca_certs = {self.ca_file}\n" if tls else "")
            + f"\n[destination]\ntype = Maildir\npath = {self.maildir}/\n"
            f"\n[options]\nread_all = false\ndelete = {str(delete).lower()}\nverbose = 2\n"
        )
        if self.user is not None:
            os.chown(rc, self.user.pw_uid, self.user.pw_gid)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.home)}
        as_user: dict[str, object] = {}
        if self.user is not None:
            as_user = {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}
        return subprocess.run(  # type: ignore[call-overload, no-any-return]
            [self.binary, "--getmaildir", str(self.home / "getmail"), "--rcfile", str(rc)],
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
            env=env,
            check=False,
            **as_user,
        )

    def delivered(self) -> list[bytes]:
        files = sorted((self.maildir / "new").iterdir(), key=lambda p: p.stat().st_mtime_ns)
        return [p.read_bytes() for p in files]


@pytest.fixture
def home() -> Iterator[Path]:
    """A folder `nobody` can reach (pytest's tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="roost-getmail-"))
    folder.chmod(0o755)
    try:
        yield folder / "home"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def as_lf(message: bytes) -> bytes:
    """What a Maildir destination holds: LF line ends."""
    return message.replace(b"\r\n", b"\n")


def same_messages(delivered: list[bytes], sent: list[bytes]) -> bool:
    """getmail writes its own Return-Path, Delivered-To and Received above
    the message and drops the one Return-Path it fetched; the rest follows
    them byte for byte."""
    return len(delivered) == len(sent) and all(
        got.endswith(as_lf(DELIVERED_TO + body)) for got, body in zip(delivered, sent, strict=True)
    )


async def fetch(getmail: Getmail, port: int, *, tls: bool, delete: bool) -> str:
    done = await asyncio.to_thread(getmail.run, port, tls=tls, delete=delete)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


async def test_getmail_leave_on_server_fetches_only_new_mail(tmp_path: Path, home: Path) -> None:
    ca = trustme.CA()
    home.mkdir()
    getmail = Getmail(home, ca)
    async with pop_roost(tmp_path, ca) as roost:
        messages = sample_messages()
        await deliver(roost, messages[:2])
        plain = pop_port(roost)

        log = await fetch(getmail, plain, tls=False, delete=False)
        assert same_messages(getmail.delivered(), messages[:2]), log
        assert len(await stored(roost)) == 2

        await deliver(roost, messages[2:])
        log = await fetch(getmail, plain, tls=False, delete=False)
        assert same_messages(getmail.delivered(), messages), log  # only the new one

        log = await fetch(getmail, plain, tls=False, delete=False)
        assert len(getmail.delivered()) == 3, log  # nothing new

        # Implicit TLS, certificate checked; getmail keeps a separate record
        # per port, so it takes all three again, and deletes them.
        log = await fetch(getmail, pop_port(roost, "pop3s"), tls=True, delete=True)
        assert len(getmail.delivered()) == 6, log
        assert await stored(roost) == []
