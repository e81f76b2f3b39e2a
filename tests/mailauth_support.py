"""Shared by the mail authentication tests: messages, zones, a resolver factory."""

from __future__ import annotations

from collections.abc import Iterable

from roost.control.mailauth.keys import TxtRecord
from roost.net.dns import Resolver

MESSAGE = (
    b"From: Ann Example <ann@example.com>\r\n"
    b"To: Bob <bob@example.net>\r\n"
    b"Subject: Lunch\r\n"
    b"Date: Thu, 01 Jan 2026 12:00:00 +0000\r\n"
    b"Message-ID: <lunch-1@example.com>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"Noon at the usual place?\r\n"
)


def txt(value: str) -> str:
    """`value` as TXT presentation text, cut into strings of 255 octets."""
    chunks = [value[i : i + 255] for i in range(0, len(value), 255)] or [""]
    return " ".join(f'"{chunk}"' for chunk in chunks)


def key_zone(records: Iterable[TxtRecord]) -> dict[tuple[str, str], list[str] | str]:
    return {(r.name, "TXT"): [txt(r.value)] for r in records}


def resolver(nameserver: str) -> Resolver:
    return Resolver((nameserver,), 2.0)


def with_from(message: bytes, from_field: bytes) -> bytes:
    """`message` with its From field replaced."""
    lines = message.split(b"\r\n")
    return b"\r\n".join(from_field if line.startswith(b"From:") else line for line in lines)
