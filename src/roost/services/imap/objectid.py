"""Object identifiers (RFC 8474, OBJECTID): MAILBOXID, EMAILID, THREADID.

Roost keeps no identifier column for these; each is derived from what the
store already keeps and never changes:

- MAILBOXID is ``F`` + the mailbox's UIDVALIDITY + ``-`` + its row id. The
  UIDVALIDITY comes from one counter for the whole server that only grows,
  and survives RENAME; a mailbox deleted and made again gets a new one. So
  the id follows a mailbox through renames and is never given to another
  (RFC 8474 §4), which a row id alone (SQLite reuses freed ones) would not be.
- EMAILID is ``M`` + 32 hex digits of SHA-256 over the blob's hash and the
  message's trace header fields: exactly the octets the message is served
  as (RFC 8474 §5.1: it names immutable content). COPY and MOVE keep blob
  and trace, so the copy keeps its EMAILID; two deliveries differ in their
  trace (Received, Delivered-To), so they differ too. Two messages with the
  same octets share one EMAILID, which §5.1 allows.
- THREADID is NIL: threads are computed per THREAD command, not kept, and
  RFC 8474 §5.2 lets a server without stored threads answer NIL (SEARCH
  THREADID then matches nothing).
"""

from __future__ import annotations

import hashlib

from roost.proto.imap.values import Atom
from roost.store.types import MessageInfo

EMAILID_HEX_DIGITS = 32
"""128 bits of the digest: collisions are out of reach for any mailbox."""


def mailbox_id(row_id: int, uidvalidity: int) -> str:
    """A mailbox's MAILBOXID (RFC 8474 §4)."""
    return f"F{uidvalidity}-{row_id}"


def email_id(info: MessageInfo) -> str:
    """A message's EMAILID (RFC 8474 §5.1)."""
    digest = hashlib.sha256(info.blob_hash.encode("ascii") + b"\x00" + info.trace)
    return "M" + digest.hexdigest()[:EMAILID_HEX_DIGITS]


def object_id(value: str) -> tuple[Atom]:
    """An objectid as responses carry it: ``(Fxxx)`` (RFC 8474 §7)."""
    return (Atom(value),)
