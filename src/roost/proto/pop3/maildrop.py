"""The maildrop as a POP3 session sees it, and the commands it answers alone.

RFC 1939 §8 fixes the maildrop for a session: messages are numbered from
1 when the session enters the TRANSACTION state, and the numbers never
change until it ends; DELE only *marks* a message, RSET unmarks them all,
and only QUIT (the UPDATE state, §6) removes the marked ones. So the
service hands the core the listing once, as a `Maildrop` of sizes and
unique-ids, and the core answers STAT, LIST, UIDL, DELE and RSET from it
without asking anyone. A `MaildropSession` is that listing plus the marks.

Sizes are what RETR sends *before* dot-stuffing (RFC 1939 §5 LIST: "the
exact size of the message in octets"), which for Roost's CRLF-only store
is the stored message's length (its trace fields and its blob).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from roost.proto.pop3 import commands as cmd
from roost.proto.pop3 import replies
from roost.proto.pop3.errors import (
    AlreadyAuthenticatedError,
    MessageDeletedError,
    NoSuchMessageError,
    Pop3StateError,
)
from roost.proto.pop3.events import Deletion, Retrieve, Update
from roost.proto.pop3.replies import Reply, multiline

_UNIQUE_ID = re.compile(r"[\x21-\x7e]{1,70}")
"""RFC 1939 §7 UIDL: one to 70 characters from 0x21 to 0x7E."""


@dataclass(frozen=True, slots=True)
class MaildropEntry:
    """One message of the listing: its size in octets and its unique-id.

    Raises `Pop3StateError` for a negative size or a unique-id RFC 1939 §7
    does not allow, since only a bug in the service would build one.
    """

    size_octets: int
    uid: str

    def __post_init__(self) -> None:
        if self.size_octets < 0:
            raise Pop3StateError(f"message size {self.size_octets} is negative")
        if _UNIQUE_ID.fullmatch(self.uid) is None:
            raise Pop3StateError(f"unique-id {self.uid!r} breaks RFC 1939 §7")


@dataclass(frozen=True, slots=True)
class Maildrop:
    """The listing of a maildrop, fixed for the session (RFC 1939 §8).

    Message *n* is ``entries[n - 1]``. Unique-ids must differ (RFC 1939 §7:
    "unique within the maildrop"); a repeat raises `Pop3StateError`.
    """

    entries: tuple[MaildropEntry, ...] = ()

    def __post_init__(self) -> None:
        if len({entry.uid for entry in self.entries}) != len(self.entries):
            raise Pop3StateError("two messages of a maildrop share a unique-id")

    @classmethod
    def of(cls, listing: Iterable[tuple[int, str]]) -> Maildrop:
        """Build a maildrop from ``(size_octets, uid)`` pairs, in message order."""
        return cls(tuple(MaildropEntry(size, uid) for size, uid in listing))

    def __len__(self) -> int:
        return len(self.entries)


class MaildropSession:
    """A `Maildrop` with this session's deletion marks (RFC 1939 §5)."""

    __slots__ = ("_deleted", "_deleted_count", "_deleted_octets", "_maildrop", "_total_octets")

    def __init__(self, maildrop: Maildrop) -> None:
        self._maildrop = maildrop
        self._total_octets = sum(entry.size_octets for entry in maildrop.entries)
        self._deleted = [False] * len(maildrop)
        self._deleted_count = 0
        self._deleted_octets = 0

    @property
    def maildrop(self) -> Maildrop:
        return self._maildrop

    @property
    def count(self) -> int:
        """Messages not marked as deleted."""
        return len(self._maildrop) - self._deleted_count

    @property
    def octets(self) -> int:
        """Their total size."""
        return self._total_octets - self._deleted_octets

    def entry(self, number: int) -> MaildropEntry:
        """Message ``number``, which must exist and not be marked.

        Raises `NoSuchMessageError` or `MessageDeletedError` (RFC 1939 §5:
        a command "may not refer to a message marked as deleted").
        """
        if not 1 <= number <= len(self._maildrop):
            raise NoSuchMessageError(number)
        if self._deleted[number - 1]:
            raise MessageDeletedError(number)
        return self._maildrop.entries[number - 1]

    def live(self) -> Iterator[tuple[int, MaildropEntry]]:
        """Numbers and entries of the messages not marked, in order."""
        for index, entry in enumerate(self._maildrop.entries):
            if not self._deleted[index]:
                yield index + 1, entry

    def deletions(self) -> tuple[Deletion, ...]:
        """What QUIT is to remove (RFC 1939 §6), in message order."""
        entries = self._maildrop.entries
        return tuple(
            Deletion(index + 1, entries[index].uid)
            for index, marked in enumerate(self._deleted)
            if marked
        )

    def answer(self, command: cmd.Command) -> bytes | Retrieve | Update:
        """Carry out a command of the TRANSACTION state (RFC 1939 §5 to §7).

        Returns the response's wire bytes when the core can answer alone,
        else the event for the service. CAPA is the engine's. Raises a
        `PeerError` for a message number that is not there, or a command
        of the AUTHORIZATION state.
        """
        match command:
            case cmd.Stat():
                return self.stat()
            case cmd.List(number=number):
                return self.list(number)
            case cmd.Uidl(number=number):
                return self.uidl(number)
            case cmd.Dele(number=number):
                return self.dele(number)
            case cmd.Rset():
                return self.rset()
            case cmd.Noop():
                return replies.NOOP.to_bytes()
            case cmd.Retr(number=number):
                entry = self.entry(number)
                return Retrieve(number, entry.uid, entry.size_octets, None)
            case cmd.Top(number=number, lines=lines):
                entry = self.entry(number)
                return Retrieve(number, entry.uid, entry.size_octets, lines)
            case cmd.Quit():
                return Update(self.deletions())
            case _:
                raise AlreadyAuthenticatedError(command)

    # The commands the core answers alone; each returns the wire bytes.

    def stat(self) -> bytes:
        """RFC 1939 §5 STAT: ``+OK count octets``, leaving out marked messages."""
        return replies.ok(f"{self.count} {self.octets}").to_bytes()

    def list(self, number: int | None) -> bytes:
        """RFC 1939 §5 LIST: a scan listing of one message or all of them."""
        if number is not None:
            return replies.ok(f"{number} {self.entry(number).size_octets}").to_bytes()
        status = replies.maildrop_summary(self.count, self.octets)
        return multiline(status, (f"{n} {entry.size_octets}" for n, entry in self.live()))

    def uidl(self, number: int | None) -> bytes:
        """RFC 1939 §7 UIDL: a unique-id listing of one message or all of them."""
        if number is not None:
            return replies.ok(f"{number} {self.entry(number).uid}").to_bytes()
        return multiline(replies.UIDL_FOLLOWS, (f"{n} {entry.uid}" for n, entry in self.live()))

    def dele(self, number: int) -> bytes:
        """RFC 1939 §5 DELE: mark the message; QUIT removes it."""
        entry = self.entry(number)
        self._deleted[number - 1] = True
        self._deleted_count += 1
        self._deleted_octets += entry.size_octets
        return replies.deleted(number).to_bytes()

    def rset(self) -> bytes:
        """RFC 1939 §5 RSET: unmark every message."""
        self._deleted = [False] * len(self._maildrop)
        self._deleted_count = 0
        self._deleted_octets = 0
        return self.summary().to_bytes()

    def summary(self) -> Reply:
        """``+OK`` with the count and size, as after login (RFC 1939 §7)."""
        return replies.maildrop_summary(self.count, self.octets)
