"""Debian's Postfix as a peer for tests: its own config folder, 127.0.0.1 on a free
port, accepting mail for one domain into Maildirs (the virtual delivery agent)."""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import require_tool

MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup     unix  n - n 60   1 pickup
cleanup    unix  n - n -    0 cleanup
qmgr       unix  n - n 300  1 qmgr
rewrite    unix  - - n -    - trivial-rewrite
bounce     unix  - - n -    0 bounce
defer      unix  - - n -    0 bounce
trace      unix  - - n -    0 bounce
verify     unix  - - n -    1 verify
flush      unix  n - n 1000? 0 flush
proxymap   unix  - - n -    - proxymap
smtp       unix  - - n -    - smtp
relay      unix  - - n -    - smtp
showq      unix  n - n -    - showq
error      unix  - - n -    - error
retry      unix  - - n -    - error
discard    unix  - - n -    - discard
local      unix  - n n -    - local
virtual    unix  - n n -    - virtual
anvil      unix  - - n -    1 anvil
scache     unix  - - n -    1 scache
postlog    unix-dgram n - n - 1 postlogd
"""

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {root}/spool
data_directory = {root}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.{domain}
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
local_recipient_maps =
alias_maps =
alias_database =
virtual_mailbox_domains = {domain}
virtual_mailbox_base = {root}/mail
virtual_mailbox_maps = texthash:{root}/vmailbox
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtputf8_enable = no
biff = no
maillog_file_prefixes = {root}
maillog_file = {root}/maillog
"""


@dataclass(frozen=True, slots=True)
class PostfixPeer:
    port: int
    mail: Path

    def delivered(self, user: str) -> list[bytes]:
        new = self.mail / user / "new"
        if not new.exists():
            return []
        return [p.read_bytes() for p in sorted(new.iterdir())]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def postfix_peer(folder: Path, domain: str, users: list[str]) -> Iterator[PostfixPeer]:
    postfix = require_tool("postfix", "postfix")
    nobody = pwd.getpwnam("nobody")
    folder.mkdir(parents=True, exist_ok=True)
    for parent in (folder, *folder.parents):
        if parent == Path("/"):
            break
        os.chmod(parent, os.stat(parent).st_mode | 0o005)  # postfix's processes walk through
    mail = folder / "mail"
    (folder / "spool").mkdir(mode=0o755)
    (folder / "data").mkdir(mode=0o700)
    mail.mkdir(mode=0o755)
    owner = pwd.getpwnam("postfix")
    os.chown(folder / "data", owner.pw_uid, owner.pw_gid)
    os.chown(mail, nobody.pw_uid, nobody.pw_gid)
    port = _free_port()
    (folder / "main.cf").write_text(
        MAIN_CF.format(root=folder, domain=domain, uid=nobody.pw_uid, gid=nobody.pw_gid)
    )
    (folder / "master.cf").write_text(MASTER_CF.format(port=port))
    (folder / "vmailbox").write_text("".join(f"{u}@{domain} {u}/\n" for u in users))
    log = folder / "commands.log"

    def run(*args: str) -> None:
        with log.open("ab") as out:
            done = subprocess.run(
                [postfix, "-c", str(folder), *args], stdout=out, stderr=out, timeout=60, check=False
            )
        if done.returncode != 0:
            maillog = folder / "maillog"
            told = maillog.read_text()[-1500:] if maillog.exists() else "(no maillog)"
            raise AssertionError(
                f"postfix {' '.join(args)} failed (exit {done.returncode}): "
                f"{log.read_text()[-800:]} {told}"
            )

    try:
        run("start")
    except AssertionError:
        # Seen once while another Postfix instance started at the same
        # moment: one more try after a pause.
        time.sleep(2)
        run("start")
    try:
        deadline = time.monotonic() + 60
        while True:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", port), 1) as s,
            ):
                s.settimeout(5)
                if s.recv(512).startswith(b"220"):
                    s.sendall(b"QUIT\r\n")
                    break
            if time.monotonic() > deadline:
                raise AssertionError("Postfix did not greet")
            time.sleep(0.05)
        yield PostfixPeer(port, mail)
    finally:
        with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
            run("stop")
        pid_file = folder / "spool" / "pid" / "master.pid"
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int(pid_file.read_text().split()[0])
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)
            else:
                os.kill(pid, signal.SIGKILL)
