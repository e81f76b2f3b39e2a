"""The compose page over HTTP: a send goes through the submission policy into the queue
(no Bcc field there, the Sent copy keeps it), drafts are replaced, replies thread and
flag, forwards carry the original, and each bad input is refused with its reason."""

from __future__ import annotations

import dataclasses
import re
from email import message_from_bytes, policy
from html import unescape
from pathlib import Path

import httpx

from roost.control.directory import Actor
from roost.control.groupware import parse_vcard
from roost.control.user_settings import UserSettings
from roost.core.config import VacationSettings
from roost.proto.mime import PartKind
from roost.proto.mime.parser import parse_bytes
from roost.store.types import Flag, QueueEntry
from tests.integration.test_webmail_messages import deliver, flags_of
from tests.webmail_support import USER, Mail, sign_in, webmail

BOB = "bob@example.test"


def field(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, f"the compose form has {name}"
    return unescape(found[1])


async def open_compose(client: httpx.AsyncClient, query: str = "") -> dict[str, str]:
    page = await client.get("/mail/compose" + query)
    assert page.status_code == 200, page.text
    names = ("csrf", "area", "draft_uid", "message_id", "in_reply_to", "references", "origin")
    form = {name: field(page.text, name) for name in names}
    to = re.search(r'id="to" name="to" value="([^"]*)"', page.text)
    subject = re.search(r'id="subject" name="subject" value="([^"]*)"', page.text)
    text = re.search(r'<textarea id="text" name="text"[^>]*>(.*?)</textarea>', page.text, re.S)
    assert to and subject and text
    form |= {
        "from": USER,
        "to": unescape(to[1]),
        "subject": unescape(subject[1]),
        "text": unescape(text[1]),
        "format": "plain",
    }
    return form


async def queued(m: Mail) -> list[QueueEntry]:
    return await m.store.read(m.store.queue.entries)


async def folder_messages(m: Mail, folder: str) -> list[tuple[int, Flag, bytes]]:
    account = await m.store.read(m.store.directory.account, USER)
    box = await m.store.read(m.store.mail.mailbox, account.id, folder)
    infos = await m.store.read(m.store.mail.messages, box.id)
    return [(i.uid, i.flags, await m.store.blobs.read(i.blob_hash)) for i in infos]


async def upload(
    client: httpx.AsyncClient, form: dict[str, str], name: str, data: bytes
) -> httpx.Response:
    return await client.post(
        "/mail/compose/upload",
        params={"area": form["area"], "name": name},
        content=data,
        headers={"X-Roost-Csrf": form["csrf"], "Content-Type": "application/pdf"},
    )


async def test_send_queues_for_every_recipient_without_bcc_and_files_a_sent_copy(
    tmp_path: Path, backend: str
) -> None:
    async with webmail(tmp_path, backend=backend) as m:
        await m.directory.add_user(Actor("test"), BOB, "bob-password-1")
        await sign_in(m.client)
        form = await open_compose(m.client)
        payload = bytes(range(256)) * 40
        answer = await upload(m.client, form, "Bericht März.pdf", payload)
        assert answer.status_code == 200, answer.text
        assert answer.json()["filename"] == "Bericht März.pdf"
        form |= {
            "to": f"Bob <{BOB}>",
            "cc": "carol@example.net",
            "bcc": "secret@example.net",
            "subject": "Quarterly report",
            "text": "Here it is.",
        }
        sent = await m.client.post("/mail/compose/send", data=form)
        assert sent.status_code == 303, sent.text
        assert "sent+to+3+recipients" in sent.headers["location"]
        (entry,) = await queued(m)
        assert entry.source == "submission"
        assert entry.sender == USER
        assert sorted(r.address for r in entry.recipients) == sorted(
            [BOB, "carol@example.net", "secret@example.net"]
        )
        data = await m.store.blobs.read(entry.blob_hash)
        assert b"secret@example.net" not in data
        msg = message_from_bytes(data, policy=policy.default)
        assert msg["Bcc"] is None
        assert msg["Message-ID"] == form["message_id"]
        (attached,) = list(msg.iter_attachments())
        assert attached.get_filename() == "Bericht März.pdf"
        assert attached.get_content() == payload
        ((_, flags, copy),) = await folder_messages(m, "Sent")
        assert Flag.SEEN in flags
        assert message_from_bytes(copy, policy=policy.default)["Bcc"] == "secret@example.net"
        # The compose area is gone with the send.
        assert not list((tmp_path / "data" / "webmail" / "compose").glob("*/*"))


async def test_a_from_that_is_not_the_users_is_refused_and_nothing_is_queued(
    tmp_path: Path,
) -> None:
    async with webmail(tmp_path) as m:
        await sign_in(m.client)
        form = await open_compose(m.client)
        form |= {"from": "ceo@example.test", "to": BOB, "subject": "Wire money"}
        answer = await m.client.post("/mail/compose/send", data=form)
        assert answer.status_code == 403
        assert "You may not send as ceo@example.test" in unescape(answer.text)
        assert 'value="Wire money"' in answer.text, "what was written is kept"
        assert await queued(m) == []
        assert await folder_messages(m, "Sent") == []


async def test_ten_thousand_recipients_are_refused_by_the_recipient_limit(
    tmp_path: Path,
) -> None:
    async with webmail(tmp_path) as m:
        await sign_in(m.client)
        form = await open_compose(m.client)
        form |= {"to": ", ".join(f"r{n}@example.net" for n in range(10_000)), "subject": "All"}
        answer = await m.client.post("/mail/compose/send", data=form)
        assert answer.status_code == 400
        text = unescape(answer.text)
        assert "This message has 10000 recipients" in text
        assert "at most 100" in text
        assert await queued(m) == []


async def test_an_attachment_over_the_limit_is_refused(tmp_path: Path) -> None:
    async with webmail(tmp_path, webmail={"compose_max_message_bytes": 65_536}) as m:
        await sign_in(m.client)
        form = await open_compose(m.client)
        small = await upload(m.client, form, "small.pdf", b"x" * 10_000)
        assert small.status_code == 200
        big = await upload(m.client, form, "big.pdf", b"y" * 60_000)
        assert big.status_code == 413
        assert "does not fit" in big.json()["error"]
        area = tmp_path / "data" / "webmail" / "compose"
        assert sorted(p.name for p in area.glob("*/*/*")) == ["1.data", "1.json"]
        # Without a CSRF token nothing is taken.
        forged = await m.client.post(
            "/mail/compose/upload",
            params={"area": form["area"], "name": "x"},
            content=b"z",
            headers={"X-Roost-Csrf": "wrong"},
        )
        assert forged.status_code == 403


async def test_reply_to_a_malformed_references_sends_with_clean_threading_and_answers(
    tmp_path: Path, backend: str
) -> None:
    async with webmail(tmp_path, backend=backend) as m:
        original = (
            "From: Zoe <zoe@example.net>\r\nTo: ann@example.test, dan@example.net\r\n"
            "Cc: Ann Again <ANN@example.test>\r\nSubject: plans\r\n"
            "Message-ID: <orig-1@example.net>\r\n"
            "References: <root@example.net> <<broken <no-at> garbage\x7f <mid@example.net> "
            + "<"
            + "x" * 400
            + "@example.net>\r\n\r\nShall we meet?\r\n"
        ).encode()
        uid = await deliver(m, original)
        await sign_in(m.client)
        page = await m.client.get("/mail/message", params={"folder": "INBOX", "uid": uid})
        assert f"/mail/compose?reply_all=INBOX/{uid}" in page.text
        form = await open_compose(m.client, f"?reply_all=INBOX/{uid}")
        assert form["subject"] == "Re: plans"
        assert form["in_reply_to"] == "<orig-1@example.net>"
        assert form["references"] == ("<root@example.net> <mid@example.net> <orig-1@example.net>")
        assert "> Shall we meet?" in form["text"]
        assert form["to"] == "Zoe <zoe@example.net>"
        page = await m.client.get(f"/mail/compose?reply_all=INBOX/{uid}")
        cc = re.search(r'id="cc" name="cc" value="([^"]*)"', page.text)
        assert cc and unescape(cc[1]) == "dan@example.net", "the user's own address is left out"
        form["cc"] = unescape(cc[1])
        # Even a tampered form sends only clean msg-ids.
        form["references"] += " <bad id> <<x@y>"
        sent = await m.client.post("/mail/compose/send", data=form)
        assert sent.status_code == 303, sent.text
        (entry,) = await queued(m)
        msg = message_from_bytes(await m.store.blobs.read(entry.blob_hash), policy=policy.default)
        assert msg["In-Reply-To"] == "<orig-1@example.net>"
        assert msg["References"] == (
            "<root@example.net> <mid@example.net> <orig-1@example.net> <x@y>"
        )
        assert Flag.ANSWERED in (await flags_of(m, "INBOX"))[uid]


async def test_forward_as_attachment_carries_the_original_bytes(
    tmp_path: Path, backend: str
) -> None:
    async with webmail(tmp_path, backend=backend) as m:
        original = (
            "From: zoe@example.net\r\nTo: ann@example.test\r\nSubject: contract\r\n"
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
            "\r\nThe price is 100 €.\r\n-- \r\nZoë\r\n"
        ).encode()
        uid = await deliver(m, original)
        await sign_in(m.client)
        form = await open_compose(m.client, f"?forward_attached=INBOX/{uid}")
        assert form["subject"] == "Fwd: contract"
        form["to"] = "lawyer@example.net"
        sent = await m.client.post("/mail/compose/send", data=form)
        assert sent.status_code == 303, sent.text
        (entry,) = await queued(m)
        data = await m.store.blobs.read(entry.blob_hash)
        structure = parse_bytes(data)
        (part,) = [p for p in structure.parts if p.kind is PartKind.MESSAGE]
        assert part.content_type.mime_type == "message/rfc822"
        assert data[part.body_start : part.body_end].rstrip(b"\r\n") == original.rstrip(b"\r\n")
        assert original in data
        account = await m.store.read(m.store.directory.account, USER)
        box = await m.store.read(m.store.mail.mailbox, account.id, "INBOX")
        (flags,) = await m.store.read(m.store.mail.flags, box.id, [(uid, uid)])
        assert "$Forwarded" in flags.keywords


async def test_autosave_keeps_one_draft_and_the_send_removes_it(tmp_path: Path) -> None:
    async with webmail(tmp_path) as m:
        await sign_in(m.client)
        form = await open_compose(m.client)
        form |= {"to": BOB, "subject": "Draft"}
        uid = ""
        for n in range(3):
            form |= {"text": f"version {n}", "draft_uid": uid}
            saved = await m.client.post("/mail/compose/save?json=1", data=form)
            assert saved.status_code == 200, saved.text
            uid = str(saved.json()["draft_uid"])
        drafts = await folder_messages(m, "Drafts")
        assert len(drafts) == 1
        ((draft_uid, flags, data),) = drafts
        assert str(draft_uid) == uid and Flag.DRAFT in flags
        assert b"version 2" in data
        reopened = await open_compose(m.client, f"?draft={uid}")
        assert reopened["text"].strip() == "version 2"
        assert reopened["message_id"] == form["message_id"]
        reopened |= {"to": BOB}
        sent = await m.client.post("/mail/compose/send", data=reopened)
        assert sent.status_code == 303, sent.text
        assert await folder_messages(m, "Drafts") == []
        assert len(await folder_messages(m, "Sent")) == 1


async def test_completion_offers_recent_recipients_the_directory_and_contacts(
    tmp_path: Path,
) -> None:
    async with webmail(tmp_path) as m:
        await m.directory.add_user(Actor("test"), BOB, "bob-password-1")
        sent = "From: ann@example.test\r\nTo: Robert Roe <robert@example.net>\r\n\r\nhi\r\n"
        await deliver(m, sent.encode(), "Sent")
        account = await m.store.read(m.store.directory.account, USER)
        groupware = m.store.groupware
        (book,) = [
            c
            for c in await m.store.write(groupware.ensure_defaults, account.id)
            if c.kind == "addressbook"
        ]
        card = (
            "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:c1\r\nFN:Bobby Tables\r\n"
            "EMAIL:bobby@school.example\r\nEND:VCARD\r\n"
        )
        item = dataclasses.replace(parse_vcard(card), name="c1.vcf")
        await m.store.write(groupware.put_item, book.id, item)
        await sign_in(m.client)
        found = await m.client.get(
            "/mail/compose/complete", params={"q": "rob"}, headers={"Accept": "application/json"}
        )
        assert found.status_code == 200
        assert [r["address"] for r in found.json()["results"]] == ["robert@example.net"]
        found = await m.client.get("/mail/compose/complete", params={"q": "bob"})
        assert [r["address"] for r in found.json()["results"]] == [BOB, "bobby@school.example"]


async def test_the_users_settings_give_from_name_signature_and_reply_to(tmp_path: Path) -> None:
    async with webmail(tmp_path) as m:
        profiles = UserSettings(m.store, VacationSettings())
        await profiles.update_profile(
            USER,
            display_name="Ann Example",
            signature="Ann\nExample Ltd",
            reply_to="team@example.test",
            time_zone="UTC",
        )
        await sign_in(m.client)
        form = await open_compose(m.client)
        assert form["text"] == "\n\n-- \nAnn\nExample Ltd\n"
        form |= {"to": BOB, "subject": "Signed", "text": "Hello.\n" + form["text"]}
        sent = await m.client.post("/mail/compose/send", data=form)
        assert sent.status_code == 303, sent.text
        (entry,) = await queued(m)
        msg = message_from_bytes(await m.store.blobs.read(entry.blob_hash), policy=policy.default)
        assert msg["From"] == f"Ann Example <{USER}>"
        assert msg["Reply-To"] == "team@example.test"
        assert msg.get_content().replace("\r\n", "\n").endswith("-- \nAnn\nExample Ltd\n")


async def test_the_hourly_rate_of_smtp_submission_applies(tmp_path: Path) -> None:
    async with webmail(tmp_path, smtp={"messages_per_hour": 1}) as m:
        await sign_in(m.client)
        for n, status in ((1, 303), (2, 429)):
            form = await open_compose(m.client)
            form |= {"to": BOB, "subject": f"note {n}", "text": "x"}
            answer = await m.client.post("/mail/compose/send", data=form)
            assert answer.status_code == status, answer.text
        assert "sent 1 messages this hour" in unescape(answer.text)
        assert 'value="note 2"' in answer.text
        assert len(await queued(m)) == 1


async def test_forward_inline_quotes_the_text_and_keeps_the_files(tmp_path: Path) -> None:
    async with webmail(tmp_path) as m:
        original = (
            b"From: zoe@example.net\r\nTo: ann@example.test\r\nSubject: photos\r\n"
            b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
            b"--b\r\nContent-Type: text/plain\r\n\r\nSee the photo.\r\n"
            b"--b\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n"
            b'Content-Disposition: attachment; filename="beach.png"\r\n\r\n'
            b"iVBORw0KGgo=\r\n--b--\r\n"
        )
        uid = await deliver(m, original)
        await sign_in(m.client)
        page = await m.client.get(f"/mail/compose?forward=INBOX/{uid}")
        assert '<span class="name">beach.png</span>' in page.text
        form = await open_compose(m.client, f"?forward=INBOX/{uid}")
        assert form["subject"] == "Fwd: photos"
        assert "---------- Forwarded message ----------" in form["text"]
        assert "See the photo." in form["text"]
        form["to"] = BOB
        sent = await m.client.post("/mail/compose/send", data=form)
        assert sent.status_code == 303, sent.text
        (entry,) = await queued(m)
        msg = message_from_bytes(await m.store.blobs.read(entry.blob_hash), policy=policy.default)
        (attached,) = list(msg.iter_attachments())
        assert attached.get_filename() == "beach.png"
        assert attached.get_content() == b"\x89PNG\r\n\x1a\n"
        account = await m.store.read(m.store.directory.account, USER)
        box = await m.store.read(m.store.mail.mailbox, account.id, "INBOX")
        (flags,) = await m.store.read(m.store.mail.flags, box.id, [(uid, uid)])
        assert "$Forwarded" in flags.keywords
