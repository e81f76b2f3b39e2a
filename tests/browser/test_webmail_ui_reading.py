"""The webmail's read pane and list in chromium: a hostile message runs nothing and
reaches no tracker until "Show images"; a cid: image shows; an SVG attachment runs
nothing when opened; a flag set here is what IMAP reads; a forged form is refused."""

from __future__ import annotations

import asyncio
import base64
import imaplib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from roost.control.directory import Actor
from roost.services.imap.service import ImapService
from roost.store.types import NewMessage
from tests.browser_support import Harness, expect

USER = "ann@example.test"
PASSWORD = "ann-password-1"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
WAIT_S = 2.0
"""How long the page gets to make a request it must not make (a bounded wait)."""


@dataclass
class Tracker:
    """An HTTP server on 127.0.0.1 that counts every request, by path."""

    port: int = 0
    hits: list[str] = field(default_factory=list)


@asynccontextmanager
async def tracker() -> AsyncIterator[Tracker]:
    found = Tracker()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 5)
            parts = line.split()
            found.hits.append(parts[1].decode() if len(parts) > 1 else "?")
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b""):
                pass
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nConnection: close\r\n"
                + f"Content-Length: {len(PNG)}\r\n\r\n".encode()
                + PNG
            )
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    found.port = server.sockets[0].getsockname()[1]
    try:
        yield found
    finally:
        server.close()
        await server.wait_closed()


def hostile(tracker_url: str) -> bytes:
    t = tracker_url
    html = f"""<html><head>
<meta http-equiv="refresh" content="0;url={t}/meta">
<link rel="stylesheet" href="{t}/link">
<style>@import url({t}/import); body {{ background: url({t}/bg) }}</style>
</head><body onload="fetch('{t}/onload')">
<script>new Image().src = '{t}/script'</script>
<a id="js" href="javascript:fetch('{t}/js')">click me</a>
<form action="{t}/form"><input name="q"><button>Go</button></form>
<div style="background:url({t}/style)">styled</div>
<img srcset="{t}/srcset 1x" src="{t}/img" onerror="fetch('{t}/onerror')">
<img id="logo" src="cid:logo@example.test" alt="logo">
<p id="hello">Hello <b>there</b></p>
</body></html>"""
    svg = f'<svg xmlns="http://www.w3.org/2000/svg"><script>fetch("{t}/svg")</script></svg>'
    return (
        f"From: Mallory <m@evil.test>\r\nTo: {USER}\r\nSubject: Your invoice\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="mix"\r\n\r\n'
        '--mix\r\nContent-Type: multipart/related; boundary="rel"\r\n\r\n'
        f"--rel\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n"
        "--rel\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n"
        f"Content-ID: <logo@example.test>\r\n\r\n{base64.b64encode(PNG).decode()}\r\n"
        "--rel--\r\n"
        '--mix\r\nContent-Type: image/svg+xml\r\nContent-Disposition: inline; filename="pic.svg"'
        f"\r\n\r\n{svg}\r\n--mix--\r\n"
    ).encode()


async def _setup(roost: Harness, data: bytes) -> int:
    directory = roost.roost.directory
    await directory.add_domain(Actor("test"), "example.test")
    await directory.add_user(Actor("test"), USER, PASSWORD)
    store = roost.roost.store
    account = await store.read(store.directory.account, USER)
    box = await store.read(store.mail.mailbox, account.id, "INBOX")
    blob = await store.blobs.stage(data)
    (done,) = await store.write(store.mail.append, box.id, [NewMessage(blob)])
    return done.uid


async def _sign_in(page: Any, roost: Harness) -> None:
    await page.goto(roost.base + "/mail")
    await page.fill("#address", USER)
    await page.fill("#password", PASSWORD)
    await page.click("form button.primary")
    await expect(page).to_have_url(roost.base + "/mail")


async def test_hostile_html_runs_nothing_and_reaches_no_tracker_until_show_images(
    page: Any, roost: Harness
) -> None:
    async with tracker() as spy:
        await _setup(roost, hostile(f"http://127.0.0.1:{spy.port}"))
        dialogs: list[str] = []
        page.on("dialog", lambda d: dialogs.append(d.message))
        inline_images: list[int] = []

        def on_response(response: Any) -> None:
            if "/mail/inline?" in response.url:
                inline_images.append(response.status)

        page.on("response", on_response)
        await _sign_in(page, roost)
        await page.click("td.subject a")
        await expect(page.locator("h1#subject")).to_have_text("Your invoice")
        frame = page.frame_locator("iframe.body")
        await expect(frame.locator("p", has_text="Hello")).to_have_text("Hello there")
        # The cid: image loaded from our origin (a capability URL: the frame sends no cookie).
        for _ in range(50):
            if inline_images:
                break
            await asyncio.sleep(0.1)
        assert inline_images == [200]
        # Clicking the javascript: link does nothing (its href is gone, scripts cannot run).
        await frame.locator("a", has_text="click me").click()
        await asyncio.sleep(WAIT_S)
        assert spy.hits == [], spy.hits
        assert dialogs == []
        # The sandbox and policy are in place (read from the DOM, not inside the frame).
        sandbox = await page.locator("iframe.body").get_attribute("sandbox")
        assert sandbox is not None and "allow-scripts" not in sandbox
        # "Show images": now the remote image loads, and nothing else does.
        await page.click("#show-images")
        await expect(page.frame_locator("iframe.body").locator("p", has_text="Hello")).to_have_text(
            "Hello there"
        )
        for _ in range(50):
            if spy.hits:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)
        assert spy.hits == ["/img"], spy.hits


async def test_an_svg_attachment_runs_nothing_when_opened(page: Any, roost: Harness) -> None:
    async with tracker() as spy:
        uid = await _setup(roost, hostile(f"http://127.0.0.1:{spy.port}"))
        await _sign_in(page, roost)
        await page.goto(f"{roost.base}/mail/message?folder=INBOX&uid={uid}")
        link = page.locator(".attachments a", has_text="pic.svg")
        href = await link.get_attribute("href")
        assert href
        async with page.expect_download() as waiting:
            await page.evaluate("url => { window.location.href = url + '&inline=1' }", href)
        download = await waiting.value
        assert download.suggested_filename == "pic.svg"
        await asyncio.sleep(WAIT_S)
        assert spy.hits == []


def _imap_flags(port: int, uid: int) -> bytes:
    client = imaplib.IMAP4("127.0.0.1", port, timeout=10)
    try:
        client.login(USER, PASSWORD)
        client.select("INBOX", readonly=True)
        _, data = client.uid("FETCH", str(uid), "(FLAGS)")
        return data[0] if isinstance(data[0], bytes) else b""
    finally:
        client.logout()


async def test_a_flag_set_here_is_seen_over_imap_and_forged_forms_are_refused(
    page: Any, roost: Harness
) -> None:
    uid = await _setup(roost, b"From: a@example.test\r\nSubject: plain\r\n\r\nhello\r\n")
    [imap] = [s for s in roost.roost.services if isinstance(s, ImapService)]
    port = int(imap.addresses["imap-imap"][0].rsplit(":", 1)[1])
    await _sign_in(page, roost)
    row = page.locator(f'tr[data-uid="{uid}"]')
    await expect(row).to_have_class("unread")
    await row.locator('input[name="uid"]').check()
    await page.click('button[value="flag"]')
    await expect(page.locator(".notice")).to_have_text("1 flagged.")
    await expect(row.locator(".flag-mark")).to_be_visible()
    flags = await asyncio.to_thread(_imap_flags, port, uid)
    assert b"\\Flagged" in flags
    # A form whose CSRF token was tampered with changes nothing.
    await page.evaluate(
        "() => { document.querySelector('#list input[name=csrf]').value = 'forged' }"
    )
    await page.locator(f'tr[data-uid="{uid}"] input[name="uid"]').check()
    await page.click('button[value="unflag"]')
    await expect(page.locator("main .error")).to_contain_text("CSRF")
    flags = await asyncio.to_thread(_imap_flags, port, uid)
    assert b"\\Flagged" in flags
