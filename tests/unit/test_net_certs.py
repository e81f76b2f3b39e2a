"""Certificate loading, self-signed generation and SNI selection (no sockets)."""

from __future__ import annotations

import ssl
import stat
from datetime import timedelta
from pathlib import Path

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from roost.core.clock import ManualClock
from roost.core.errors import StartupError
from roost.net import CertStore, generate_self_signed, load_folder, load_pair, match_host


def write_pair(ca: trustme.CA, folder: Path, stem: str, *names: str) -> tuple[Path, Path]:
    issued = ca.issue_cert(*names)
    cert, key = folder / f"{stem}.crt", folder / f"{stem}.key"
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    return cert, key


@pytest.mark.parametrize(
    ("pattern", "host", "matches"),
    [
        ("mail.example.org", "mail.example.org", True),
        ("mail.example.org", "MAIL.Example.org.", True),
        ("*.example.org", "imap.example.org", True),
        ("*.example.org", "example.org", False),
        ("*.example.org", "a.b.example.org", False),
        ("*.example.org", ".example.org", False),
        ("mail.example.org", "mail.example.com", False),
    ],
)
def test_match_host(pattern: str, host: str, matches: bool) -> None:
    assert match_host(pattern, host) is matches


def test_self_signed_certificate(tmp_path: Path) -> None:
    clock = ManualClock()
    cert = generate_self_signed(tmp_path / "tls", ["mail.example.org", "127.0.0.1"], clock=clock)
    assert cert.names == ("mail.example.org", "127.0.0.1")
    assert stat.S_IMODE(cert.key_path.stat().st_mode) == 0o600
    assert timedelta(days=365) <= cert.not_after - clock.now() <= timedelta(days=731)
    parsed = x509.load_pem_x509_certificate(cert.cert_path.read_bytes())
    assert isinstance(parsed.public_key(), ec.EllipticCurvePublicKey)
    assert parsed.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    ctx = ssl.create_default_context(cafile=str(cert.cert_path))
    assert ctx.cert_store_stats()["x509"] == 1


def test_self_signed_rsa(tmp_path: Path) -> None:
    cert = generate_self_signed(tmp_path, ["mx.test"], key_type="rsa", validity_days=365)
    parsed = x509.load_pem_x509_certificate(cert.cert_path.read_bytes())
    key = parsed.public_key()
    assert isinstance(key, rsa.RSAPublicKey) and key.key_size == 2048


def test_open_generates_once_then_loads(tmp_path: Path) -> None:
    first = CertStore.open(tmp_path, ["mail.test"])
    second = CertStore.open(tmp_path, ["mail.test"])
    assert first.default.fingerprint_sha256 == second.default.fingerprint_sha256
    assert sorted(p.name for p in tmp_path.iterdir()) == ["selfsigned.crt", "selfsigned.key"]


def test_open_without_generation_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(StartupError, match="no certificate in"):
        CertStore.open(tmp_path, ["mail.test"], generate=False)


def test_load_folder_pairs_and_combined_pem(tmp_path: Path) -> None:
    ca = trustme.CA()
    write_pair(ca, tmp_path, "a", "a.test")
    combined = ca.issue_cert("c.test")
    combined.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "c.pem"))
    certs = load_folder(tmp_path)
    assert [c.names for c in certs] == [("a.test",), ("c.test",)]
    assert certs[1].key_path == tmp_path / "c.pem"


def test_mismatched_key_is_a_startup_error(tmp_path: Path) -> None:
    ca = trustme.CA()
    cert, _ = write_pair(ca, tmp_path, "a", "a.test")
    _, other_key = write_pair(ca, tmp_path, "b", "b.test")
    with pytest.raises(StartupError, match=r"cannot use .*a.crt with key .*b.key"):
        load_pair(cert, other_key)


def test_missing_key_is_named(tmp_path: Path) -> None:
    ca = trustme.CA()
    _cert, key = write_pair(ca, tmp_path, "a", "a.test")
    key.unlink()
    with pytest.raises(StartupError, match=r"key file .*a.key for .*a.crt is missing"):
        load_folder(tmp_path)


def test_select_exact_then_wildcard_then_default(tmp_path: Path) -> None:
    ca = trustme.CA()
    default = load_pair(*write_pair(ca, tmp_path, "d", "mail.test"))
    wild = load_pair(*write_pair(ca, tmp_path, "w", "*.example.org"))
    exact = load_pair(*write_pair(ca, tmp_path, "e", "www.example.org"))
    store = CertStore([default, wild, exact])
    assert store.select("www.example.org") is exact
    assert store.select("IMAP.example.org.") is wild
    assert store.select("example.org") is default
    assert store.select("unknown.test") is default
    assert store.select(None) is default
    ctx = store.server_context(alpn_protocols=["h2", "http/1.1"])
    assert ctx.sni_callback is not None
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
