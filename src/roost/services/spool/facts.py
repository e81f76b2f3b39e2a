"""What the Spool reads from a message before delivering it: its MIME structure
(stored with the blob for IMAP) and the trace fields that reveal loops."""

from __future__ import annotations

from dataclasses import dataclass

from roost.proto.mime import MessageStructure, MimeParser
from roost.store.store import Store

MAX_HEADER_SCAN_OCTETS = 1024 * 1024


@dataclass(frozen=True, slots=True)
class MessageFacts:
    structure: MessageStructure
    delivered_to: frozenset[str]
    """Addresses in Delivered-To fields: delivering to one again is a loop."""
    received_count: int
    structure_json: str
    """The structure as the store keeps it (made once per attempt)."""


def facts_of(message: bytes) -> MessageFacts:
    """The same facts from a message already in memory (a small one)."""
    parser = MimeParser()
    parser.feed(message)
    structure = parser.close()
    end = message.find(b"\r\n\r\n", 0, MAX_HEADER_SCAN_OCTETS)
    header = message[: end if end >= 0 else MAX_HEADER_SCAN_OCTETS]
    delivered, received = _trace_fields(header)
    return MessageFacts(structure, delivered, received, structure.to_json())


async def read_facts(store: Store, blob_hash: str) -> MessageFacts:
    """Parse the message as a stream; keep its structure with the blob."""
    parser = MimeParser()
    header = bytearray()
    in_header = True
    async for chunk in store.blobs.chunks(blob_hash):
        parser.feed(chunk)
        if in_header:
            header += chunk
            end = header.find(b"\r\n\r\n")
            if end >= 0 or len(header) > MAX_HEADER_SCAN_OCTETS:
                del header[end if end >= 0 else MAX_HEADER_SCAN_OCTETS :]
                in_header = False
    structure = parser.close()
    delivered, received = _trace_fields(bytes(header))
    return MessageFacts(structure, delivered, received, structure.to_json())


def _trace_fields(header: bytes) -> tuple[frozenset[str], int]:
    delivered: set[str] = set()
    received = 0
    for line in header.split(b"\r\n"):
        name, colon, value = line.partition(b":")
        if not colon or line[:1] in (b" ", b"\t"):
            continue
        key = name.strip().lower()
        if key == b"received":
            received += 1
        elif key == b"delivered-to":
            delivered.add(value.strip().decode("utf-8", "replace").lower())
    return frozenset(delivered), received
