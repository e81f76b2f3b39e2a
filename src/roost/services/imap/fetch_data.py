"""The FETCH data of one message (RFC 9051 §7.5.2), and its response on the wire.

The attributes come from four places:

- the message row: UID, FLAGS, INTERNALDATE, RFC822.SIZE, MODSEQ, EMAILID
  (derived from the blob and trace, `objectid`);
- the `FetchCache`: ENVELOPE, BODYSTRUCTURE and BODY as written before, by
  blob;
- the MIME structure kept at delivery, read for a batch of messages in one
  query (`MessageData.structure`), for what the cache lacks and for where a
  section's octets are;
- the message's octets (`bodies.MessageBytes`), read only when a section,
  BINARY or RFC822.* is asked for, and streamed when large.

`send` writes ``* n FETCH (...)``, copying streamed literals from the store
as they are read. A FETCH of row attributes and the cached three only (what
a client asks of a whole mailbox when it opens it) is written straight to
bytes by `SummaryWriter`, with no list of values in between.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from roost.net.errors import ConnectionClosed
from roost.proto.imap.bodystructure import build_body, build_bodystructure
from roost.proto.imap.envelope import build_envelope
from roost.proto.imap.fetch import (
    BinarySection,
    BinarySize,
    BodySection,
    FetchAttr,
    FetchItem,
    response_name,
)
from roost.proto.imap.reader import MONTHS
from roost.proto.imap.responses import Condition
from roost.proto.imap.sections import resolve_binary, resolve_section
from roost.proto.imap.values import Atom, ImapData, Raw
from roost.proto.imap.writer import write_data, write_into
from roost.proto.mime import MessageStructure
from roost.services.imap.bodies import MessageBytes, Streamed
from roost.services.imap.cache import CacheKey
from roost.services.imap.context import CommandFailed, SessionContext, flag_atoms
from roost.services.imap.messages import message_structure, with_trace
from roost.services.imap.objectid import email_id, object_id
from roost.store.types import Flag, MessageInfo

CACHED = (FetchItem.ENVELOPE, FetchItem.BODYSTRUCTURE, FetchItem.BODY)
"""What depends on the blob alone and is kept written (`roost.services.imap.cache`)."""
_NEEDS_BYTES = (FetchItem.RFC822, FetchItem.RFC822_HEADER, FetchItem.RFC822_TEXT)


def internal_date(when: datetime.datetime) -> str:
    """RFC 9051 ``date-time``: ``"17-Jul-1996 02:44:25 -0700"`` (day padded with a space)."""
    if when.tzinfo is datetime.UTC or when.tzinfo is None:
        # What the store gives: a quarter of the time of the general case.
        return "%2d-%s-%04d %02d:%02d:%02d +0000" % (  # noqa: UP031 (faster here)
            when.day,
            MONTHS[when.month - 1],
            when.year,
            when.hour,
            when.minute,
            when.second,
        )
    offset = when.utcoffset() or datetime.timedelta()
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return (
        f"{when.day:2d}-{MONTHS[when.month - 1]}-{when.year:04d} "
        f"{when.hour:02d}:{when.minute:02d}:{when.second:02d} {sign}{hours:02d}{rest:02d}"
    )


def needs_bytes(attr: FetchAttr) -> bool:
    """Whether the attribute is sent from the message's octets."""
    return isinstance(attr, BodySection | BinarySection | BinarySize) or attr in _NEEDS_BYTES


@dataclass(frozen=True, slots=True)
class Wanted:
    """What a FETCH's attributes need of each message."""

    attrs: tuple[FetchAttr, ...]
    octets: bool
    """A section, BINARY or RFC822.*: the message's octets and its structure."""
    cached: tuple[FetchItem, ...]
    """ENVELOPE, BODYSTRUCTURE, BODY: the cache, else the structure."""
    names: tuple[Atom, ...]
    """Each attribute's name in the response, made once for all messages."""

    @classmethod
    def of(cls, attrs: list[FetchAttr]) -> Wanted:
        return cls(
            tuple(attrs),
            any(needs_bytes(a) for a in attrs),
            tuple(a for a in CACHED if a in attrs),
            tuple(Atom(response_name(a)) for a in attrs),
        )

    def key(self, ctx: SessionContext, info: MessageInfo, item: FetchItem) -> CacheKey:
        return (info.blob_hash, item.value, ctx.core.rev2, ctx.core.utf8)

    def needs_structure(self, ctx: SessionContext, info: MessageInfo) -> bool:
        """Whether this message's stored structure must be read."""
        cache = ctx.deps.fetch_cache
        return self.octets or any(not cache.peek(self.key(ctx, info, i)) for i in self.cached)


async def items(
    ctx: SessionContext,
    info: MessageInfo,
    wanted: Wanted,
    kept: str | None,
    data: bytes | None = None,
) -> list[ImapData | Streamed]:
    """The FETCH data of one message; ``kept`` is its stored structure, read
    with its batch's (None when it needed none or has none), ``data`` its
    octets when they were read with its group's."""
    octets = MessageBytes(
        ctx.store, info, stream_octets=ctx.deps.config.stream_literal_bytes, data=data
    )
    if wanted.octets:
        await octets.load()
    structure: MessageStructure | None = None
    if kept is not None:
        structure = with_trace(MessageStructure.from_json(kept), len(info.trace))
    elif wanted.needs_structure(ctx, info):
        structure = await message_structure(ctx, info, octets.data)
    rev2 = ctx.core.rev2
    out: list[ImapData | Streamed] = []
    for attr, name in zip(wanted.attrs, wanted.names, strict=True):
        out.append(name)
        match attr:
            case FetchItem.UID:
                out.append(info.uid)
            case FetchItem.FLAGS:
                out.append(flag_atoms(info.flags, info.keywords))
            case FetchItem.INTERNALDATE:
                out.append(internal_date(info.internal_date))
            case FetchItem.RFC822_SIZE:
                out.append(info.size)
            case FetchItem.MODSEQ:
                out.append((info.modseq,))
            case FetchItem.EMAILID:
                out.append(object_id(email_id(info)))
            case FetchItem.THREADID:
                out.append(None)  # not kept: RFC 8474 §5.2
            case FetchItem.SAVEDATE:
                # RFC 8514 §3: NIL when the save date is not known (a message
                # saved before Roost kept it).
                saved = info.saved_at
                out.append(None if saved is None else internal_date(saved))
            case FetchItem.ENVELOPE | FetchItem.BODYSTRUCTURE | FetchItem.BODY:
                key = wanted.key(ctx, info, attr)
                found = ctx.deps.fetch_cache.get(key)
                if found is None:
                    if structure is None:  # evicted since `needs_structure` looked
                        structure = await message_structure(ctx, info, octets.data)
                    found = _write(ctx, key, attr, structure)
                out.append(Raw(found))
            case FetchItem.RFC822 | FetchItem.RFC822_HEADER | FetchItem.RFC822_TEXT:
                assert structure is not None
                root = structure.root
                start, end = {
                    FetchItem.RFC822: (0, root.body_end),
                    FetchItem.RFC822_HEADER: (0, root.header_end),
                    FetchItem.RFC822_TEXT: (root.body_start, root.body_end),
                }[attr]
                out.append(await octets.octets(start, end))
            case BodySection(section=section, partial=window):
                assert structure is not None
                read = resolve_section(structure, section, message_global=rev2)
                out.append(await octets.section(read, window))
            case BinarySection(part=part, partial=window):
                assert structure is not None
                binary = resolve_binary(structure, part, message_global=rev2)
                out.append(await octets.binary(binary, window))
            case BinarySize(part=part):
                assert structure is not None
                binary = resolve_binary(structure, part, message_global=rev2)
                out.append(await octets.binary_size(binary))
            case _:
                raise CommandFailed("unsupported attribute", condition=Condition.BAD)
    return out


_SUMMARY = frozenset(
    {
        FetchItem.UID,
        FetchItem.FLAGS,
        FetchItem.INTERNALDATE,
        FetchItem.RFC822_SIZE,
        FetchItem.MODSEQ,
        *CACHED,
    }
)


class SummaryWriter:
    """``* n FETCH (...)`` of a summary FETCH written straight to bytes: the
    same octets `items` and `send` give, at a fraction of the Python per
    message, since each message costs some formatting and cache lookups.
    FLAGS lists are written once per distinct set of flags."""

    def __init__(self, ctx: SessionContext, wanted: Wanted) -> None:
        self._ctx = ctx
        self._wanted = wanted
        self._utf8 = ctx.core.utf8
        self._names = [write_data(name) + b" " for name in wanted.names]
        self._flags: dict[tuple[Flag, frozenset[str]], bytes] = {}

    @staticmethod
    def applies(wanted: Wanted) -> bool:
        return not wanted.octets and all(attr in _SUMMARY for attr in wanted.attrs)

    def _flag_list(self, info: MessageInfo) -> bytes:
        key = (info.flags, info.keywords)
        written = self._flags.get(key)
        if written is None:
            written = write_data(flag_atoms(info.flags, info.keywords), utf8=self._utf8)
            self._flags[key] = written
        return written

    async def line(self, seq: int, info: MessageInfo, kept: str | None) -> bytes:
        """The response for message ``seq``; ``kept`` as for `items`."""
        ctx = self._ctx
        out = bytearray(b"* %d FETCH (" % seq)
        structure: MessageStructure | None = None
        for index, (attr, name) in enumerate(zip(self._wanted.attrs, self._names, strict=True)):
            if index:
                out += b" "
            out += name
            if attr is FetchItem.UID:
                out += b"%d" % info.uid
            elif attr is FetchItem.FLAGS:
                out += self._flag_list(info)
            elif attr is FetchItem.INTERNALDATE:
                out += b'"' + internal_date(info.internal_date).encode() + b'"'
            elif attr is FetchItem.RFC822_SIZE:
                out += b"%d" % info.size
            elif attr is FetchItem.MODSEQ:
                out += b"(%d)" % info.modseq
            else:
                assert isinstance(attr, FetchItem)
                key = self._wanted.key(ctx, info, attr)
                found = ctx.deps.fetch_cache.get(key)
                if found is None:
                    if structure is None:
                        if kept is not None:
                            structure = with_trace(
                                MessageStructure.from_json(kept), len(info.trace)
                            )
                        else:
                            structure = await message_structure(ctx, info, None)
                    found = _write(ctx, key, attr, structure)
                out += found
        out += b")\r\n"
        return bytes(out)


def _write(
    ctx: SessionContext, key: CacheKey, item: FetchItem, structure: MessageStructure
) -> bytes:
    """ENVELOPE, BODYSTRUCTURE or BODY written, and kept in the cache."""
    rev2 = ctx.core.rev2
    match item:
        case FetchItem.ENVELOPE:
            data = build_envelope(structure.root.envelope)
        case FetchItem.BODYSTRUCTURE:
            data = build_bodystructure(structure, message_global=rev2)
        case _:
            data = build_body(structure, message_global=rev2)
    written = write_data(data, utf8=ctx.core.utf8)
    ctx.deps.fetch_cache.put(key, written)
    return written


async def send(ctx: SessionContext, seq: int, items: list[ImapData | Streamed]) -> None:
    """``* seq FETCH (...)``, its large literals copied from the store as read."""
    utf8 = ctx.core.utf8
    out = bytearray(b"* %d FETCH (" % seq)
    for index, item in enumerate(items):
        if index:
            out += b" "
        if not isinstance(item, Streamed):
            write_into(out, item, utf8=utf8)
            continue
        out += b"~{%d}\r\n" % item.length if item.binary else b"{%d}\r\n" % item.length
        ctx.core.send(bytes(out))
        out.clear()
        sent = 0
        async for chunk in item.chunks():
            ctx.core.send(chunk)
            sent += len(chunk)
            await ctx.flush_if_full()
        if sent != item.length:
            # The literal's length went out first: a short read cannot be mended.
            raise ConnectionClosed(f"message changed while being sent ({sent} of {item.length})")
    out += b")\r\n"
    ctx.core.send(bytes(out))
