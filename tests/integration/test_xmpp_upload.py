"""Issue 10, "Judged by" (HTTP file upload, XEP-0363): the same slixmpp
scenario against Debian's Prosody (``http_file_share``) first, to prove
the test right, then against Roost.

The scenario: find the upload service through disco, upload a file with
slixmpp's ``upload_file`` and fetch it from its GET URL; a slot over the
size limit is refused with ``<file-too-large/>``; an SVG holding a script
is served as an attachment with ``nosniff`` and a CSP of ``default-src
'none'``; a slot used twice, and a PUT larger than its slot, are refused
and store nothing; slots past the quota earn ``resource-constraint``."""

from __future__ import annotations

import base64
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import trustme
from slixmpp.exceptions import IqError

from tests.prosody_peer import ProsodyUpload, prosody_peer
from tests.xmpp_support import (
    ALICE,
    ALICE_PASSWORD,
    BOB,
    BOB_PASSWORD,
    TIMEOUT_S,
    Client,
    certificate,
    signed_in_at,
    xmpp_port,
    xmpp_roost,
)

UPLOAD = "urn:xmpp:http:upload:0"
LIMIT = 65_536
QUOTA = 200_000
SVG = (
    b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(document.cookie)'>"
    b"<script>fetch('/steal?c=' + document.cookie)</script></svg>"
)

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@asynccontextmanager
async def server(kind: str, tmp_path: Path, ca: trustme.CA) -> AsyncIterator[int]:
    """The client port of a fresh server with alice and bob and uploads of
    at most `LIMIT` bytes a file, `QUOTA` bytes a user."""
    if kind == "prosody":
        accounts = [(ALICE.split("@")[0], ALICE_PASSWORD), (BOB.split("@")[0], BOB_PASSWORD)]
        tls = certificate(ca, tmp_path / "certs")
        upload = ProsodyUpload(limit_bytes=LIMIT, quota_bytes=QUOTA)
        with prosody_peer("example.org", accounts, tls, upload=upload) as peer:
            yield peer.port
    else:
        limits = {"upload_max_file_bytes": LIMIT, "upload_quota_bytes": QUOTA}
        async with xmpp_roost(tmp_path, ca, xmpp=limits) as roost:
            yield xmpp_port(roost)


async def upload(client: Client, name: str, data: bytes, content_type: str) -> str:
    """slixmpp's own upload: slot request, PUT; the GET URL."""
    url = await client.plugin["xep_0363"].upload_file(
        name,
        size=len(data),
        content_type=content_type,
        input_file=io.BytesIO(data),
        timeout=TIMEOUT_S,
    )
    assert isinstance(url, str)
    return url


async def slot(
    client: Client, service: str, name: str, size: int
) -> tuple[str, dict[str, str], str]:
    """A slot: its PUT URL, the PUT's headers, its GET URL."""
    iq = await client.plugin["xep_0363"].request_slot(
        service, name, size, "application/octet-stream", timeout=TIMEOUT_S
    )
    given = iq["http_upload_slot"]
    headers = {h["name"]: h["value"] for h in given["put"]["headers"]}
    return given["put"]["url"], headers, given["get"]["url"]


def condition(exc: IqError) -> str:
    return str(exc.iq["error"]["condition"])


@pytest.mark.parametrize("kind", ["prosody", "roost"])
async def test_http_upload_scenario(tmp_path: Path, ca: trustme.CA, kind: str) -> None:
    async with (
        server(kind, tmp_path, ca) as port,
        signed_in_at(port, ca, ALICE, ALICE_PASSWORD, plugins=("xep_0363",)) as alice,
        httpx.AsyncClient(timeout=TIMEOUT_S) as http,
    ):
        info = await alice.plugin["xep_0363"].find_upload_service(timeout=TIMEOUT_S)
        assert info is not None, "no upload service in the domain's disco#items"
        service = str(info["from"])
        assert service == "upload.example.org"
        form = next(f for f in info["disco_info"].iterables if f["values"].get("FORM_TYPE"))
        assert int(form["values"]["max-file-size"]) == LIMIT

        # Upload and fetch.
        data = bytes(range(256)) * 40
        url = await upload(alice, "notes.bin", data, "application/octet-stream")
        got = await http.get(url)
        assert got.status_code == 200 and got.content == data
        assert got.headers["x-content-type-options"] == "nosniff"

        # Over the per-file limit: refused with the limit (XEP-0363 §5).
        with pytest.raises(IqError) as refused:
            await alice.plugin["xep_0363"].request_slot(
                service, "big.bin", LIMIT + 1, "application/octet-stream", timeout=TIMEOUT_S
            )
        assert condition(refused.value) == "not-acceptable"
        limit = refused.value.iq.xml.find(
            f"{{jabber:client}}error/{{{UPLOAD}}}file-too-large/{{{UPLOAD}}}max-file-size"
        )
        assert limit is not None and int(limit.text or "") == LIMIT

        # An SVG with a script: served, but never as a page that runs it.
        url = await upload(alice, "drawing.svg", SVG, "image/svg+xml")
        got = await http.get(url)
        assert got.status_code == 200 and got.content == SVG
        assert got.headers["content-disposition"].startswith("attachment;")
        assert "filename*=UTF-8''drawing.svg" in got.headers["content-disposition"]
        assert got.headers["x-content-type-options"] == "nosniff"
        assert "default-src 'none'" in got.headers["content-security-policy"]
        assert not got.headers["content-type"].startswith("text/html")

        # A PNG (by its bytes) is shown inline as one.
        url = await upload(alice, "dot.png", PNG, "image/png")
        got = await http.get(url)
        assert got.status_code == 200 and got.content == PNG
        assert got.headers["content-type"] == "image/png"
        assert got.headers["content-disposition"].startswith("inline;")
        assert got.headers["x-content-type-options"] == "nosniff"

        # A slot serves one PUT.
        put_url, headers, get_url = await slot(alice, service, "once.bin", 5)
        first = await http.put(put_url, content=b"first", headers=headers)
        assert first.status_code == 201
        again = await http.put(put_url, content=b"other", headers=headers)
        assert again.status_code in (403, 409)
        assert (await http.get(get_url)).content == b"first"

        # A PUT larger than its slot stores nothing.
        put_url, headers, get_url = await slot(alice, service, "small.bin", 10)
        larger = await http.put(put_url, content=b"x" * 20, headers=headers)
        assert larger.status_code == 413
        assert (await http.get(get_url)).status_code in (404, 410)

        # The quota: slots of the largest size until one is refused.
        outcomes = []
        for n in range(5):
            try:
                await slot(alice, service, f"fill{n}.bin", LIMIT)
            except IqError as exc:
                outcomes.append(condition(exc))
                break
            outcomes.append("given")
        assert outcomes[0] == "given" and outcomes[-1] == "resource-constraint", outcomes
