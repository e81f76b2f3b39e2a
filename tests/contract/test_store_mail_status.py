"""Contract of what the Mail role adds for IMAP STATUS, on SQLite and PostgreSQL."""

from __future__ import annotations

from roost.store.mail import MailboxStatus
from roost.store.store import Store
from roost.store.types import Flag, FlagMode, NewMessage
from tests.contract.test_store_mail import make_account, message


async def test_mailbox_status_counts_unseen_deleted_and_size(store: Store) -> None:
    account = await make_account(store)
    box = await store.read(store.mail.mailbox, account.id, "INBOX")
    assert await store.read(store.mail.mailbox_status, box.id) == MailboxStatus(0, 0, 0, 0)
    blobs = [await store.blobs.stage(message(i)) for i in range(4)]
    trace = b"Delivered-To: alice@example.org\r\n"
    await store.write(
        store.mail.append,
        box.id,
        [
            NewMessage(blobs[0], trace=trace),
            NewMessage(blobs[1], flags=Flag.SEEN),
            NewMessage(blobs[2], flags=Flag.SEEN | Flag.DELETED),
            NewMessage(blobs[3], flags=Flag.DELETED | Flag.FLAGGED),
        ],
    )
    size = sum(b.size for b in blobs) + len(trace)
    assert await store.read(store.mail.mailbox_status, box.id) == MailboxStatus(4, 2, 2, size)
    await store.write(store.mail.store_flags, box.id, [(1, 1)], FlagMode.ADD, Flag.SEEN)
    await store.write(store.mail.expunge, box.id)
    status = await store.read(store.mail.mailbox_status, box.id)
    assert status == MailboxStatus(2, 0, 0, blobs[0].size + len(trace) + blobs[1].size)


async def test_mailbox_status_is_per_mailbox(store: Store) -> None:
    account = await make_account(store)
    other = await store.write(store.mail.create_mailbox, account.id, "Other")
    inbox = await store.read(store.mail.mailbox, account.id, "INBOX")
    blob = await store.blobs.stage(message(1))
    await store.write(store.mail.append, inbox.id, [NewMessage(blob)])
    assert await store.read(store.mail.mailbox_status, other.id) == MailboxStatus(0, 0, 0, 0)
    assert (await store.read(store.mail.mailbox_status, inbox.id)).messages == 1
