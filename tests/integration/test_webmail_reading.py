"""The read pane over HTTP: sanitised HTML in a sandboxed frame under its own policy,
remote images only when asked, cid: images, decoding, attachments served safely."""

from __future__ import annotations

import base64
import re
from pathlib import Path

from roost.store.types import Flag
from tests.integration.test_webmail_messages import deliver, flags_of
from tests.webmail_support import USER, sign_in, webmail

TRACKER = "http://127.0.0.1:9"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
HOSTILE_HTML = f"""<html><head>
<meta http-equiv="refresh" content="0;url={TRACKER}/meta">
<link rel="stylesheet" href="{TRACKER}/link">
<style>@import url({TRACKER}/import); body {{ background: url({TRACKER}/bg) }}</style>
</head><body onload="fetch('{TRACKER}/onload')">
<script>new Image().src = '{TRACKER}/script'</script>
<a href="javascript:fetch('{TRACKER}/js')">click</a>
<form action="{TRACKER}/form"><input name="q"><button>Go</button></form>
<div style="background:url({TRACKER}/style)">styled</div>
<img srcset="{TRACKER}/srcset 1x" src="{TRACKER}/img" onerror="fetch('{TRACKER}/onerror')">
<img src="cid:logo@example.test" alt="logo">
<p>Hello <b>there</b></p>
</body></html>"""


def multipart(html: str, *extra_parts: str) -> bytes:
    parts = [
        'Content-Type: multipart/related; boundary="rel"\r\n\r\n'
        f"--rel\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n"
        "--rel\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n"
        "Content-ID: <logo@example.test>\r\n\r\n"
        f"{base64.b64encode(PNG).decode()}\r\n--rel--\r\n",
        *extra_parts,
    ]
    body = "".join(f"--mix\r\n{p}\r\n" for p in parts) + "--mix--\r\n"
    return (
        f"From: Mallory <m@evil.test>\r\nTo: {USER}\r\nSubject: hostile\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="mix"\r\n\r\n' + body
    ).encode()


SVG_PART = (
    'Content-Type: image/svg+xml; name="pic.svg"\r\n'
    'Content-Disposition: inline; filename="pic.svg"\r\n\r\n'
    f'<svg xmlns="http://www.w3.org/2000/svg"><script>fetch("{TRACKER}/svg")</script></svg>'
)
HTML_PART = (
    "Content-Type: text/html\r\n"
    "Content-Disposition: attachment; filename*=utf-8''..%2F..%2Fevil%0D%0A.html\r\n\r\n"
    "<script>alert(1)</script>"
)
PDF_PART = (
    "Content-Type: application/octet-stream\r\n"
    'Content-Disposition: attachment; filename="r.pdf"\r\n\r\n%PDF-1.4 fake'
)


def frame_url(page: str) -> str:
    found = re.search(r'<iframe class="body"[^>]*src="([^"]*)"', page)
    assert found
    return found[1].replace("&amp;", "&")


async def test_hostile_html_is_sanitised_and_framed_without_scripts(
    tmp_path: Path, backend: str
) -> None:
    async with webmail(tmp_path, backend=backend) as m:
        uid = await deliver(m, multipart(HOSTILE_HTML, SVG_PART, HTML_PART, PDF_PART))
        await sign_in(m.client)
        page = await m.client.get(f"/mail/message?folder=INBOX&uid={uid}")
        assert page.status_code == 200
        frame_tag = re.search(r"<iframe[^>]*>", page.text)
        assert frame_tag and 'sandbox="allow-popups allow-popups-to-escape-sandbox"' in frame_tag[0]
        assert "allow-scripts" not in page.text and "allow-same-origin" not in page.text
        assert "frame-src 'self'" in page.headers["content-security-policy"]
        assert 'id="show-images"' in page.text
        body = await m.client.get(frame_url(page.text))
        assert body.status_code == 200
        csp = body.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "img-src 'self' data:;" in csp
        assert "sandbox" in csp and "allow-scripts" not in csp and "http:" not in csp
        assert body.headers["x-frame-options"] == "SAMEORIGIN"
        assert "127.0.0.1:9" not in body.text
        for bad in (
            "<script",
            "onload",
            "onerror",
            "javascript:",
            "<form",
            "<meta http",
            "<link",
            "@import",
            "srcset",
        ):
            assert bad not in body.text.lower(), bad
        assert "<b>there</b>" in body.text
        # After "Show images": the remote image is back, and the policy lets it load.
        shown = await m.client.get(f"/mail/message?folder=INBOX&uid={uid}&images=1")
        assert 'id="show-images"' not in shown.text
        loaded = await m.client.get(frame_url(shown.text))
        assert f'src="{TRACKER}/img"' in loaded.text and "srcset" not in loaded.text
        assert "img-src 'self' data: https: http:" in loaded.headers["content-security-policy"]
        assert f"{TRACKER}/style" not in loaded.text and "script" not in loaded.text
        # Opening it read it, as IMAP sees.
        assert Flag.SEEN in (await flags_of(m, "INBOX"))[uid]


async def test_cid_image_is_a_capability_url_good_for_the_session(
    tmp_path: Path, backend: str
) -> None:
    async with webmail(tmp_path, backend=backend) as m:
        uid = await deliver(m, multipart(HOSTILE_HTML))
        await sign_in(m.client)
        page = await m.client.get(f"/mail/message?folder=INBOX&uid={uid}")
        body = await m.client.get(frame_url(page.text))
        found = re.search(r'<img src="(/mail/inline\?[^"]*)" alt="logo">', body.text)
        assert found, body.text
        url = found[1].replace("&amp;", "&")
        stranger = m.browser()  # the sandboxed frame sends no cookie either
        image = await stranger.get(url)
        assert image.status_code == 200 and image.content == PNG
        assert image.headers["content-type"] == "image/png"
        assert image.headers["x-content-type-options"] == "nosniff"
        assert image.headers["content-security-policy"] == "sandbox; default-src 'none'"
        tampered = url.replace("&p=", "&p=1") if "&p=" in url else url + "x"
        assert (await stranger.get(tampered)).status_code == 404
        assert (await stranger.get(url[:-2] + "00")).status_code == 404
        token = re.search(r'name="csrf" value="([^"]*)"', page.text)
        assert token
        await m.client.post("/mail/sign-out", data={"csrf": token[1]})
        assert (await stranger.get(url)).status_code == 404
        await stranger.aclose()


async def test_attachments_are_downloads_with_safe_names_and_headers(
    tmp_path: Path, backend: str
) -> None:
    async with webmail(tmp_path, backend=backend) as m:
        uid = await deliver(m, multipart("<p>x</p>", SVG_PART, HTML_PART, PDF_PART))
        await sign_in(m.client)
        page = (await m.client.get(f"/mail/message?folder=INBOX&uid={uid}")).text
        links = {
            name: href.replace("&amp;", "&")
            for href, name in re.findall(r'<li><a href="([^"]*)" download>([^<]*)</a>', page)
        }
        assert (
            set(links) == {"logo@example.test", "pic.svg", ".._.._evil_.html", "r.pdf"}
            or "pic.svg" in links
        )
        svg = await m.client.get(links["pic.svg"] + "&inline=1")
        assert svg.headers["content-type"] == "application/octet-stream"
        assert svg.headers["content-disposition"].startswith("attachment;")
        assert "filename*=UTF-8''pic.svg" in svg.headers["content-disposition"]
        assert svg.headers["x-content-type-options"] == "nosniff"
        assert svg.headers["content-security-policy"] == "sandbox; default-src 'none'"
        evil_name = next(n for n in links if "evil" in n)
        assert "/" not in evil_name and "\r" not in evil_name and "\n" not in evil_name
        html = await m.client.get(links[evil_name] + "&inline=1")
        assert html.headers["content-type"] == "application/octet-stream"
        assert html.headers["content-disposition"].startswith("attachment;")
        pdf = await m.client.get(links["r.pdf"] + "&inline=1")
        assert pdf.headers["content-type"] == "application/pdf"
        assert pdf.headers["content-disposition"].startswith("inline;")
        missing = await m.client.get(f"/mail/message/part?folder=INBOX&uid={uid}&part=999")
        assert missing.status_code == 404


async def test_charsets_encoded_words_and_plain_text(tmp_path: Path, backend: str) -> None:
    async with webmail(tmp_path, backend=backend) as m:
        data = (
            "From: =?iso-8859-1?q?Fran=E7ois?= <f@example.test>\r\n"
            f"To: {USER}\r\n"
            "Subject: =?utf-8?b?PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0PiDDqXTDqQ==?=\r\n"
            "MIME-Version: 1.0\r\n"
            'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
            "--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
            "Gr=FC=DFe <i>not html</i>\r\n"
            "--b\r\nContent-Type: text/plain\r\n"
            "Content-Disposition: attachment; filename*=utf-8''na%C3%AFve%20notes.txt\r\n\r\n"
            "notes\r\n--b--\r\n"
        ).encode("latin-1")
        uid = await deliver(m, data)
        await sign_in(m.client)
        page = await m.client.get(f"/mail/message?folder=INBOX&uid={uid}")
        assert "François" in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt; été" in page.text
        assert "<script>alert" not in page.text
        assert "naïve notes.txt" in page.text
        body = await m.client.get(frame_url(page.text))
        assert "Grüße &lt;i&gt;not html&lt;/i&gt;" in body.text
        source = await m.client.get(f"/mail/message/source?folder=INBOX&uid={uid}")
        assert source.headers["content-type"].startswith("text/plain")
        assert source.headers["content-security-policy"] == "sandbox; default-src 'none'"
        assert b"Gr=FC=DFe" in source.content
        assert (await m.client.get("/mail/message?folder=INBOX&uid=99")).status_code == 404
        assert (await m.client.get("/mail/message?folder=INBOX&uid=x")).status_code == 400
