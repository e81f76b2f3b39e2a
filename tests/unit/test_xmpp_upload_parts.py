"""The pure parts of XEP-0363 uploads: filenames, content types, what a
download is served as, and the URL slots are given under."""

from __future__ import annotations

from pathlib import Path
from typing import cast
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roost.core.config import XmppServiceSettings
from roost.net.web_routes import WebRoutes
from roost.services.xmpp.upload import (
    FilenameError,
    Uploads,
    check_filename,
    content_type_of,
)
from roost.services.xmpp.upload_http import content_disposition, raster_type, served_type
from roost.store.store import Store
from roost.store.xmpp_upload import UploadFiles


@pytest.mark.parametrize("name", ["photo.jpg", "résumé 2026.pdf", "🦆.png", "a" * 255, ".bashrc"])
def test_good_filenames(name: str) -> None:
    assert check_filename(name) == name


@pytest.mark.parametrize(
    "name",
    ["", "   ", ".", "..", "a/b", "..\\x", "a" * 256, "tab\there", "del\x7f", "\u202egnp.exe"],
)
def test_bad_filenames(name: str) -> None:
    with pytest.raises(FilenameError):
        check_filename(name)


def test_content_types() -> None:
    assert content_type_of(None) == "application/octet-stream"
    assert content_type_of("Image/PNG") == "image/png"
    assert content_type_of("text/plain; charset=utf-8") == "application/octet-stream"
    assert content_type_of("not a type") == "application/octet-stream"
    assert content_type_of("a/" + "b" * 300) == "application/octet-stream"


def test_raster_types_by_magic() -> None:
    assert raster_type(b"\x89PNG\r\n\x1a\n\0\0\0\r") == "image/png"
    assert raster_type(b"\xff\xd8\xff\xe0\0\x10JFIF") == "image/jpeg"
    assert raster_type(b"GIF89a\x01\0\x01\0") == "image/gif"
    assert raster_type(b"GIF87a\x01\0\x01\0") == "image/gif"
    assert raster_type(b"RIFF\x24\0\0\0WEBPVP8 ") == "image/webp"
    assert raster_type(b"RIFF\x24\0\0\0WAVEfmt ") is None
    assert raster_type(b"<svg xmlns='http://www.w3.org/2000/svg'>") is None
    assert raster_type(b"") is None


def test_active_types_become_octet_streams() -> None:
    for kind in ("text/html", "application/xhtml+xml", "image/svg+xml", "text/javascript"):
        assert served_type(kind) == "application/octet-stream"
    assert served_type("application/pdf") == "application/pdf"
    assert served_type("video/mp4") == "video/mp4"


def test_content_disposition_rfc8187() -> None:
    assert content_disposition("attachment", "a b.txt") == "attachment; filename*=UTF-8''a%20b.txt"
    assert content_disposition("inline", 'é;".png') == "inline; filename*=UTF-8''%C3%A9%3B%22.png"


@given(st.text(min_size=1, max_size=80))
def test_content_disposition_is_ascii_and_round_trips(name: str) -> None:
    header = content_disposition("attachment", name)
    assert header.isascii() and ";" not in header.partition("filename*=")[2]
    assert "\r" not in header and "\n" not in header and '"' not in header
    assert unquote(header.partition("UTF-8''")[2], errors="strict") == name


def uploads_for(web: WebRoutes | None, upload_url: str = "") -> Uploads:
    config = XmppServiceSettings(upload_url=upload_url)
    return Uploads(cast(Store, None), config, UploadFiles(Path("/nonexistent")), web, {})


def test_base_url_from_the_web_listener() -> None:
    web = WebRoutes()
    assert uploads_for(web).base_url("example.org") is None, "not listening yet"
    web.listening(["127.0.0.1:8080"], [])
    assert uploads_for(web).base_url("example.org") == "http://127.0.0.1:8080"
    web.listening(["127.0.0.1:8080"], ["0.0.0.0:443"])
    assert uploads_for(web).base_url("example.org") == "https://example.org"
    web.listening([], ["[::1]:8443"])
    assert uploads_for(web).base_url("example.org") == "https://[::1]:8443"
    web.listening([], ["[::]:443"])
    assert uploads_for(web).base_url("example.net") == "https://example.net"
    proxied = uploads_for(web, "https://chat.example.org/files/")
    assert proxied.base_url("example.org") == "https://chat.example.org/files"
    assert uploads_for(None).base_url("example.org") is None
