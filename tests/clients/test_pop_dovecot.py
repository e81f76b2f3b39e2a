"""The same mailbox through Roost and through Debian's Dovecot POP3, compared.

Both get the same messages (Roost's trace fields included, so the bytes
match); poplib then asks each the same questions. Listings, sizes, the
bytes RETR and TOP put on the wire (dot-stuffing included), the shape of
the unique-ids, the response codes and what QUIT removes must agree.
Texts of the replies may differ; their status and codes may not.
"""

from __future__ import annotations

import asyncio
import poplib
import re
from dataclasses import dataclass
from pathlib import Path

import trustme

from tests.dovecot_peer import dovecot_peer
from tests.pop_support import (
    ALICE,
    ALICE_PASSWORD,
    TIMEOUT_S,
    TRACE,
    deliver,
    pop_port,
    pop_roost,
    sample_messages,
)

UNIQUE_ID = re.compile(rb"[0-9a-f]{16}")
SHARED_CAPABILITIES = {"TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE", "USER"}


def extra_messages() -> list[bytes]:
    """Edge cases beside the samples: no final line end, an empty body, a
    line that is only a dot, a long header."""
    return [
        b"Subject: no final CRLF\r\n\r\nlast line without one",
        b"Subject: empty body\r\n\r\n",
        b"Subject: dots\r\n\r\n.\r\n..\r\n...\r\n. \r\n",
        b"Subject: long\r\nX-Long: " + b"y" * 900 + b"\r\n\r\nbody\r\n",
    ]


@dataclass(frozen=True, slots=True)
class Survey:
    """What one server answered."""

    stat: tuple[int, int]
    sizes: list[int]
    uid_shapes: list[bool]
    wire: list[bytes]
    """RETR of every message: status line, stuffed lines, terminator."""
    tops: list[bytes]
    capabilities: set[str]
    statuses: dict[str, str]
    """Command -> first word and response code of the reply."""
    after_quit: tuple[int, int]
    kept_uid: bool
    """Message 1 kept its unique-id across the sessions."""


def raw(client: poplib.POP3, command: str) -> bytes:
    """Send a command and read its multi-line reply as it came, byte for byte."""
    client._putcmd(command)
    out = client.file.readline()
    if not out.startswith(b"+OK"):
        return out
    while True:
        line = client.file.readline()
        if not line:
            raise AssertionError(f"connection closed during {command}")
        out += line
        if line == b".\r\n":
            return out


def status(call: object, *args: object) -> str:
    """``+OK`` or ``-ERR`` with its response code, if any."""
    try:
        reply = call(*args)  # type: ignore[operator]
    except poplib.error_proto as exc:
        text = str(exc)
        code = re.match(r"b?['\"]?(-ERR)( \[[A-Z/-]+\])?", text)
        return "".join(g for g in code.groups() if g) if code else text
    assert isinstance(reply, bytes | tuple)
    return "+OK"


def survey(port: int, count: int) -> Survey:
    client = poplib.POP3("127.0.0.1", port, timeout=TIMEOUT_S)
    capabilities = set(client.capa())
    client.user(ALICE)
    statuses = {"wrong password": status(client.pass_, "wrong-password")}
    client.user(ALICE)
    client.pass_(ALICE_PASSWORD)
    stat = client.stat()
    _s, listing, _o = client.list()
    sizes = [int(line.split()[1]) for line in listing]
    _s, uid_lines, _o = client.uidl()
    uids = [line.split()[1] for line in uid_lines]
    wire = [raw(client, f"RETR {n}") for n in range(1, count + 1)]
    tops = [raw(client, f"TOP {n} {lines}") for n in (1, 3, 5) for lines in (0, 2)]
    statuses["RETR 99"] = status(client.retr, 99)
    statuses["DELE 2"] = status(client.dele, 2)
    statuses["RETR 2 (deleted)"] = status(client.retr, 2)
    statuses["DELE 2 (again)"] = status(client.dele, 2)
    statuses["RSET"] = status(client.rset)
    statuses["DELE 2 (after RSET)"] = status(client.dele, 2)
    statuses["LIST 2 (deleted)"] = status(client.list, 2)
    statuses["QUIT"] = status(client.quit)
    client = poplib.POP3("127.0.0.1", port, timeout=TIMEOUT_S)
    client.user(ALICE)
    client.pass_(ALICE_PASSWORD)
    after = client.stat()
    _s, uid_lines, _o = client.uidl()
    kept = uid_lines[0].split()[1] == uids[0]
    client.quit()
    return Survey(
        stat=stat,
        sizes=sizes,
        uid_shapes=[UNIQUE_ID.fullmatch(u) is not None for u in uids],
        wire=wire,
        tops=tops,
        capabilities=capabilities & SHARED_CAPABILITIES,
        statuses=statuses,
        after_quit=after,
        kept_uid=kept,
    )


async def test_roost_and_dovecot_answer_alike(tmp_path: Path) -> None:
    bodies = sample_messages() + extra_messages()
    with dovecot_peer([ALICE], ALICE_PASSWORD) as dovecot:
        dovecot.deliver(ALICE, [TRACE + body for body in bodies])
        async with pop_roost(tmp_path, trustme.CA()) as roost:
            await deliver(roost, bodies)
            ours = await asyncio.to_thread(survey, pop_port(roost), len(bodies))
        theirs = await asyncio.to_thread(survey, dovecot.port, len(bodies))

    assert ours.stat == theirs.stat
    assert ours.sizes == theirs.sizes == [len(TRACE + body) for body in bodies]
    assert ours.uid_shapes == theirs.uid_shapes == [True] * len(bodies)
    for number, (mine, peer) in enumerate(zip(ours.wire, theirs.wire, strict=True), start=1):
        assert mine == peer, f"RETR {number} differs"
    for index, (mine, peer) in enumerate(zip(ours.tops, theirs.tops, strict=True)):
        assert mine[mine.index(b"\r\n") :] == peer[peer.index(b"\r\n") :], f"TOP #{index}"
    assert ours.capabilities == theirs.capabilities == SHARED_CAPABILITIES
    assert ours.statuses == theirs.statuses
    assert ours.after_quit == theirs.after_quit
    assert ours.kept_uid and theirs.kept_uid
