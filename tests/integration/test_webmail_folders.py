"""Webmail folders over HTTP: the list with unread counts, quota, create, rename,
delete, and the refusals, each seen through the Mail role as IMAP sees it."""

from __future__ import annotations

import re
from pathlib import Path

from roost.store.mail import NO_FLAGS
from roost.store.types import Flag, NewMessage
from tests.webmail_support import Mail, page_csrf, sign_in, webmail

MESSAGE = b"From: a@example.test\r\nSubject: hello\r\n\r\nbody\r\n"


async def _names(m: Mail) -> list[str]:
    account = await m.store.read(m.store.directory.account, "ann@example.test")
    return [b.name for b in await m.store.read(m.store.mail.mailboxes, account.id)]


async def _deliver(m: Mail, folder: str, flags: Flag = NO_FLAGS) -> None:
    account = await m.store.read(m.store.directory.account, "ann@example.test")
    box = await m.store.read(m.store.mail.mailbox, account.id, folder)
    blob = await m.store.blobs.stage(MESSAGE)
    await m.store.write(m.store.mail.append, box.id, [NewMessage(blob, flags=flags)])


async def test_folders_special_first_with_unread_counts_and_quota(
    tmp_path: Path, backend: str
) -> None:
    async with webmail(tmp_path, backend=backend) as m:
        for name in ("Zeta", "Alpha", "Alpha/Child"):
            account = await m.store.read(m.store.directory.account, "ann@example.test")
            await m.store.write(m.store.mail.create_mailbox, account.id, name)
        await _deliver(m, "INBOX")
        await _deliver(m, "INBOX")
        await _deliver(m, "INBOX", Flag.SEEN)
        await sign_in(m.client)
        page = (await m.client.get("/mail")).text
        order = re.findall(r'<span class="label">([^<]*)</span>', page)
        assert order == [
            "INBOX",
            "Drafts",
            "Sent",
            "Archive",
            "Junk",
            "Trash",
            "Alpha",
            "Child",
            "Zeta",
        ]
        assert 'aria-label="2 unread"' in page
        assert "3 messages, 2 unread" in page
        assert "of 10.0 MiB used" in page
        missing = await m.client.get("/mail", params={"folder": "Nowhere"})
        assert missing.status_code == 404 and "no folder" in missing.text


async def test_create_rename_and_delete_folders(tmp_path: Path, backend: str) -> None:
    async with webmail(tmp_path, backend=backend) as m:
        await sign_in(m.client)
        token = await page_csrf(m.client)
        made = await m.client.post("/mail/folders/create", data={"csrf": token, "name": "Bills"})
        assert made.status_code == 303 and "Bills" in await _names(m)
        sub = await m.client.post(
            "/mail/folders/create", data={"csrf": token, "name": "2026", "parent": "Bills"}
        )
        assert sub.status_code == 303 and "Bills/2026" in await _names(m)
        again = await m.client.post("/mail/folders/create", data={"csrf": token, "name": "Bills"})
        assert again.status_code == 409 and "exists already" in again.text
        slash = await m.client.post("/mail/folders/create", data={"csrf": token, "name": "a/b"})
        assert slash.status_code == 400
        renamed = await m.client.post(
            "/mail/folders/rename", data={"csrf": token, "folder": "Bills", "name": "Invoices"}
        )
        assert renamed.status_code == 303
        names = await _names(m)
        assert "Invoices" in names and "Invoices/2026" in names and "Bills" not in names
        with_children = await m.client.post(
            "/mail/folders/delete", data={"csrf": token, "folder": "Invoices", "confirm": "yes"}
        )
        assert with_children.status_code == 400 and "subfolders" in with_children.text
        unconfirmed = await m.client.post(
            "/mail/folders/delete", data={"csrf": token, "folder": "Invoices/2026"}
        )
        assert unconfirmed.status_code == 400 and "Invoices/2026" in await _names(m)
        gone = await m.client.post(
            "/mail/folders/delete",
            data={"csrf": token, "folder": "Invoices/2026", "confirm": "yes"},
        )
        assert gone.status_code == 303 and "Invoices/2026" not in await _names(m)


async def test_special_folders_cannot_be_renamed_or_deleted(tmp_path: Path, backend: str) -> None:
    async with webmail(tmp_path, backend=backend) as m:
        await sign_in(m.client)
        token = await page_csrf(m.client)
        for folder in ("INBOX", "Trash"):
            renamed = await m.client.post(
                "/mail/folders/rename", data={"csrf": token, "folder": folder, "name": "X"}
            )
            assert renamed.status_code == 400 and "special folder" in renamed.text
            deleted = await m.client.post(
                "/mail/folders/delete", data={"csrf": token, "folder": folder, "confirm": "yes"}
            )
            assert deleted.status_code == 400
        assert {"INBOX", "Trash"} <= set(await _names(m))


async def test_the_folder_limit_is_a_setting(tmp_path: Path, backend: str) -> None:
    async with webmail(tmp_path, backend=backend, webmail={"max_folders": 10}) as m:
        await sign_in(m.client)
        token = await page_csrf(m.client)
        for n in range(4):  # six standard folders + four
            done = await m.client.post(
                "/mail/folders/create", data={"csrf": token, "name": f"F{n}"}
            )
            assert done.status_code == 303
        refused = await m.client.post("/mail/folders/create", data={"csrf": token, "name": "F4"})
        assert refused.status_code == 400 and "max_folders = 10" in refused.text
