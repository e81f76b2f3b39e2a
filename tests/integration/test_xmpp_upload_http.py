"""Roost's HTTP side of XEP-0363 beyond the shared scenario: what a download
is served as (raster images inline by their bytes, everything else an
attachment in a sandbox), how a PUT is checked, HTTPS, the 503 of a
stopped XMPP, and the Services page counters."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import trustme
from slixmpp.exceptions import IqError

from roost.app import Roost
from tests.tls_support import client_context
from tests.xmpp_support import (
    ALICE,
    ALICE_PASSWORD,
    TIMEOUT_S,
    Client,
    signed_in,
    xmpp_of,
    xmpp_roost,
)

SERVICE = "upload.example.org"
CSP = "sandbox; default-src 'none'"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
SVG = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


async def slot(
    client: Client, name: str, size: int, content_type: str = "application/octet-stream"
) -> tuple[str, dict[str, str], str]:
    iq = await client.plugin["xep_0363"].request_slot(
        SERVICE, name, size, content_type, timeout=TIMEOUT_S
    )
    given = iq["http_upload_slot"]
    headers = {h["name"]: h["value"] for h in given["put"]["headers"]}
    return given["put"]["url"], headers, given["get"]["url"]


async def put_get(
    client: Client, http: httpx.AsyncClient, name: str, data: bytes, content_type: str
) -> httpx.Response:
    put_url, headers, get_url = await slot(client, name, len(data), content_type)
    stored = await http.put(put_url, content=data, headers=headers)
    assert stored.status_code == 201, stored.text
    return await http.get(get_url)


async def test_downloads_are_served_safely(tmp_path: Path, ca: trustme.CA) -> None:
    async with (
        xmpp_roost(tmp_path, ca) as roost,
        signed_in(roost, ca, ALICE, ALICE_PASSWORD, plugins=("xep_0363",)) as alice,
        httpx.AsyncClient(timeout=TIMEOUT_S) as http,
    ):
        # A PNG is shown inline as the image its bytes say, whatever was claimed.
        got = await put_get(alice, http, "dot.png", PNG, "text/html")
        assert got.content == PNG
        assert got.headers["content-type"] == "image/png"
        assert got.headers["content-disposition"] == "inline; filename*=UTF-8''dot.png"
        assert got.headers["x-content-type-options"] == "nosniff"
        assert got.headers["content-security-policy"] == CSP

        # An SVG is a download in a sandbox, never an image/svg+xml page.
        got = await put_get(alice, http, "résumé 1.svg", SVG, "image/svg+xml")
        assert got.content == SVG
        assert got.headers["content-type"] == "application/octet-stream"
        assert got.headers["content-disposition"] == (
            "attachment; filename*=UTF-8''r%C3%A9sum%C3%A9%201.svg"
        )
        assert got.headers["content-security-policy"] == CSP
        assert got.headers["x-content-type-options"] == "nosniff"

        # HTML claimed, HTML sent: an attachment, not text/html.
        page = b"<html><script>alert(1)</script></html>"
        got = await put_get(alice, http, "page.html", page, "text/html")
        assert got.headers["content-type"] == "application/octet-stream"
        assert got.headers["content-disposition"].startswith("attachment;")

        # A file that only claims to be a PNG is no image.
        got = await put_get(alice, http, "fake.png", b"GIF8 not really", "image/png")
        assert got.headers["content-disposition"].startswith("attachment;")

        # HEAD: the same headers, no body.
        put_url, headers, get_url = await slot(alice, "dot2.png", len(PNG), "image/png")
        assert (await http.put(put_url, content=PNG, headers=headers)).status_code == 201
        head = await http.head(get_url)
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-length"] == str(len(PNG))
        assert head.headers["content-type"] == "image/png"


async def test_put_checks(tmp_path: Path, ca: trustme.CA) -> None:
    async with (
        xmpp_roost(tmp_path, ca) as roost,
        signed_in(roost, ca, ALICE, ALICE_PASSWORD, plugins=("xep_0363",)) as alice,
        httpx.AsyncClient(timeout=TIMEOUT_S) as http,
    ):
        put_url, headers, get_url = await slot(alice, "data.bin", 10)
        assert (await http.put(put_url, content=b"0123456789")).status_code == 401
        wrong = {"Authorization": "Bearer not-the-secret"}
        assert (await http.put(put_url, content=b"0123456789", headers=wrong)).status_code == 403
        short = await http.put(put_url, content=b"01234", headers=headers)
        assert short.status_code == 400

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(4):
                yield b"0123456789"

        # Without Content-Length (chunked), the body is cut at the slot's size.
        larger = await http.put(put_url, content=chunks(), headers=headers)
        assert larger.status_code == 413
        assert (await http.get(get_url)).status_code == 404
        assert list((tmp_path / "data" / "uploads").rglob("*.*")) == [], "no temporary file left"
        # The slot is still open: a right PUT within its time is stored.
        assert (await http.put(put_url, content=b"0123456789", headers=headers)).status_code == 201
        assert (await http.get(get_url)).content == b"0123456789"
        assert (await http.put(put_url, content=b"9876543210", headers=headers)).status_code == 409
        # The URL names the slot and its file: another name is no file.
        other = get_url.rsplit("/", 1)[0] + "/other.bin"
        assert (await http.get(other)).status_code == 404

        for name in ("../etc/passwd", "a/b", "", "bad\x7fname", "\u202egnp.exe"):
            with pytest.raises(IqError) as refused:
                await slot(alice, name, 10)
            assert refused.value.iq["error"]["condition"] == "bad-request", name


async def test_https_and_services_page(tmp_path: Path, ca: trustme.CA) -> None:
    web = {"listen": [], "tls_listen": ["127.0.0.1:0"]}
    async with (
        xmpp_roost(tmp_path, ca, web=web) as roost,
        signed_in(roost, ca, ALICE, ALICE_PASSWORD, plugins=("xep_0363",)) as alice,
        httpx.AsyncClient(timeout=TIMEOUT_S, verify=client_context(ca)) as http,
    ):
        put_url, headers, get_url = await slot(alice, "secure.bin", 6)
        assert put_url == get_url
        assert get_url.startswith(f"https://{roost.web.tls_addresses[0]}/upload/")
        assert (await http.put(put_url, content=b"secret", headers=headers)).status_code == 201
        assert (await http.get(get_url)).content == b"secret"

        await roost.supervisor.probe("xmpp")
        counters = dict(xmpp_of(roost).status().counters)
        assert counters["upload_files"] == 1 and counters["upload_bytes"] == 6

        await stopped_answers_503(roost, http, get_url)


async def stopped_answers_503(roost: Roost, http: httpx.AsyncClient, url: str) -> None:
    await roost.supervisor.stop("xmpp", "test")
    try:
        assert (await http.get(url)).status_code == 503
    finally:
        await roost.supervisor.start("xmpp", "test")
    assert (await http.get(url)).content == b"secret"
