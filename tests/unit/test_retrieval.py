"""Retrieval without a network: sealed passwords, fingerprints that carry
keys across a UIDVALIDITY change, errors in words, and request bodies."""

from __future__ import annotations

import socket
import ssl
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from starlette.exceptions import HTTPException

from roost.control.retrieval import PasswordCipher, RetrievalRefused, is_loopback
from roost.services.retrieval.common import FetchError, in_words
from roost.services.retrieval.imap import fingerprint
from roost.store.retrieval import RetrievalProtocol, TlsMode
from roost.web.api_retrieval import spec_of


def test_sealed_password_opens_only_for_its_account(tmp_path: Path) -> None:
    cipher = PasswordCipher(tmp_path)
    sealed = cipher.seal("hunter2", "bob@pop.example.net")
    assert "hunter2" not in sealed
    assert sealed != cipher.seal("hunter2", "bob@pop.example.net")  # a fresh nonce each time
    assert cipher.open(sealed, "bob@pop.example.net") == "hunter2"
    assert PasswordCipher(tmp_path).open(sealed, "bob@pop.example.net") == "hunter2"
    with pytest.raises(RetrievalRefused, match="cannot be opened"):
        cipher.open(sealed, "eve@pop.example.net")
    key = tmp_path / "secrets" / "retrieval.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    with pytest.raises(RetrievalRefused, match="cannot be opened"):
        PasswordCipher(tmp_path / "other").open(sealed, "bob@pop.example.net")


def test_fingerprint_is_message_id_date_and_size() -> None:
    when = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
    base = fingerprint(b"Message-ID: <a@example.net>\r\n\r\n", when, 100)
    assert base == fingerprint(b"message-id:   <A@example.net>\r\n\r\n", when, 100)
    # The same Message-ID alone never makes two messages one.
    assert base != fingerprint(b"Message-ID: <a@example.net>\r\n\r\n", when, 101)
    later = when.replace(minute=1)
    assert base != fingerprint(b"Message-ID: <a@example.net>\r\n\r\n", later, 100)
    assert len(base) == 64


@pytest.mark.parametrize(
    ("exc", "words"),
    [
        (FetchError("authentication failed: [AUTH] no"), "authentication failed: [AUTH] no"),
        (TimeoutError(), "timeout"),
        (ConnectionRefusedError(111, "Connection refused"), "host unreachable: connection refused"),
        (socket.gaierror(-2, "Name or service not known"), "host unreachable: the name"),
        (ssl.SSLCertVerificationError(1, "bad"), "certificate not trusted"),
        (EOFError(), "the server closed the connection"),
    ],
)
def test_errors_in_words(exc: BaseException, words: str) -> None:
    assert in_words(exc).startswith(words)


def test_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("pop.example.net") and not is_loopback("192.0.2.1")


def test_request_bodies() -> None:
    spec = spec_of({"protocol": "imap", "host": "imap.example.net", "username": "bob"})
    assert (spec.protocol, spec.tls, spec.port) == (RetrievalProtocol.IMAP, TlsMode.IMPLICIT, 993)
    assert spec.remote_folders == ("INBOX",) and not spec.leave_on_server
    pop = spec_of({"protocol": "pop3", "tls": "starttls", "host": "h", "username": "u"})
    assert pop.port == 110
    for bad in (
        {"protocol": "smtp", "host": "h", "username": "u"},
        {"protocol": "pop3", "tls": "maybe", "host": "h", "username": "u"},
        {"protocol": "pop3", "host": "h", "username": "u", "port": "110"},
        {"protocol": "imap", "host": "h", "username": "u", "remote_folders": []},
        {"protocol": "imap", "host": "h", "username": "u", "leave_on_server": "yes"},
        {"protocol": "imap", "username": "u"},
    ):
        with pytest.raises(HTTPException):
            spec_of(bad)
