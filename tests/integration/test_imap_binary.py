"""BINARY (RFC 3516): FETCH BINARY, BINARY.PEEK and BINARY.SIZE, APPEND with a
literal8; and large literals streamed from the store instead of read whole."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
import trustme

from roost.services.imap import bodies
from roost.store.store import Store
from roost.store.types import MessageInfo
from tests.imap_support import (
    PLAIN,
    Wire,
    deliver,
    imap_port,
    imap_roost,
    imaplib_login,
    in_thread,
)

PDF = bytes(range(256)) * 4
ATTACHED = (
    b"From: carol@example.net\r\nTo: alice@example.org\r\nSubject: Report\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n"
    b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n\r\nCaf=C3=A9 at noon.\r\n"
    b"--b1\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    + base64.encodebytes(PDF).replace(b"\n", b"\r\n")
    + b"--b1\r\nContent-Type: application/x-odd\r\nContent-Transfer-Encoding: x-uuencode\r\n"
    b"\r\nbegin 644 odd\r\n--b1--\r\n"
)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def _literal(line: bytes, name: bytes) -> tuple[bytes, bytes]:
    """The literal (or literal8) after ``name`` in a FETCH response: its
    opening (``{n}`` or ``~{n}``) and its octets."""
    found = re.search(re.escape(name) + rb" (~?\{(\d+)\})\r\n", line)
    assert found is not None, line[:200]
    start = found.end()
    return found.group(1), line[start : start + int(found.group(2))]


async def test_fetch_binary_sections(tmp_path: Path, ca: trustme.CA) -> None:
    async with imap_roost(tmp_path, ca) as roost:
        await deliver(roost, [ATTACHED, PLAIN])
        port = imap_port(roost)

        def scenario() -> None:
            wire = Wire(port)
            assert b"BINARY" in wire.ok("CAPABILITY")[0].split()
            wire.ok("SELECT INBOX")
            (line,) = wire.ok("FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1] BINARY.SIZE[2])")
            assert _literal(line, b"BINARY[1]") == (b"{14}", "Café at noon.".encode())
            assert b"BINARY.SIZE[1] 14 BINARY.SIZE[2] 1024" in line
            # NUL octets go only in a literal8 (RFC 3516 §4.2).
            (line,) = wire.ok("FETCH 1 BINARY.PEEK[2]")
            assert _literal(line, b"BINARY[2]") == (b"~{1024}", PDF)
            (line,) = wire.ok("FETCH 1 BINARY.PEEK[2]<100.10>")
            assert _literal(line, b"BINARY[2]<100>") == (b"{10}", PDF[100:110])
            (line,) = wire.ok("FETCH 2 (BINARY.PEEK[1] BINARY.PEEK[7])")
            assert b"BINARY[7] NIL" in line
            _, done = wire.command("FETCH 1 BINARY.PEEK[3]")
            assert done.startswith(b"NO [UNKNOWN-CTE]")
            # BINARY without PEEK sets \Seen, as BODY does.
            (line,) = wire.ok("FETCH 1 (BINARY[1])")
            assert b"FLAGS (\\Seen)" in line
            wire.close()

        await in_thread(scenario)


async def test_append_with_a_literal8(tmp_path: Path, ca: trustme.CA) -> None:
    async with imap_roost(tmp_path, ca) as roost:
        port = imap_port(roost)
        body = b"\x00\x01binary\x00data\r\n"
        message = (
            b"From: bob@example.net\r\nSubject: raw\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n"
            b"\r\n" + body
        )

        def scenario() -> None:
            wire = Wire(port)
            wire.sock.sendall(b"a1 APPEND INBOX ~{%d}\r\n" % len(message))
            assert wire.response().startswith(b"+ ")
            wire.sock.sendall(message + b"\r\n")
            assert b"[APPENDUID" in wire.response()
            wire.ok("EXAMINE INBOX")
            (line,) = wire.ok("FETCH 1 (BINARY[1] BINARY.SIZE[1] RFC822.SIZE)")
            assert _literal(line, b"BINARY[1]") == (b"~{%d}" % len(body), body)
            assert b"BINARY.SIZE[1] %d" % len(body) in line
            assert b"RFC822.SIZE %d" % len(message) in line
            wire.close()

        await in_thread(scenario)


async def test_imaplib_reads_binary(tmp_path: Path, ca: trustme.CA) -> None:
    async with imap_roost(tmp_path, ca) as roost:
        await deliver(roost, [ATTACHED])
        port = imap_port(roost)

        def scenario() -> None:
            client = imaplib_login(port)
            client.select("INBOX", readonly=True)
            typ, data = client.fetch("1", "(BINARY.PEEK[2])")
            assert typ == "OK"
            assert isinstance(data[0], tuple) and data[0][1] == PDF
            client.logout()

        await in_thread(scenario)


async def test_large_literals_are_streamed_from_the_store(
    tmp_path: Path, ca: trustme.CA, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past `[imap] stream_literal_bytes` nothing reads the message whole, and
    what goes out is byte for byte the message."""
    big_pdf = bytes(range(256)) * 1200  # 300 KiB, 400 KiB in base64
    big = (
        ATTACHED.split(b"--b1\r\nContent-Type: application/pdf")[0]
        + b"--b1\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(big_pdf).replace(b"\n", b"\r\n")
        + b"--b1--\r\n"
    )
    limit = 65_536
    async with imap_roost(tmp_path, ca, imap={"stream_literal_bytes": limit}) as roost:
        await deliver(roost, [big, PLAIN])
        port = imap_port(roost)
        whole_reads: list[int] = []
        original = Store.message_bytes

        async def counted(self: Store, message: MessageInfo) -> bytes:
            whole_reads.append(message.size)
            return await original(self, message)

        monkeypatch.setattr(Store, "message_bytes", counted)
        read_group = bodies._read_group

        async def grouped(store: Store, group: list[MessageInfo]) -> dict[int, bytes]:
            whole_reads.extend(info.size for info in group)
            return await read_group(store, group)

        monkeypatch.setattr(bodies, "_read_group", grouped)

        def scenario() -> None:
            wire = Wire(port)
            wire.ok("EXAMINE INBOX")
            (line,) = wire.ok("FETCH 1 (RFC822.SIZE BODY.PEEK[])")
            size = int(re.search(rb"RFC822.SIZE (\d+)", line).group(1))  # type: ignore[union-attr]
            opening, octets = _literal(line, b"BODY[]")
            assert opening == b"{%d}" % size and octets.endswith(big)
            (line,) = wire.ok("FETCH 1 (BINARY.PEEK[2] BINARY.SIZE[2] BODY.PEEK[1])")
            assert _literal(line, b"BINARY[2]") == (b"~{%d}" % len(big_pdf), big_pdf)
            assert b"BINARY.SIZE[2] %d" % len(big_pdf) in line
            assert _literal(line, b"BODY[1]")[1] == b"Caf=C3=A9 at noon."
            (line,) = wire.ok("FETCH 1 BINARY.PEEK[2]<1000.300000>")
            assert _literal(line, b"BINARY[2]<1000>")[1] == big_pdf[1000:301000]
            (line,) = wire.ok("FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]")
            assert _literal(line, b"BODY[HEADER.FIELDS (SUBJECT)]")[1] == b"Subject: Report\r\n\r\n"
            (line,) = wire.ok("FETCH 2 BODY.PEEK[]")
            assert _literal(line, b"BODY[]")[1].endswith(PLAIN)
            wire.close()

        await in_thread(scenario)
        # The small message was read whole, in one trip; the large one never.
        assert whole_reads and all(size <= limit for size in whole_reads)
