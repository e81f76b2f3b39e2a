"""Mailbox commands: SELECT, EXAMINE, CREATE, DELETE, RENAME, SUBSCRIBE,
UNSUBSCRIBE, NAMESPACE and the quota commands (RFC 9051 §6.3, RFC 9208).

Names travel in modified UTF-7 or, once the client enabled UTF8=ACCEPT or
IMAP4rev2, in UTF-8 (the parser decodes them; `mutf7.encode_mailbox`
encodes them back). The hierarchy delimiter is ``/``; CREATE makes the
missing parents of a name (RFC 9051 §6.3.4), RENAME of INBOX moves its
messages into a new mailbox and leaves INBOX empty (§6.3.6).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from roost.core.errors import AlreadyExists, InvalidName, NotFound
from roost.proto.imap import mutf7
from roost.proto.imap.commands.auth import (
    Create,
    Delete,
    Examine,
    GetQuota,
    GetQuotaRoot,
    QresyncParams,
    Rename,
    Select,
    Subscribe,
    Unsubscribe,
)
from roost.proto.imap.reader import NUMBER64_MAX
from roost.proto.imap.responses import Condition, ResponseCode
from roost.proto.imap.sequence import sequence_of
from roost.proto.imap.values import Atom, ImapData
from roost.services.imap.context import (
    ALREADYEXISTS,
    CANNOT,
    NONEXISTENT,
    CommandFailed,
    SessionContext,
)
from roost.services.imap.objectid import mailbox_id, object_id
from roost.services.imap.selected import SelectedMailbox, fetch_flags_items
from roost.store.db import Tx
from roost.store.mail import DELIMITER
from roost.store.types import Flag, Mailbox, MessageFlags, SpecialUse

CLOSED = ResponseCode("CLOSED")
USEATTR = ResponseCode("USEATTR")
SYSTEM_FLAGS = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")
KIB = 1024
"""RFC 9208 §5.1: STORAGE is counted in units of 1024 octets."""


def wire_name(ctx: SessionContext, name: str) -> str:
    return mutf7.encode_mailbox(name, utf8=ctx.core.utf8)


async def _mailbox(tx: Tx, ctx: SessionContext, name: str) -> Mailbox:
    try:
        return await ctx.store.mail.mailbox(tx, ctx.account_id, name)
    except NotFound:
        raise CommandFailed("No such mailbox", NONEXISTENT) from None


# --- SELECT and EXAMINE (RFC 9051 §6.3.2, §6.3.3; RFC 7162 §3.1.2)


async def select(ctx: SessionContext, command: Select | Examine) -> None:
    core = ctx.core
    qresync = command.qresync
    if qresync is not None and not core.qresync:
        # RFC 7162 §3.2.5: BAD, and the selected mailbox stays selected.
        raise CommandFailed(
            "QRESYNC needs ENABLE QRESYNC first (RFC 7162 section 3.2.5)",
            condition=Condition.BAD,
        )
    if ctx.selected is not None:
        ctx.selected = None
        core.unselected()
        core.status(Condition.OK, "Previous mailbox closed", CLOSED)
    if command.condstore:
        core.enable("CONDSTORE")
    read_only = isinstance(command, Examine)
    store = ctx.store
    mark = store.changes.latest_seen

    rev1 = not core.rev2
    resync = qresync is not None

    async def work(tx: Tx) -> _Opened:
        box = await _mailbox(tx, ctx, command.mailbox)
        mail = store.mail
        opened = _Opened(
            box, await mail.uid_runs(tx, box.id), await mail.keywords_in_use(tx, box.id)
        )
        if rev1:
            found = await mail.find(tx, box.id, without_flags=Flag.SEEN, first_only=True)
            opened.first_unseen = found.uids[0] if found.uids else None
        if qresync is not None and qresync.uidvalidity == box.uidvalidity:
            known = _known_ranges(qresync)
            opened.vanished = await mail.vanished(tx, box.id, qresync.modseq, known)
            opened.changed = await mail.flags(tx, box.id, known, changed_since=qresync.modseq)
        return opened

    opened = await store.read(work)
    box = opened.box
    view = SelectedMailbox(box, opened.runs, read_only=read_only, mark=mark)
    flags = tuple(Atom(name) for name in (*SYSTEM_FLAGS, *opened.keywords))
    core.untagged(Atom("FLAGS"), flags)
    core.untagged(view.exists, Atom("EXISTS"))
    if rev1:
        core.untagged(0, Atom("RECENT"))
        unseen = None if opened.first_unseen is None else view.seq_of(opened.first_unseen)
        if unseen is not None:
            core.status(Condition.OK, "First unseen", ResponseCode("UNSEEN", (unseen,)))
    permanent: tuple[ImapData, ...] = () if read_only else (*flags, Atom("\\*"))
    core.status(Condition.OK, "Flags permitted", ResponseCode("PERMANENTFLAGS", (permanent,)))
    core.status(Condition.OK, "UIDs valid", ResponseCode("UIDVALIDITY", (box.uidvalidity,)))
    core.status(Condition.OK, "Predicted next UID", ResponseCode("UIDNEXT", (box.uidnext,)))
    core.status(Condition.OK, "Highest", ResponseCode("HIGHESTMODSEQ", (box.highest_modseq,)))
    identity = object_id(mailbox_id(box.id, box.uidvalidity))
    core.status(Condition.OK, "Ok", ResponseCode("MAILBOXID", (identity,)))
    if core.rev2:
        # RFC 9051 §6.3.2: the mailbox's name as the server spells it.
        core.untagged(Atom("LIST"), (), DELIMITER, wire_name(ctx, box.name))
    if resync:
        _resync(ctx, view, opened.changed, opened.vanished)
    core.selected()
    ctx.selected = view
    ctx.saved_uids = ()
    code = ResponseCode("READ-ONLY" if read_only else "READ-WRITE")
    core.finish(Condition.OK, f"{command.NAME} completed", code)


@dataclass(slots=True)
class _Opened:
    """What SELECT reads of a mailbox, in one unit of work."""

    box: Mailbox
    runs: list[tuple[int, int]]
    keywords: list[str]
    first_unseen: int | None = None
    vanished: list[int] = field(default_factory=list)
    changed: list[MessageFlags] = field(default_factory=list)


def _known_ranges(qresync: QresyncParams) -> list[tuple[int, int]] | None:
    """The client's known UIDs as ranges; None when it named none (all)."""
    if qresync.known_uids is None:
        return None
    return list(qresync.known_uids.resolve(NUMBER64_MAX))


def _resync(
    ctx: SessionContext,
    view: SelectedMailbox,
    changed: list[MessageFlags],
    vanished: list[int],
) -> None:
    """QRESYNC (RFC 7162 §3.2.5.1): the known UIDs expunged since the client's
    MODSEQ, then the flags of every known message changed since it."""
    if vanished:
        uids = Atom(str(sequence_of(vanished)))
        ctx.core.untagged(Atom("VANISHED"), (Atom("EARLIER"),), uids)
    for message in changed:
        seq = view.seq_of(message.uid)
        if seq is not None:
            ctx.core.untagged(seq, Atom("FETCH"), fetch_flags_items(message, condstore=True))


# --- CREATE, DELETE, RENAME (RFC 9051 §6.3.4–§6.3.6)


def _special_use(uses: tuple[str, ...]) -> SpecialUse | None:
    if not uses:
        return None
    if len(uses) > 1:
        raise CommandFailed("A mailbox has one special use here", USEATTR)
    try:
        return SpecialUse(uses[0])
    except ValueError:
        raise CommandFailed(f"Special use {uses[0]} is not supported", USEATTR) from None


async def _create_parents(tx: Tx, ctx: SessionContext, name: str) -> None:
    """The superior names a new name needs (RFC 9051 §6.3.4: SHOULD create them)."""
    existing = {box.name for box in await ctx.store.mail.mailboxes(tx, ctx.account_id)}
    levels = name.split(DELIMITER)
    for depth in range(1, len(levels)):
        parent = DELIMITER.join(levels[:depth])
        if parent.upper() != "INBOX" and parent not in existing:
            await ctx.store.mail.create_mailbox(tx, ctx.account_id, parent)


async def create(ctx: SessionContext, command: Create) -> None:
    name = command.mailbox.rstrip(DELIMITER)
    use = _special_use(command.special_use)
    if name.upper() == "INBOX":
        raise CommandFailed("INBOX exists always", ALREADYEXISTS)

    async def work(tx: Tx) -> Mailbox:
        await _create_parents(tx, ctx, name)
        return await ctx.store.mail.create_mailbox(tx, ctx.account_id, name, use)

    try:
        box = await ctx.store.write(work)
    except AlreadyExists:
        raise CommandFailed("Mailbox exists already", ALREADYEXISTS) from None
    except InvalidName as exc:
        raise CommandFailed(str(exc), CANNOT) from None
    # RFC 8474 §4.1: the new mailbox's id in the tagged OK.
    code = ResponseCode("MAILBOXID", (object_id(mailbox_id(box.id, box.uidvalidity)),))
    ctx.core.finish(Condition.OK, "CREATE completed", code)


async def delete(ctx: SessionContext, command: Delete) -> None:
    if command.mailbox.upper() == "INBOX":
        raise CommandFailed("INBOX cannot be deleted", CANNOT)
    view = ctx.selected
    store = ctx.store

    async def work(tx: Tx) -> None:
        box = await _mailbox(tx, ctx, command.mailbox)
        if view is not None and view.id == box.id:
            raise CommandFailed("Close the selected mailbox before deleting it", CANNOT)
        await store.mail.delete_mailbox(tx, ctx.account_id, box.name)

    await store.write(work)
    ctx.core.finish(Condition.OK, "DELETE completed")


async def rename(ctx: SessionContext, command: Rename) -> None:
    store = ctx.store
    new = command.destination.rstrip(DELIMITER)

    async def move_inbox(tx: Tx) -> None:
        inbox = await _mailbox(tx, ctx, "INBOX")
        await _create_parents(tx, ctx, new)
        target = await store.mail.create_mailbox(tx, ctx.account_id, new)
        await store.mail.copy(tx, inbox.id, [(1, inbox.uidnext)], target.id)
        await store.mail.expunge(tx, inbox.id, None, deleted_only=False)

    async def work(tx: Tx) -> None:
        await _mailbox(tx, ctx, command.source)
        await _create_parents(tx, ctx, new)
        await store.mail.rename_mailbox(tx, ctx.account_id, command.source, new)

    try:
        await store.write(move_inbox if command.source.upper() == "INBOX" else work)
    except AlreadyExists:
        raise CommandFailed("The new name is taken", ALREADYEXISTS) from None
    except InvalidName as exc:
        raise CommandFailed(str(exc), CANNOT) from None
    ctx.core.finish(Condition.OK, "RENAME completed")


async def subscribe(ctx: SessionContext, command: Subscribe | Unsubscribe) -> None:
    on = isinstance(command, Subscribe)

    async def work(tx: Tx) -> None:
        box = await _mailbox(tx, ctx, command.mailbox)
        await ctx.store.mail.set_subscribed(tx, ctx.account_id, box.name, on)

    await ctx.store.write(work)
    ctx.core.finish(Condition.OK, f"{command.NAME} completed")


def namespace(ctx: SessionContext) -> None:
    """One personal namespace, no others (RFC 2342 §5)."""
    ctx.core.untagged(Atom("NAMESPACE"), (("", DELIMITER),), None, None)
    ctx.core.finish(Condition.OK, "NAMESPACE completed")


# --- QUOTA (RFC 9208): one root, "", for the whole account


async def _quota_data(ctx: SessionContext) -> tuple[ImapData, ...]:
    account = await ctx.store.read(ctx.store.directory.account, ctx.address)
    resources: list[ImapData] = []
    if account.quota_bytes:
        used = -(-account.used_bytes // KIB)
        resources += [Atom("STORAGE"), used, account.quota_bytes // KIB]
    if account.quota_messages:
        resources += [Atom("MESSAGE"), account.used_messages, account.quota_messages]
    return tuple(resources)


async def get_quota_root(ctx: SessionContext, command: GetQuotaRoot) -> None:
    await ctx.store.read(_mailbox, ctx, command.mailbox)
    resources = await _quota_data(ctx)
    name = wire_name(ctx, command.mailbox)
    if resources:
        ctx.core.untagged(Atom("QUOTAROOT"), name, "")
        ctx.core.untagged(Atom("QUOTA"), "", resources)
    else:
        ctx.core.untagged(Atom("QUOTAROOT"), name)
    ctx.core.finish(Condition.OK, "GETQUOTAROOT completed")


async def get_quota(ctx: SessionContext, command: GetQuota) -> None:
    resources = await _quota_data(ctx) if command.root == "" else ()
    if not resources:
        raise CommandFailed("No such quota root", NONEXISTENT)
    ctx.core.untagged(Atom("QUOTA"), "", resources)
    ctx.core.finish(Condition.OK, "GETQUOTA completed")
