"""Debian's Dovecot POP3 (and, when asked, IMAP) as a peer for tests: its
own config and folders, 127.0.0.1 on free ports, a passwd-file user database
and Maildirs.

Started as root with ``dovecot -c FILE`` (its login processes drop to
Debian's ``dovenull`` user, the mail processes to ``nobody``), stopped with
``dovecot -c FILE stop``. Messages go straight into the Maildirs, named so
that Dovecot numbers them in the order given.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import IN_CI, require_tool
from tests.helpers import free_ports

POP3_BINARY = Path("/usr/lib/dovecot/pop3")
IMAP_BINARY = Path("/usr/lib/dovecot/imap")
START_TIMEOUT_S = 30.0
COMMAND_TIMEOUT_S = 60.0
MAIL_USER = "nobody"

DOVECOT_CONF = """\
instance_name = roost-test-{tag}
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = {protocols}
listen = 127.0.0.1
{ssl}
disable_plaintext_auth = no
auth_mechanisms = {mechanisms}
auth_failure_delay = 0
first_valid_uid = 1
mail_location = maildir:~/Maildir
pop3_uidl_format = %08Xu%08Xv
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/users
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener pop3s {{
    address = 127.0.0.1
    port = {pop3s_port}
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
  }}
}}
"""


def require_dovecot_pop3() -> str:
    """The dovecot binary, or a skip (a failure under CI) saying what is missing."""
    binary = require_tool("dovecot", "dovecot-core")
    problem = None
    if not POP3_BINARY.exists():
        problem = f"{POP3_BINARY} is missing (Debian package dovecot-pop3d; .ci/run installs it)"
    elif os.geteuid() != 0:
        problem = "the Dovecot peer is started as root, and the tests do not run as root"
    if problem is not None:
        if IN_CI:
            pytest.fail(problem + "; under CI nothing may skip")
        pytest.skip(problem)
    return binary


def require_dovecot_imap() -> None:
    """Skip (a failure under CI) without Debian's dovecot-imapd."""
    if not IMAP_BINARY.exists():
        problem = f"{IMAP_BINARY} is missing (Debian package dovecot-imapd; .ci/run installs it)"
        if IN_CI:
            pytest.fail(problem + "; under CI nothing may skip")
        pytest.skip(problem)


@dataclass(frozen=True, slots=True)
class DovecotPeer:
    port: int
    mail: Path
    password: str
    imap_port: int = 0
    """The IMAP listener (plaintext), when the peer was started with IMAP."""
    pop3s_port: int = 0
    """The implicit-TLS POP3 listener, when the peer was started with a certificate."""
    imaps_port: int = 0
    """The implicit-TLS IMAP listener, with IMAP and a certificate."""

    def deliver(self, user: str, messages: Sequence[bytes]) -> None:
        """Put messages into the user's Maildir, in order."""
        nobody = pwd.getpwnam(MAIL_USER)
        new = self.mail / user / "Maildir" / "new"
        stamp = int(time.time())
        for message in messages:
            count = len(list(new.iterdir()))
            path = new / f"{stamp}.M{count:06d}P1.roost-test"
            path.write_bytes(message)
            os.chown(path, nobody.pw_uid, nobody.pw_gid)


def _wait_for_greeting(port: int, greeting: bytes = b"+OK") -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", port), timeout=5) as sock,
        ):
            if sock.recv(512).startswith(greeting):
                sock.sendall(b"QUIT\r\n" if greeting == b"+OK" else b"a LOGOUT\r\n")
                return
        time.sleep(0.05)
    raise RuntimeError(f"Dovecot did not greet on port {port} within {START_TIMEOUT_S:g} s")


@contextlib.contextmanager
def dovecot_peer(
    users: Sequence[str],
    password: str,
    *,
    imap: bool = False,
    tls: tuple[Path, Path] | None = None,
    apop: bool = False,
) -> Iterator[DovecotPeer]:
    """A running Dovecot POP3 (and IMAP if asked) for ``users`` (all with ``password``).

    With `tls` (a PEM certificate chain and its key), STARTTLS/STLS is offered
    on the plaintext listeners and implicit TLS listens on two more ports.
    With `apop`, the POP3 greeting carries an APOP timestamp (RFC 1939 §7)
    and APOP logins are taken (the passwd-file holds plain passwords)."""
    binary = require_dovecot_pop3()
    if imap:
        require_dovecot_imap()
    nobody = pwd.getpwnam(MAIL_USER)
    # Dovecot's unprivileged processes walk through it: not under pytest's
    # tmp_path, which is private to root.
    root = Path(tempfile.mkdtemp(prefix="roost-dovecot-"))
    root.chmod(0o755)
    mail = root / "mail"
    port, imap_port, pop3s_port, imaps_port = free_ports(4)
    imap_port = imap_port if imap else 0
    pop3s_port = pop3s_port if tls else 0
    imaps_port = imaps_port if tls and imap else 0
    ssl = "ssl = no"
    if tls is not None:
        ssl = f"ssl = yes\nssl_cert = <{tls[0]}\nssl_key = <{tls[1]}\nssl_min_protocol = TLSv1.2"
    try:
        for user in users:
            for sub in ("cur", "new", "tmp"):
                (mail / user / "Maildir" / sub).mkdir(parents=True)
        for path in [mail, *mail.rglob("*")]:
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
        (root / "users").write_text(
            "".join(
                f"{u}:{{PLAIN}}{password}:{nobody.pw_uid}:{nobody.pw_gid}::{mail / u}::\n"
                for u in users
            )
        )
        conf = root / "dovecot.conf"
        protocols = "pop3 imap" if imap else "pop3"
        conf.write_text(
            DOVECOT_CONF.format(
                root=root,
                port=port,
                tag=root.name,
                protocols=protocols,
                imap_port=imap_port,
                ssl=ssl,
                pop3s_port=pop3s_port,
                imaps_port=imaps_port,
                mechanisms="plain apop" if apop else "plain",
            )
        )
        try:
            _run(binary, "-c", str(conf), log=root / "commands.log")
            _wait_for_greeting(port)
            if imap:
                _wait_for_greeting(imap_port, b"* OK")
            yield DovecotPeer(port, mail, password, imap_port, pop3s_port, imaps_port)
        finally:
            # A failed start may still leave a master running.
            pid = _read_pid(root / "run" / "master.pid")
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                _run(binary, "-c", str(conf), "stop", log=root / "commands.log")
            if pid is not None:
                _wait_for_exit(pid)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _run(*command: str, log: Path) -> None:
    # Output to a file: the daemon's children inherit it, and a pipe would
    # never close.
    with log.open("a+b") as out:
        start = out.tell()
        done = subprocess.run(
            command, stdout=out, stderr=out, timeout=COMMAND_TIMEOUT_S, check=False
        )
        if done.returncode != 0:
            out.seek(start)
            text = out.read().decode(errors="replace").strip()
            raise RuntimeError(f"{' '.join(command)} (exit {done.returncode}): {text[-500:]}")


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _wait_for_exit(pid: int) -> None:
    """Wait (bounded) for the master to go; kill it if it lingers."""
    deadline = time.monotonic() + COMMAND_TIMEOUT_S / 2
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, 9)
