"""Debian's Prosody as a peer for tests and benchmarks: its own config and
data folder, client-to-server on 127.0.0.1 on a free port, STARTTLS with a
certificate the caller gives, accounts made with ``prosodyctl register``
against that config.

Started in the foreground (``prosody --config FILE -F``) as Debian's
``prosody`` user (Prosody refuses to run as root), so its folder lives
outside pytest's private tmp_path and belongs to that user. ``mod_limits`` is not
loaded (NOTES.md: its default throttles a client to 10 kB/s); server-to-
server is off.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
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

START_TIMEOUT_S = 30.0
COMMAND_TIMEOUT_S = 60.0
PROSODY_USER = "prosody"

PROSODY_CFG = """\
pidfile = "{root}/prosody.pid"
data_path = "{root}/data"
prosody_user = "{user}"
log = {{ info = "{root}/prosody.log"; error = "{root}/prosody.err" }}
modules_enabled = {{
  "roster"; "saslauth"; "tls"; "disco"; "carbons"; "pep"; "private"; "blocklist";
  "vcard_legacy"; "version"; "ping"; "mam"; "smacks"; "csi_simple"; "offline";
}}
modules_disabled = {{ "s2s"; "limits"; {http_disabled}"bosh"; "websocket" }}
c2s_ports = {{ {port} }}
c2s_interfaces = {{ "127.0.0.1" }}
c2s_direct_tls_ports = {{}}
s2s_ports = {{}}
http_ports = {{ {http_port} }}
http_interfaces = {{ "127.0.0.1" }}
https_ports = {{}}
c2s_require_encryption = {require_tls}
allow_unencrypted_plain_auth = {plain_ok}
authentication = "internal_hashed"
storage = "internal"
archive_expires_after = "1d"
default_archive_policy = true
smacks_hibernation_time = 300
certificates = "{root}/certs"
VirtualHost "{domain}"
  ssl = {{ certificate = "{cert}"; key = "{key}" }}
"""

UPLOAD_CFG = """\
Component "upload.{domain}" "http_file_share"
  http_host = "127.0.0.1"
  http_external_url = "http://127.0.0.1:{http_port}/"
  http_file_share_size_limit = {limit}
  http_file_share_daily_quota = {quota}
  http_file_share_safe_file_types = {{ "image/png"; "image/jpeg"; "image/gif"; "image/webp" }}
"""

MUC_CFG = """\
Component "conference.{domain}" "muc"
  modules_enabled = {{ "muc_mam" }}
  muc_log_by_default = true
  muc_log_all_rooms = true
"""


@dataclass(frozen=True, slots=True)
class ProsodyUpload:
    """Prosody's XEP-0363 component (``http_file_share``) at ``upload.DOMAIN``,
    its HTTP server on 127.0.0.1: the largest file and the daily quota."""

    limit_bytes: int
    quota_bytes: int


def require_prosody() -> str:
    """The prosody binary, or a skip (a failure under CI) saying why not."""
    binary = require_tool("prosody", "prosody")
    if os.geteuid() != 0:
        problem = "the Prosody peer is started as root, and the tests do not run as root"
        if IN_CI:
            pytest.fail(problem + "; under CI nothing may skip")
        pytest.skip(problem)
    return binary


@dataclass(frozen=True, slots=True)
class ProsodyPeer:
    port: int
    domain: str
    root: Path
    pid: int
    http_port: int | None = None
    """Prosody's HTTP server (with ``upload``)."""


def _wait_for_stream(port: int, domain: str, process: subprocess.Popen[bytes], log: Path) -> None:
    header = (
        "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
        f"xmlns:stream='http://etherx.jabber.org/streams' version='1.0' to='{domain}'>"
    ).encode()
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Prosody exited ({process.returncode}): {_tail(log)}")
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", port), timeout=5) as sock,
        ):
            sock.sendall(header)
            seen = b""
            while b"</stream:features>" not in seen:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                seen += chunk
            if b"</stream:features>" in seen:
                sock.sendall(b"</stream:stream>")
                return
        time.sleep(0.1)
    raise RuntimeError(f"Prosody did not open a stream on {port} in {START_TIMEOUT_S:g} s")


def _tail(path: Path) -> str:
    try:
        return path.read_text(errors="replace")[-800:]
    except OSError:
        return "(no log)"


@contextlib.contextmanager
def prosody_peer(
    domain: str,
    accounts: Sequence[tuple[str, str]],
    tls: tuple[Path, Path],
    *,
    plaintext: bool = False,
    upload: ProsodyUpload | None = None,
    muc: bool = False,
) -> Iterator[ProsodyPeer]:
    """A running Prosody for ``domain`` with ``accounts`` (localpart,
    password). ``tls`` is a certificate chain and its key (PEM) for
    STARTTLS; ``plaintext`` allows PLAIN without it (for benchmarks);
    ``upload`` adds HTTP file upload on a free HTTP port; ``muc`` adds
    multi-user chat at ``conference.DOMAIN`` with room archives."""
    binary = require_prosody()
    prosodyctl = require_tool("prosodyctl", "prosody")
    user = pwd.getpwnam(PROSODY_USER)
    root = Path(tempfile.mkdtemp(prefix="roost-prosody-"))
    process: subprocess.Popen[bytes] | None = None
    try:
        (root / "data").mkdir()
        (root / "certs").mkdir()
        cert, key = root / "certs" / "peer.crt", root / "certs" / "peer.key"
        shutil.copyfile(tls[0], cert)
        shutil.copyfile(tls[1], key)
        port, http_port = free_ports(2)
        if upload is None:
            http_port = None
        conf = root / "prosody.cfg.lua"
        extra = (
            ""
            if upload is None
            else UPLOAD_CFG.format(
                domain=domain,
                http_port=http_port,
                limit=upload.limit_bytes,
                quota=upload.quota_bytes,
            )
        )
        conf.write_text(
            PROSODY_CFG.format(
                root=root,
                user=PROSODY_USER,
                port=port,
                domain=domain,
                cert=cert,
                key=key,
                require_tls="false" if plaintext else "true",
                plain_ok="true" if plaintext else "false",
                http_disabled="" if upload is not None else '"http"; ',
                http_port="" if http_port is None else http_port,
            )
            + extra
            + (MUC_CFG.format(domain=domain) if muc else "")
        )
        key.chmod(0o600)
        for path in [root, *root.rglob("*")]:
            os.chown(path, user.pw_uid, user.pw_gid)
        for local, password in accounts:
            done = subprocess.run(
                [prosodyctl, "--config", str(conf), "register", local, domain, password],
                capture_output=True,
                timeout=COMMAND_TIMEOUT_S,
                check=False,
                user=user.pw_uid,
                group=user.pw_gid,
                extra_groups=[],
            )
            if done.returncode != 0:
                output = (done.stdout + done.stderr).decode(errors="replace")[-800:]
                raise RuntimeError(f"prosodyctl register {local}@{domain}: {output}")
        log = root / "stdout.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [binary, "--config", str(conf), "-F"],
                stdout=out,
                stderr=subprocess.STDOUT,
                user=user.pw_uid,
                group=user.pw_gid,
                extra_groups=[],
            )
        _wait_for_stream(port, domain, process, root / "prosody.err")
        yield ProsodyPeer(port, domain, root, process.pid, http_port)
    finally:
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(COMMAND_TIMEOUT_S / 2)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(COMMAND_TIMEOUT_S / 2)
        shutil.rmtree(root, ignore_errors=True)
