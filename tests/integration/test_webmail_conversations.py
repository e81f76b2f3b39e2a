"""The message list by conversation over HTTP: the per-user choice, one row per
conversation of the folder (joined by Message-ID and References, never by subject
alone), its keyset pages, the actions on every message of a ticked conversation,
the read pane's thread, and a large folder threaded in the background."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from roost.store.types import Flag
from tests.integration.test_webmail_messages import deliver, flags_of
from tests.webmail_support import USER, Mail, page_csrf, sign_in, webmail

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
_ROWS = re.compile(
    r'<tr data-uid="(\d+)"(?: data-conversation="(\d+)")? class="(read|unread)[^"]*">(.*?)</tr>',
    re.S,
)


def mail(
    subject: str, message_id: str, *, refs: str = "", sender: str = "Bob <bob@example.test>"
) -> bytes:
    head = f"From: {sender}\r\nTo: {USER}\r\nSubject: {subject}\r\nMessage-ID: <{message_id}>\r\n"
    if refs:
        head += f"References: {refs}\r\nIn-Reply-To: {refs.split()[-1]}\r\n"
    return (head + "\r\nhello\r\n").encode()


def rows(html: str) -> list[dict[str, str]]:
    """Each conversation row: its head's UID, key, read state, people, count, subject."""
    found = []
    for uid, key, state, inner in _ROWS.findall(html):
        people = re.search(r'<td class="from"[^>]*>([^<]*)', inner)
        count = re.search(r'class="thread-count muted"[^>]*>\((\d+)\)', inner)
        subject = re.search(r'<td class="subject"><a [^>]*>([^<]*)</a>', inner)
        found.append(
            {
                "uid": uid,
                "key": key,
                "state": state,
                "people": people[1].strip() if people else "",
                "count": count[1] if count else "1",
                "subject": subject[1] if subject else "",
            }
        )
    return found


async def choose(m: Mail, view: str, folder: str = "INBOX") -> int:
    csrf = await page_csrf(m.client)
    done = await m.client.post("/mail/view", data={"csrf": csrf, "folder": folder, "view": view})
    return done.status_code


async def act(m: Mail, fields: dict[str, str | list[str]]) -> int:
    csrf = await page_csrf(m.client)
    done = await m.client.post("/mail/messages/action", data={"csrf": csrf, **fields})
    return done.status_code


async def lunch(m: Mail) -> list[int]:
    """A conversation of three (the last reply delivered before its parent, one
    unread), two unrelated mails called "Hello", and one other message."""
    root = await deliver(m, mail("Lunch", "a@x"), flags=Flag.SEEN, at=T0)
    await deliver(m, mail("Hello", "h1@x", sender="Carol <c@example.test>"), at=T0 + timedelta(1))
    last = await deliver(
        m,
        mail("Re: Lunch", "c@x", refs="<a@x> <b@x>", sender="Dan <d@example.test>"),
        at=T0 + timedelta(hours=3),
    )
    reply = await deliver(
        m, mail("RE: Lunch", "b@x", refs="<a@x>"), flags=Flag.SEEN, at=T0 + timedelta(hours=2)
    )
    await deliver(m, mail("Hello", "h2@x", sender="Erin <e@example.test>"), at=T0 + timedelta(2))
    await deliver(m, mail("Budget", "z@x"), flags=Flag.SEEN, at=T0 + timedelta(hours=1))
    return [root, reply, last]


async def test_the_choice_is_the_users_and_a_conversation_is_one_row(
    tmp_path: Path, backend: str
) -> None:
    async with webmail(tmp_path, backend=backend) as m:
        root, reply, last = await lunch(m)
        await sign_in(m.client)
        listed = await m.client.get("/mail")
        assert 'id="view-list" aria-pressed="true"' in listed.text and len(rows(listed.text)) == 6
        assert await choose(m, "conversations") == 303
        page = (await m.client.get("/mail")).text
        assert 'id="view-conversations" aria-pressed="true"' in page
        shown = rows(page)
        # Newest conversation first; the two "Hello" mails stay apart.
        assert [(r["subject"], r["count"]) for r in shown] == [
            ("Hello", "1"),
            ("Hello", "1"),
            ("Lunch", "3"),
            ("Budget", "1"),
        ]
        lunch_row = shown[2]
        assert lunch_row["uid"] == str(last) and lunch_row["state"] == "unread"
        assert lunch_row["people"] == "Bob, Dan"
        assert shown[3]["state"] == "read"
        # Another session of the same user sees the same choice; the choice survives
        # a save of the profile.
        other = m.browser()
        async with other:
            await sign_in(other)
            assert len(rows((await other.get("/mail")).text)) == 4
        # The row opens the newest message with the conversation under it.
        opened = await m.client.get(f"/mail/message?folder=INBOX&uid={lunch_row['uid']}")
        assert "Conversation (3 messages in INBOX)" in opened.text
        for uid in (root, reply):
            assert f"uid={uid}" in opened.text
        assert await choose(m, "list") == 303
        assert len(rows((await m.client.get("/mail")).text)) == 6


async def test_actions_apply_to_every_message_of_a_ticked_conversation(
    tmp_path: Path, backend: str
) -> None:
    async with webmail(tmp_path, backend=backend) as m:
        uids = await lunch(m)
        await sign_in(m.client)
        await choose(m, "conversations")
        shown = rows((await m.client.get("/mail")).text)
        key = next(r["key"] for r in shown if r["subject"] == "Lunch")
        assert await act(m, {"folder": "INBOX", "action": "read", "conversation": key}) == 303
        flags = await flags_of(m, "INBOX")
        assert all(Flag.SEEN in flags[uid] for uid in uids)
        assert Flag.SEEN not in flags[uids[-1] + 2]  # the second "Hello" is untouched
        done = await act(
            m, {"folder": "INBOX", "action": "move", "target": "Archive", "conversation": key}
        )
        assert done == 303
        assert not set(uids) & set(await flags_of(m, "INBOX"))
        assert len(await flags_of(m, "Archive")) == 3
        # In the other folder the three are still one conversation (the key moved along).
        archive = rows((await m.client.get("/mail?folder=Archive")).text)
        assert [(r["subject"], r["count"], r["key"]) for r in archive] == [("Lunch", "3", key)]
        # Bad input is refused with a reason.
        bad = await act(m, {"folder": "INBOX", "action": "read", "conversation": "x1"})
        assert bad == 400
        gone = await act(m, {"folder": "INBOX", "action": "read", "conversation": key})
        assert gone == 404
        assert await choose(m, "cards") == 400


async def test_keyset_pages_of_conversations_and_a_folder_threaded_in_the_background(
    tmp_path: Path,
) -> None:
    async with webmail(tmp_path, webmail={"summary_batch": 10, "page_size": 10}) as m:
        # 15 conversations of two messages each, interleaved in time.
        for n in range(15):
            at = T0 + timedelta(minutes=n)
            await deliver(m, mail(f"topic {n}", f"t{n}@x"), flags=Flag.SEEN, at=at)
        for n in range(15):
            at = T0 + timedelta(hours=1, minutes=n)
            await deliver(m, mail(f"Re: topic {n}", f"r{n}@x", refs=f"<t{n}@x>"), at=at)
        await sign_in(m.client)
        await choose(m, "conversations")
        first = await m.client.get("/mail")
        assert "still grouping this folder" in first.text and "-sorting" in first.text
        for _ in range(200):
            state = await m.client.get("/mail/state", headers={"accept": "application/json"})
            if not state.json()["state"].endswith("-sorting"):
                break
            await asyncio.sleep(0.05)
        page = (await m.client.get("/mail")).text
        assert "still grouping" not in page
        shown = rows(page)
        assert [r["subject"] for r in shown] == [f"topic {n}" for n in range(14, 4, -1)]
        assert all(r["count"] == "2" and r["state"] == "unread" for r in shown)
        after = re.search(r'href="(/mail\?[^"]*after=[^"]*)" rel="next"', page)
        assert after
        rest = rows((await m.client.get(after[1].replace("&amp;", "&"))).text)
        assert [r["subject"] for r in rest] == [f"topic {n}" for n in range(4, -1, -1)]
        bad = await m.client.get("/mail?after=bm90LWEtY3Vyc29y")
        assert bad.status_code == 400
