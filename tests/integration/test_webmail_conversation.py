"""The read pane's conversation view (RFC 5256 REFERENCES over the folder's messages
of one base subject), the per-sender "always show images" setting, and the list's
state token that its script polls."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
import pytest

from tests.integration.test_webmail_messages import deliver
from tests.webmail_support import USER, page_csrf, sign_in, webmail

TRACKER = "http://127.0.0.1:9"


def mail(
    subject: str, message_id: str, *, refs: str = "", sender: str = "bob@example.test"
) -> bytes:
    head = f"From: {sender}\r\nTo: {USER}\r\nSubject: {subject}\r\nMessage-ID: <{message_id}>\r\n"
    if refs:
        head += f"References: {refs}\r\nIn-Reply-To: {refs.split()[-1]}\r\n"
    return (head + "\r\nhello\r\n").encode()


def conversation_uids(html: str) -> list[tuple[int, str]]:
    """(uid, depth class) of each conversation row, the current one as uid 0."""
    section = html.split('<section class="conversation"', 1)
    if len(section) < 2:
        return []
    body = section[1].split("</section>", 1)[0]
    rows = re.findall(
        r'<li class="(depth-\d+)[^"]*"( aria-current="true")?>\s*(.*?)</li>', body, re.S
    )
    found = []
    for depth, current, inner in rows:
        uid = re.search(r"uid=(\d+)", inner)
        found.append((0 if current else int(uid[1]) if uid else -1, depth))
    return found


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_a_message_shows_its_thread_in_order_with_replies_indented(
    tmp_path: Path, backend: str
) -> None:
    async with webmail(tmp_path, backend=backend) as m:
        root = await deliver(m, mail("Lunch on Friday", "a@x"))
        other = await deliver(m, mail("Budget", "b@x"))
        reply = await deliver(m, mail("Re: Lunch on Friday", "c@x", refs="<a@x>"))
        deeper = await deliver(m, mail("RE: Lunch on Friday", "d@x", refs="<a@x> <c@x>"))
        await sign_in(m.client)
        page = await m.client.get(f"/mail/message?folder=INBOX&uid={reply}")
        assert page.status_code == 200
        assert "Conversation (3 messages in INBOX)" in page.text
        assert conversation_uids(page.text) == [
            (root, "depth-0"),
            (0, "depth-1"),
            (deeper, "depth-2"),
        ]
        # A message alone has no conversation section.
        alone = await m.client.get(f"/mail/message?folder=INBOX&uid={other}")
        assert alone.status_code == 200 and 'class="conversation"' not in alone.text


async def test_the_conversation_says_when_it_is_capped(tmp_path: Path) -> None:
    async with webmail(tmp_path, webmail={"max_conversation": 2}) as m:
        first = await deliver(m, mail("Plans", "p1@x"))
        await deliver(m, mail("Re: Plans", "p2@x", refs="<p1@x>"))
        await deliver(m, mail("Re: Plans", "p3@x", refs="<p1@x> <p2@x>"))
        await sign_in(m.client)
        page = await m.client.get(f"/mail/message?folder=INBOX&uid={first}")
        assert "Conversation (2 messages in INBOX)" in page.text
        assert "the oldest are shown" in page.text


def remote(sender: str) -> bytes:
    return (
        f"From: {sender}\r\nTo: {USER}\r\nSubject: news\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/html; charset=utf-8\r\n\r\n"
        f'<p>News</p><img src="{TRACKER}/pixel.png" alt="pixel">\r\n'
    ).encode()


async def image_sender(
    client: httpx.AsyncClient, csrf: str, uid: int, sender: str, allow: bool
) -> httpx.Response:
    """The form of "Always show images from this sender" (or of its undoing)."""
    fields = {"csrf": csrf, "folder": "INBOX", "uid": str(uid), "sender": sender}
    return await client.post(
        "/mail/images/sender", data={**fields, "allow": "yes" if allow else "no"}
    )


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_always_show_images_from_a_sender_is_remembered_per_user(
    tmp_path: Path, backend: str
) -> None:
    async with webmail(tmp_path, backend=backend) as m:
        uid = await deliver(m, remote("News <News@Shop.example>"))
        other = await deliver(m, remote("spam@elsewhere.example"))
        await sign_in(m.client)
        page = await m.client.get(f"/mail/message?folder=INBOX&uid={uid}")
        assert 'id="always-images"' in page.text and "news@shop.example" in page.text
        frame = await m.client.get(f"/mail/message/body?folder=INBOX&uid={uid}")
        assert f"{TRACKER}/pixel.png" not in frame.text
        csrf = await page_csrf(m.client, f"/mail/message?folder=INBOX&uid={uid}")
        done = await image_sender(m.client, csrf, uid, "news@shop.example", True)
        assert done.status_code == 303
        # From now on this sender's images load without asking, in every session.
        browser = m.browser()
        async with browser:
            await sign_in(browser)
            page = await browser.get(f"/mail/message?folder=INBOX&uid={uid}")
            assert 'id="stop-images"' in page.text and 'id="show-images"' not in page.text
            frame = await browser.get(f"/mail/message/body?folder=INBOX&uid={uid}")
            assert f"{TRACKER}/pixel.png" in frame.text
            assert "img-src 'self' data: https: http:;" in frame.headers["content-security-policy"]
            # Another sender still asks.
            page = await browser.get(f"/mail/message?folder=INBOX&uid={other}")
            assert 'id="show-images"' in page.text
        # Undone: asking again.
        await image_sender(m.client, csrf, uid, "news@shop.example", False)
        frame = await m.client.get(f"/mail/message/body?folder=INBOX&uid={uid}")
        assert f"{TRACKER}/pixel.png" not in frame.text


async def test_image_senders_are_capped_and_checked(tmp_path: Path) -> None:
    async with webmail(tmp_path, webmail={"max_image_senders": 1}) as m:
        uid = await deliver(m, remote("a@shop.example"))
        await sign_in(m.client)
        csrf = await page_csrf(m.client, f"/mail/message?folder=INBOX&uid={uid}")

        async def allow(sender: str) -> int:
            return (await image_sender(m.client, csrf, uid, sender, True)).status_code

        assert await allow("a@shop.example") == 303
        assert await allow("a@shop.example") == 303  # again: nothing new
        refused = await image_sender(m.client, csrf, uid, "b@shop.example", True)
        assert refused.status_code == 400 and "max_image_senders" in refused.text
        assert await allow("not an address\x00") == 400


async def test_the_state_token_changes_with_the_folders_and_keeps_no_session_alive(
    tmp_path: Path,
) -> None:
    async with webmail(tmp_path) as m:
        await sign_in(m.client)
        first = (await m.client.get("/mail/state", headers={"accept": "application/json"})).json()
        again = (await m.client.get("/mail/state", headers={"accept": "application/json"})).json()
        assert first == again
        await deliver(m, mail("Hello", "h@x"))
        after = (await m.client.get("/mail/state", headers={"accept": "application/json"})).json()
        assert after["state"] != first["state"]
        page = await m.client.get("/mail")
        assert f'data-state="{after["state"]}"' in page.text
        # Polling alone does not keep the session alive past its idle time.
        idle = m.access.settings.session_idle_s
        for _ in range(3):
            m.clock.advance(idle / 2)
            polled = await m.client.get("/mail/state", headers={"accept": "application/json"})
        assert polled.status_code == 401


async def test_a_first_sort_by_sender_does_not_wait_for_the_whole_folder(tmp_path: Path) -> None:
    async with webmail(tmp_path, webmail={"summary_batch": 10, "page_size": 10}) as m:
        for n in range(35):
            await deliver(m, mail(f"note {n}", f"n{n}@x", sender=f"s{n:02d}@example.test"))
        await sign_in(m.client)
        first = await m.client.get("/mail?folder=INBOX&sort=sender&order=asc")
        assert first.status_code == 200
        assert "Roost is still reading this folder to sort it by sender" in first.text
        assert "-sorting" in first.text  # the state token: its end refreshes the list
        # The background work ends within a bounded wait; then the order is whole.
        for _ in range(200):
            state = await m.client.get("/mail/state", headers={"accept": "application/json"})
            if not state.json()["state"].endswith("-sorting"):
                break
            await asyncio.sleep(0.05)
        done = await m.client.get("/mail?folder=INBOX&sort=sender&order=asc")
        assert "still reading" not in done.text
        senders = re.findall(r'<td class="from" title="(s\d\d@example.test)">', done.text)
        assert senders == [f"s{n:02d}@example.test" for n in range(10)]
