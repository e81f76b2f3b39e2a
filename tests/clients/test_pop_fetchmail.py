"""Debian's fetchmail against Roost's POP service: STLS with certificate checks,
implicit TLS, plaintext on loopback, and leave-on-server runs that fetch only
what is new (UIDL)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import trustme

from tests.conftest import require_tool
from tests.pop_support import (
    ALICE,
    ALICE_PASSWORD,
    TRACE,
    deliver,
    pop_port,
    pop_roost,
    sample_messages,
    stored,
)

RUN_TIMEOUT_S = 120

MDA = """\
import os, sys
out = sys.argv[1]
data = sys.stdin.buffer.read()
with open(os.path.join(out, "%06d.eml" % len(os.listdir(out))), "xb") as handle:
    handle.write(data)
"""


class Fetchmail:
    """fetchmail runs with its own home, rc file, UIDL file and an MDA that
    writes each message to a file."""

    def __init__(self, folder: Path, ca: trustme.CA) -> None:
        self.binary = require_tool("fetchmail", "fetchmail")
        self.folder = folder
        self.out = folder / "delivered"
        self.out.mkdir(parents=True)
        (folder / "mda.py").write_text(MDA)
        self.ca_file = folder / "ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_file))

    def run(self, port: int, *options: str) -> subprocess.CompletedProcess[str]:
        rc = self.folder / "fetchmailrc"
        mda = f"{sys.executable} {self.folder / 'mda.py'} {self.out}"
        rc.write_text(
            "set no syslog\nset invisible\n"
            f"poll localhost via 127.0.0.1 protocol pop3 port {port} uidl timeout 60\n"
            f'  user "{ALICE}" there with password "{ALICE_PASSWORD}"\n'
            f"  {' '.join(options)}\n"
            f'  mda "{mda}"\n'
        )
        rc.chmod(0o600)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.folder),
            "FETCHMAILHOME": str(self.folder),
            "LC_ALL": "C",
        }
        return subprocess.run(
            [self.binary, "--nodetach", "-f", str(rc), "-i", str(self.folder / "fetchids")],
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
            env=env,
            check=False,
        )

    def delivered(self) -> list[bytes]:
        return [p.read_bytes() for p in sorted(self.out.iterdir())]


def as_lf(message: bytes) -> bytes:
    """What fetchmail hands an MDA: LF line ends."""
    return message.replace(b"\r\n", b"\n")


async def fetch(fetchmail: Fetchmail, port: int, *options: str) -> str:
    done = await asyncio.to_thread(fetchmail.run, port, *options)
    # 0: mail fetched, 1: no new mail (fetchmail's exit codes).
    assert done.returncode in (0, 1), done.stdout + done.stderr
    return done.stdout + done.stderr


async def test_fetchmail_leave_on_server_fetches_only_new_mail(
    tmp_path: Path,
) -> None:
    ca = trustme.CA()
    fetchmail = Fetchmail(tmp_path / "fetchmail", ca)
    async with pop_roost(tmp_path / "roost", ca) as roost:
        messages = sample_messages()
        await deliver(roost, messages[:2])
        tls = (
            "keep",
            "sslproto",
            "tls1.2+",
            "sslcertck",
            f'sslcertfile "{fetchmail.ca_file}"',
            # fetchmail checks the name it connects to (127.0.0.1) as a host name.
            'sslcommonname "localhost"',
        )

        # STLS on the plain port, the certificate checked against the test CA.
        log = await fetch(fetchmail, pop_port(roost), *tls)
        assert fetchmail.delivered() == [as_lf(TRACE + m) for m in messages[:2]], log
        assert len(await stored(roost)) == 2  # kept on the server

        # A message arrives; the next run over implicit TLS fetches only it.
        await deliver(roost, messages[2:])
        log = await fetch(fetchmail, pop_port(roost, "pop3s"), "ssl", *tls[:1], *tls[3:])
        assert len(fetchmail.delivered()) == 3, log
        assert fetchmail.delivered()[2] == as_lf(TRACE + messages[2])

        # Nothing new: nothing fetched, in plaintext on loopback (sslproto "").
        log = await fetch(fetchmail, pop_port(roost), "keep", 'sslproto ""')
        assert len(fetchmail.delivered()) == 3, log

        # Without keep, fetchmail fetches everything and deletes it on QUIT.
        log = await fetch(fetchmail, pop_port(roost), "fetchall", "nokeep", 'sslproto ""')
        assert len(fetchmail.delivered()) == 6, log
        assert await stored(roost) == []
