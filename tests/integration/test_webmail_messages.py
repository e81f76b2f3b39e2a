"""The webmail's message list over HTTP: what a row shows, sorting, keyset paging,
and the actions (flags, move, delete to Trash, empty, junk, all in the folder),
each checked through the Mail role that IMAP reads."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from roost.store.types import Flag, NewMessage
from tests.webmail_support import USER, Mail, page_csrf, sign_in, webmail

_UIDS = re.compile(r'<tr data-uid="(\d+)"')
_SUBJECTS = re.compile(r'<td class="subject"><a [^>]*>([^<]*)</a></td>')


def message(sender: str, subject: str, body: str = "hello", extra: str = "") -> bytes:
    return (
        f"From: {sender}\r\nTo: {USER}\r\nSubject: {subject}\r\n"
        f"Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n{extra}\r\n{body}\r\n"
    ).encode()


async def deliver(
    m: Mail,
    data: bytes,
    folder: str = "INBOX",
    *,
    flags: Flag | None = None,
    at: datetime | None = None,
) -> int:
    account = await m.store.read(m.store.directory.account, USER)
    box = await m.store.read(m.store.mail.mailbox, account.id, folder)
    blob = await m.store.blobs.stage(data)
    item = NewMessage(blob, flags=flags or Flag(0), internal_date=at)
    (done,) = await m.store.write(m.store.mail.append, box.id, [item])
    return done.uid


async def flags_of(m: Mail, folder: str) -> dict[int, Flag]:
    account = await m.store.read(m.store.directory.account, USER)
    box = await m.store.read(m.store.mail.mailbox, account.id, folder)
    return {f.uid: f.flags for f in await m.store.read(m.store.mail.flags, box.id)}


async def test_a_row_shows_decoded_sender_subject_marks_and_local_time(
    tmp_path: Path, backend: str
) -> None:
    async with webmail(tmp_path, backend=backend) as m:
        attached = 'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n'
        body = (
            "--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
            "--b\r\nContent-Type: application/pdf\r\n"
            'Content-Disposition: attachment; filename="a.pdf"\r\n'
            "\r\nJVBERi0=\r\n--b--"
        )
        at = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)
        await deliver(
            m,
            message(
                "=?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <jm@example.test>",
                "=?iso-8859-1?q?Gr=FC=DFe?= <script>x</script>",
                body,
                attached,
            ),
            flags=Flag.FLAGGED,
            at=at,
        )
        await sign_in(m.client)
        m.client.cookies.set("roost_tz", "Asia/Tokyo")
        page = (await m.client.get("/mail")).text
        assert "Jürgen Müller" in page
        assert "Grüße &lt;script&gt;x&lt;/script&gt;" in page and "<script>x" not in page
        assert 'title="Has attachments"' in page and 'title="Flagged"' in page
        assert 'title="Unread"' in page
        assert 'title="2026-11-21 08:30 JST"' in page and "Times in Asia/Tokyo" in page
        m.client.cookies.set("roost_tz", "../../etc/passwd")
        assert "Times in UTC" in (await m.client.get("/mail")).text


async def test_sorting_and_keyset_paging(tmp_path: Path, backend: str) -> None:
    async with webmail(tmp_path, backend=backend, webmail={"page_size": 10}) as m:
        start = datetime(2026, 1, 1, tzinfo=UTC)
        for n in range(25):
            await deliver(
                m,
                message(
                    f"s{(n * 7) % 25:02d}@example.test", f"Re: topic {(n * 11) % 25:02d}", "x" * n
                ),
                at=start + timedelta(hours=n),
            )
        await sign_in(m.client)
        seen: list[int] = []
        url = "/mail"
        while url:
            page = (await m.client.get(url)).text
            seen += [int(u) for u in _UIDS.findall(page)]
            found = re.search(r'<a href="([^"]*)" rel="next">', page)
            url = found[1].replace("&amp;", "&") if found else ""
        assert seen == list(range(25, 0, -1))  # newest first, every message once
        by_subject = (await m.client.get("/mail?sort=subject&order=asc")).text
        assert _SUBJECTS.findall(by_subject) == [f"Re: topic {n:02d}" for n in range(10)]
        by_size = (await m.client.get("/mail?sort=size&order=asc")).text
        assert [int(u) for u in _UIDS.findall(by_size)] == list(range(1, 11))
        by_sender = (await m.client.get("/mail?sort=sender&order=desc")).text
        assert "s24@example.test" in by_sender.split("<tr data-uid=")[1]
        bad = await m.client.get("/mail?after=not-a-cursor")
        assert bad.status_code == 400 and "page link is not valid" in bad.text
        assert (await m.client.get("/mail?sort=colour")).status_code == 400


async def test_flags_set_here_are_what_imap_reads(tmp_path: Path, backend: str) -> None:
    async with webmail(tmp_path, backend=backend) as m:
        one = await deliver(m, message("a@example.test", "one"))
        two = await deliver(m, message("b@example.test", "two"))
        await sign_in(m.client)
        token = await page_csrf(m.client)
        done = await m.client.post(
            "/mail/messages/action",
            data={"csrf": token, "folder": "INBOX", "action": "read", "uid": [str(one)]},
        )
        assert done.status_code == 303
        flags = await flags_of(m, "INBOX")
        assert Flag.SEEN in flags[one] and Flag.SEEN not in flags[two]
        await m.client.post(
            "/mail/messages/action",
            data={"csrf": token, "folder": "INBOX", "action": "flag", "all": "yes"},
        )
        flags = await flags_of(m, "INBOX")
        assert all(Flag.FLAGGED in f for f in flags.values())
        page = await m.client.get(done.headers["location"])
        assert "marked as read" in page.text
        nothing = await m.client.post(
            "/mail/messages/action", data={"csrf": token, "folder": "INBOX", "action": "read"}
        )
        assert nothing.status_code == 400 and "Tick the messages" in nothing.text
        bad = await m.client.post(
            "/mail/messages/action",
            data={"csrf": token, "folder": "INBOX", "action": "read", "uid": "1 OR 1=1"},
        )
        assert bad.status_code == 400


async def test_delete_moves_to_trash_then_empty_trash_and_junk(
    tmp_path: Path, backend: str
) -> None:
    async with webmail(tmp_path, backend=backend) as m:
        uids = [await deliver(m, message("a@example.test", f"m{n}")) for n in range(4)]
        await sign_in(m.client)
        token = await page_csrf(m.client)

        async def act(action: str, folder: str = "INBOX", **extra: object) -> str:
            done = await m.client.post(
                "/mail/messages/action",
                data={"csrf": token, "folder": folder, "action": action, **extra},
            )
            assert done.status_code == 303, done.text
            return (await m.client.get(done.headers["location"])).text

        assert "1 moved to Trash" in await act("delete", uid=[str(uids[0])])
        assert "1 moved to Junk" in await act("junk", uid=[str(uids[1])])
        assert "1 moved to Archive" in await act("move", uid=[str(uids[2])], target="Archive")
        assert list(await flags_of(m, "INBOX")) == [uids[3]]
        assert len(await flags_of(m, "Trash")) == 1 and len(await flags_of(m, "Archive")) == 1
        account = await m.store.read(m.store.directory.account, USER)
        junk = await m.store.read(m.store.mail.mailbox, account.id, "Junk")
        (info,) = await m.store.read(m.store.mail.messages, junk.id)
        assert "$Junk" in info.keywords
        # In Trash, delete is for good; Trash can be emptied, INBOX cannot.
        trash_page = (await m.client.get("/mail?folder=Trash")).text
        assert "Empty Trash" in trash_page
        refused = await m.client.post(
            "/mail/messages/empty", data={"csrf": token, "folder": "INBOX"}
        )
        assert refused.status_code == 400 and "Only Trash and Junk" in refused.text
        emptied = await m.client.post(
            "/mail/messages/empty", data={"csrf": token, "folder": "Trash"}
        )
        assert emptied.status_code == 303 and await flags_of(m, "Trash") == {}
        assert "1 moved to Trash" in await act("delete", "Junk", all="yes")
        assert await flags_of(m, "Junk") == {}
        assert "1 deleted for good" in await act("delete", "Trash", all="yes")
        assert await flags_of(m, "Trash") == {}
        # Moving everything of a folder at once.
        await deliver(m, message("a@example.test", "m5"))
        assert "2 moved to Archive" in await act("move", all="yes", target="Archive")
        assert await flags_of(m, "INBOX") == {}
        same = await m.client.post(
            "/mail/messages/action",
            data={
                "csrf": token,
                "folder": "Archive",
                "action": "move",
                "all": "yes",
                "target": "Archive",
            },
        )
        assert same.status_code == 400
