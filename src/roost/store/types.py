"""Values the store hands out: frozen, slotted, no behaviour."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Domain:
    id: int
    name: str
    catch_all: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DomainAlias:
    name: str
    domain: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    address: str
    display_name: str
    enabled: bool
    password_hash: str
    scram: str
    quota_bytes: int
    quota_messages: int
    used_bytes: int
    used_messages: int
    created_at: datetime

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2]


@dataclass(frozen=True, slots=True)
class Alias:
    id: int
    address: str
    targets: tuple[str, ...]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Admin:
    id: int
    name: str
    password_hash: str
    must_change_password: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ApiToken:
    id: int
    admin: str
    name: str
    created_at: datetime
    last_used_at: datetime | None


class SpecialUse(enum.StrEnum):
    """RFC 6154 special-use mailbox roles."""

    SENT = "\\Sent"
    DRAFTS = "\\Drafts"
    TRASH = "\\Trash"
    JUNK = "\\Junk"
    ARCHIVE = "\\Archive"
    ALL = "\\All"
    FLAGGED = "\\Flagged"


STANDARD_MAILBOXES: tuple[tuple[str, SpecialUse | None], ...] = (
    ("INBOX", None),
    ("Sent", SpecialUse.SENT),
    ("Drafts", SpecialUse.DRAFTS),
    ("Trash", SpecialUse.TRASH),
    ("Junk", SpecialUse.JUNK),
    ("Archive", SpecialUse.ARCHIVE),
)


@dataclass(frozen=True, slots=True)
class Mailbox:
    id: int
    account_id: int
    name: str
    special_use: SpecialUse | None
    subscribed: bool
    uidvalidity: int
    uidnext: int
    highest_modseq: int
    message_count: int


class Flag(enum.IntFlag):
    """IMAP system flags (RFC 9051 §2.3.2), stored as a bit set.

    \\Recent is not stored: IMAP4rev2 dropped it and IMAP4rev1 keeps it per
    session.
    """

    SEEN = 1
    ANSWERED = 2
    FLAGGED = 4
    DELETED = 8
    DRAFT = 16

    @classmethod
    def parse(cls, name: str) -> Flag | None:
        return _FLAG_NAMES.get(name.lower())

    def names(self) -> tuple[str, ...]:
        return tuple(text for flag, text in _FLAG_TEXT if flag in self)


_FLAG_TEXT = (
    (Flag.SEEN, "\\Seen"),
    (Flag.ANSWERED, "\\Answered"),
    (Flag.FLAGGED, "\\Flagged"),
    (Flag.DELETED, "\\Deleted"),
    (Flag.DRAFT, "\\Draft"),
)
_FLAG_NAMES = {text.lower(): flag for flag, text in _FLAG_TEXT}


@dataclass(frozen=True, slots=True)
class StagedBlob:
    """Message bytes made durable, ready to be referenced in a unit of work."""

    hash: str
    size: int


@dataclass(frozen=True, slots=True)
class NewMessage:
    blob: StagedBlob
    trace: bytes = b""
    flags: Flag = Flag(0)
    keywords: frozenset[str] = frozenset()
    internal_date: datetime | None = None


@dataclass(frozen=True, slots=True)
class Appended:
    message_id: int
    uid: int
    modseq: int


@dataclass(frozen=True, slots=True)
class Listed:
    """A message as a POP listing needs it: no flags, no dates."""

    uid: int
    size: int
    blob_hash: str
    trace: bytes


@dataclass(frozen=True, slots=True)
class MessageFlags:
    uid: int
    modseq: int
    flags: Flag
    keywords: frozenset[str]


@dataclass(frozen=True, slots=True)
class MessageInfo:
    id: int
    mailbox_id: int
    uid: int
    modseq: int
    flags: Flag
    keywords: frozenset[str]
    blob_hash: str
    trace: bytes
    size: int
    internal_date: datetime
    saved_at: datetime | None = None
    """When it was saved in this mailbox (RFC 8514 save date); None for
    messages saved before Roost kept it."""


class FlagMode(enum.Enum):
    ADD = "add"
    REMOVE = "remove"
    REPLACE = "replace"


@dataclass(frozen=True, slots=True)
class Change:
    """One entry of the durable change feed."""

    id: int
    account_id: int
    mailbox_id: int | None
    kind: str
    modseq: int | None
    at: datetime


class QueueState(enum.StrEnum):
    QUEUED = "queued"
    DEFERRED = "deferred"
    HELD = "held"


class RecipientState(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class NewRecipient:
    address: str
    orcpt: str | None = None
    notify: str | None = None


@dataclass(frozen=True, slots=True)
class QueueRecipient:
    id: int
    address: str
    orcpt: str | None
    notify: str | None
    state: RecipientState
    attempts: int
    last_reply: str | None
    last_attempt_at: datetime | None


@dataclass(frozen=True, slots=True)
class QueueEntry:
    id: int
    blob_hash: str
    sender: str
    size: int
    state: QueueState
    envid: str | None
    ret: str | None
    source: str
    details: str
    received_at: datetime
    next_attempt_at: datetime
    attempts: int
    recipients: tuple[QueueRecipient, ...]


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    at: datetime
    node: str
    object: str
    action: str
    old_state: str | None
    new_state: str | None
    actor: str
    source_address: str | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class NewEvent:
    object: str
    action: str
    actor: str
    old_state: str | None = None
    new_state: str | None = None
    source_address: str | None = None
    reason: str | None = None
