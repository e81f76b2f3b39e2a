"""LIST (RFC 9051 §6.3.9 with LIST-EXTENDED, RFC 5258; SPECIAL-USE, RFC 6154;
LIST-STATUS, RFC 5819), LSUB (RFC 3501 §6.3.9) and STATUS (RFC 9051 §6.3.11).

Patterns: ``*`` matches any run of characters, ``%`` any run without the
hierarchy delimiter; the first level INBOX matches in any case. A name
that has children but is no mailbox itself (its mailbox was deleted) is
listed ``\\Noselect``. Special-use attributes (``\\Sent`` ...) and
``\\HasChildren``/``\\HasNoChildren`` are always given, as RFC 6154 §2 and
RFC 3348 allow.
"""

from __future__ import annotations

import re

from roost.core.errors import NotFound
from roost.proto.imap.commands.listing import List, ListReturn, ListSelect, Lsub, Status, StatusItem
from roost.proto.imap.responses import Condition
from roost.proto.imap.values import Atom, ImapData
from roost.services.imap.context import NONEXISTENT, CommandFailed, SessionContext
from roost.services.imap.mailboxes import wire_name
from roost.services.imap.objectid import mailbox_id, object_id
from roost.store.db import Tx
from roost.store.mail import DELIMITER, MailboxStatus
from roost.store.types import Mailbox


def pattern_regex(reference: str, pattern: str) -> re.Pattern[str]:
    """The names ``reference`` + ``pattern`` matches (RFC 9051 §6.3.9)."""
    full = reference + pattern
    if full[:5].upper() == "INBOX" and (len(full) == 5 or full[5] == DELIMITER):
        full = "INBOX" + full[5:]
    out = []
    for char in full:
        if char == "*":
            out.append(".*")
        elif char == "%":
            out.append(f"[^{re.escape(DELIMITER)}]*")
        else:
            out.append(re.escape(char))
    return re.compile("".join(out), re.DOTALL)


def _all_names(boxes: list[Mailbox]) -> dict[str, Mailbox | None]:
    """Every mailbox, and every superior name that is none (None)."""
    names: dict[str, Mailbox | None] = {box.name: box for box in boxes}
    for box in boxes:
        levels = box.name.split(DELIMITER)
        for depth in range(1, len(levels)):
            names.setdefault(DELIMITER.join(levels[:depth]), None)
    return names


def _has_children(name: str, names: dict[str, Mailbox | None]) -> bool:
    prefix = name + DELIMITER
    return any(other.startswith(prefix) for other in names)


async def _status_items(
    tx: Tx, ctx: SessionContext, box: Mailbox, items: tuple[StatusItem, ...]
) -> tuple[ImapData, ...]:
    counts: MailboxStatus | None = None
    if {StatusItem.MESSAGES, StatusItem.UNSEEN, StatusItem.DELETED, StatusItem.SIZE} & set(items):
        counts = await ctx.store.mail.mailbox_status(tx, box.id)
    out: list[ImapData] = []
    for item in items:
        match item:
            case StatusItem.MESSAGES:
                value = counts.messages if counts else box.message_count
            case StatusItem.UNSEEN:
                value = counts.unseen if counts else 0
            case StatusItem.DELETED:
                value = counts.deleted if counts else 0
            case StatusItem.SIZE:
                value = counts.size if counts else 0
            case StatusItem.UIDNEXT:
                value = box.uidnext
            case StatusItem.UIDVALIDITY:
                value = box.uidvalidity
            case StatusItem.HIGHESTMODSEQ:
                value = box.highest_modseq
            case StatusItem.RECENT:
                value = 0  # \Recent is not kept (RFC 9051 dropped it)
            case StatusItem.APPENDLIMIT:
                value = ctx.deps.config.max_append_bytes
            case StatusItem.MAILBOXID:
                out += [Atom(item.value), object_id(mailbox_id(box.id, box.uidvalidity))]
                continue
        out += [Atom(item.value), value]
    return tuple(out)


async def status(ctx: SessionContext, command: Status) -> None:
    if StatusItem.HIGHESTMODSEQ in command.items:
        ctx.core.enable("CONDSTORE")

    async def work(tx: Tx) -> tuple[Mailbox, tuple[ImapData, ...]]:
        try:
            box = await ctx.store.mail.mailbox(tx, ctx.account_id, command.mailbox)
        except NotFound:
            raise CommandFailed("No such mailbox", NONEXISTENT) from None
        return box, await _status_items(tx, ctx, box, command.items)

    box, items = await ctx.store.read(work)
    ctx.core.untagged(Atom("STATUS"), wire_name(ctx, box.name), items)
    ctx.core.finish(Condition.OK, "STATUS completed")


async def list_mailboxes(ctx: SessionContext, command: List) -> None:
    core = ctx.core
    if command.patterns == ("",):
        # RFC 9051 §6.3.9: the delimiter and the root of the reference.
        core.untagged(Atom("LIST"), (Atom("\\Noselect"),), DELIMITER, "")
        core.finish(Condition.OK, "LIST completed")
        return
    subscribed_only = ListSelect.SUBSCRIBED in command.select
    special_only = ListSelect.SPECIAL_USE in command.select
    recursive = ListSelect.RECURSIVEMATCH in command.select
    show_subscribed = subscribed_only or ListReturn.SUBSCRIBED in command.returns
    regexes = [pattern_regex(command.reference, p) for p in command.patterns]

    Row = tuple[str, Mailbox | None, tuple[ImapData, ...] | None]

    async def work(tx: Tx) -> tuple[list[Row], dict[str, Mailbox | None]]:
        boxes = await ctx.store.mail.mailboxes(tx, ctx.account_id)
        names = _all_names(boxes)
        rows: list[Row] = []
        for name in sorted(names, key=lambda n: (n != "INBOX", n)):
            if not any(regex.fullmatch(name) for regex in regexes):
                continue
            box = names[name]
            chosen = box is not None
            if subscribed_only:
                chosen = box is not None and box.subscribed
            if special_only:
                chosen = chosen and box is not None and box.special_use is not None
            if not chosen:
                descendant = recursive and any(
                    other.startswith(name + DELIMITER)
                    and (b := names[other]) is not None
                    and (b.subscribed if subscribed_only else b.special_use is not None)
                    for other in names
                )
                if not descendant and (subscribed_only or special_only or box is not None):
                    continue
            extra = None
            if command.status is not None and box is not None:
                extra = await _status_items(tx, ctx, box, command.status)
            rows.append((name, box, extra))
        return rows, names

    rows, names = await ctx.store.read(work)
    for name, box, extra in rows:
        attrs: list[str] = []
        if box is None:
            attrs.append("\\Noselect")
        attrs.append("\\HasChildren" if _has_children(name, names) else "\\HasNoChildren")
        if box is not None and box.special_use is not None:
            attrs.append(str(box.special_use))
        if show_subscribed and box is not None and box.subscribed:
            attrs.append("\\Subscribed")
        items: list[ImapData] = [
            Atom("LIST"),
            tuple(Atom(a) for a in attrs),
            DELIMITER,
            wire_name(ctx, name),
        ]
        matched = box is not None and (
            (not subscribed_only or box.subscribed)
            and (not special_only or box.special_use is not None)
        )
        if recursive and not matched:
            items.append((Atom("CHILDINFO"), ("SUBSCRIBED" if subscribed_only else "SPECIAL-USE",)))
        core.untagged(*items)
        if extra is not None:
            core.untagged(Atom("STATUS"), wire_name(ctx, name), extra)
        await ctx.flush_if_full()
    core.finish(Condition.OK, "LIST completed")


async def lsub(ctx: SessionContext, command: Lsub) -> None:
    """LSUB: the subscribed mailboxes that match (RFC 3501 §6.3.9)."""
    regex = pattern_regex(command.reference, command.pattern)
    boxes = await ctx.store.read(ctx.store.mail.mailboxes, ctx.account_id)
    for box in sorted(boxes, key=lambda b: (b.name != "INBOX", b.name)):
        if box.subscribed and regex.fullmatch(box.name):
            ctx.core.untagged(Atom("LSUB"), (), DELIMITER, wire_name(ctx, box.name))
    ctx.core.finish(Condition.OK, "LSUB completed")
