"""DKIM key files: generation, selectors, records, rotation, and the signer's view of them."""

from __future__ import annotations

import base64
import re
import stat
from datetime import date
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from roost.control.mailauth import keys
from roost.control.mailauth.keys import DkimKeyError, TxtRecord
from roost.control.mailauth.signing import DkimSigner
from tests.mailauth_support import MESSAGE

DAY = date(2026, 3, 14)
FAST = 1024  # RSA bits for tests that are not about the key size


def make(
    data: Path, domain: str = "example.com", selector: str | None = None
) -> tuple[TxtRecord, ...]:
    return keys.generate(data, domain, selector, today=DAY, rsa_bits=FAST)


def test_generate_writes_private_files_and_returns_both_records(tmp_path: Path) -> None:
    records = keys.generate(tmp_path, "Example.COM.", today=DAY)
    folder = tmp_path / "dkim" / "example.com"
    for name in ("roost2026a.rsa.key", "roost2026a.ed25519.key", "active"):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert (folder / "active").read_text() == "roost2026a\n"
    assert [r.name for r in records] == [
        "roost2026a-rsa._domainkey.example.com",
        "roost2026a-ed25519._domainkey.example.com",
    ]
    assert records[0].value.startswith("v=DKIM1; k=rsa; p=MII")
    assert records[1].value.startswith("v=DKIM1; k=ed25519; p=")
    pem = (folder / "roost2026a.rsa.key").read_bytes()
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
    seed = base64.b64decode((folder / "roost2026a.ed25519.key").read_bytes())
    public = ed25519.Ed25519PrivateKey.from_private_bytes(seed).public_key()
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert records[1].value.endswith(base64.b64encode(raw).decode())


def test_second_selector_takes_the_next_letter_and_waits_for_activation(tmp_path: Path) -> None:
    make(tmp_path)
    second = make(tmp_path)
    assert second[0].selector == "roost2026b"
    shown = keys.show(tmp_path, "example.com")
    assert [s.selector for s in shown.selectors] == ["roost2026a", "roost2026b"]
    assert shown.active is not None and shown.active.selector == "roost2026a"
    keys.activate(tmp_path, "example.com", "roost2026b")
    shown = keys.show(tmp_path, "example.com")
    assert shown.active is not None and shown.active.selector == "roost2026b"


def test_explicit_selector_and_refusals(tmp_path: Path) -> None:
    assert make(tmp_path, selector="Mail2026")[0].name.startswith("mail2026-rsa.")
    with pytest.raises(DkimKeyError, match="exists already"):
        make(tmp_path, selector="mail2026")
    for bad in ("../x", "a.b", "-x", "x" * 56, ""):
        with pytest.raises(DkimKeyError):
            keys.generate(tmp_path, "example.com", bad or " ", rsa_bits=FAST)
    for domain in ("../../etc", "localhost", "exa mple.com", "a..b", "a/b.com"):
        with pytest.raises(DkimKeyError, match="not a domain"):
            make(tmp_path, domain)
    with pytest.raises(DkimKeyError, match="no selector"):
        keys.activate(tmp_path, "example.com", "nope")
    with pytest.raises(DkimKeyError, match="no DKIM key"):
        keys.show(tmp_path, "example.org")


def test_list_domains(tmp_path: Path) -> None:
    assert keys.list_domains(tmp_path) == ()
    make(tmp_path, "b.example")
    make(tmp_path, "a.example")
    assert [d.domain for d in keys.list_domains(tmp_path)] == ["a.example", "b.example"]


def test_zone_line_cuts_long_values_into_255_octet_strings() -> None:
    record = TxtRecord("s-rsa._domainkey.example.com", "v=DKIM1; p=" + "A" * 600, "rsa", "s")
    line = record.zone_line()
    assert line.startswith('s-rsa._domainkey.example.com. IN TXT ( "v=DKIM1; p=AAA')
    strings = re.findall(r'"([^"]*)"', line)
    assert [len(s) for s in strings] == [255, 255, 101]
    assert "".join(strings) == record.value


def test_signer_signs_with_both_keys_of_the_active_selector(tmp_path: Path) -> None:
    make(tmp_path)
    signer = DkimSigner(tmp_path)
    assert signer.sign(MESSAGE, "example.org") == b""
    assert signer.sign(MESSAGE, "not a domain") == b""
    fields = signer.sign(MESSAGE, "EXAMPLE.com")
    assert fields.count(b"DKIM-Signature:") == 2
    assert b"a=rsa-sha256" in fields and b"a=ed25519-sha256" in fields
    assert b"s=roost2026a-rsa" in fields and b"s=roost2026a-ed25519" in fields
    assert b"c=relaxed/relaxed" in fields and b"d=example.com" in fields
    unfolded = fields.replace(b"\r\n ", b" ")
    signed = unfolded.split(b"h=", 1)[1].split(b";", 1)[0].replace(b" ", b"")
    assert signed == b"from:to:subject:date:message-id:mime-version:content-type:from"
    assert fields.endswith(b"\r\n") and b"\n" not in fields.replace(b"\r\n", b"")


def test_signer_follows_rotation_without_a_restart(tmp_path: Path) -> None:
    make(tmp_path)
    signer = DkimSigner(tmp_path)
    assert b"s=roost2026a-rsa" in signer.sign(MESSAGE, "example.com")
    make(tmp_path)
    assert b"s=roost2026a-rsa" in signer.sign(MESSAGE, "example.com")
    keys.activate(tmp_path, "example.com", "roost2026b")
    assert b"s=roost2026b-rsa" in signer.sign(MESSAGE, "example.com")


def test_keys_an_administrator_brings_in_other_formats(tmp_path: Path) -> None:
    folder = tmp_path / "dkim" / "example.com"
    folder.mkdir(parents=True)
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=FAST)
    (folder / "own.rsa.key").write_bytes(
        rsa_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (folder / "own.ed25519.key").write_bytes(
        ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    shown = keys.show(tmp_path, "example.com")
    assert shown.active is not None and shown.active.selector == "own"
    fields = DkimSigner(tmp_path).sign(MESSAGE, "example.com")
    assert fields.count(b"DKIM-Signature:") == 2
    records = {r.algorithm: r.value for r in shown.active.records}

    def dns(name: bytes, timeout: float = 5) -> bytes:
        algorithm = name.split(b".")[0].rsplit(b"-", 1)[1].decode()
        return records[algorithm].encode()

    message = fields + MESSAGE
    checker = dkim.DKIM(message)
    assert checker.verify(idx=0, dnsfunc=dns) and checker.verify(idx=1, dnsfunc=dns)


def test_a_broken_key_file_means_unsigned_not_a_crash(tmp_path: Path) -> None:
    make(tmp_path)
    (tmp_path / "dkim" / "example.com" / "roost2026a.rsa.key").write_text("garbage\n")
    assert DkimSigner(tmp_path).sign(MESSAGE, "example.com") == b""
    with pytest.raises(DkimKeyError, match="not an unencrypted PEM"):
        keys.show(tmp_path, "example.com")
