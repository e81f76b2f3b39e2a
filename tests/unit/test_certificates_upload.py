"""Checks of an uploaded chain and key, expiry levels, and the live replacement of a CertStore."""

from __future__ import annotations

import contextlib
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from roost.control.admin_warnings import Level
from roost.control.certificates import (
    CertificateRefused,
    certificate_warnings,
    check_upload,
    expiry_level,
)
from roost.core.config import TlsSettings
from roost.net.certs import CertStore, load_pair

NOW = datetime(2026, 6, 1, tzinfo=UTC)
NAMES = ("mail.example.org", "example.org")
SETTINGS = TlsSettings()


def pems(leaf: trustme.LeafCert) -> tuple[str, str]:
    chain = "".join(p.bytes().decode() for p in leaf.cert_chain_pems)
    return chain, leaf.private_key_pem.bytes().decode()


def check(chain: str, key: str, names: tuple[str, ...] = NAMES) -> object:
    return check_upload(chain, key, names, now=NOW, settings=SETTINGS, purpose="the domain")


def refused(chain: str, key: str, names: tuple[str, ...] = NAMES) -> str:
    with pytest.raises(CertificateRefused) as caught:
        check(chain, key, names)
    return str(caught.value)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def intermediate(ca: trustme.CA) -> trustme.CA:
    return ca.create_child_ca()


def test_a_chain_with_its_intermediate_is_accepted(intermediate: trustme.CA) -> None:
    chain, key = pems(intermediate.issue_cert(*NAMES))
    assert chain.count("BEGIN CERTIFICATE") == 2
    checked = check(chain, key)
    assert checked.names == NAMES  # type: ignore[attr-defined]
    pem = checked.pem()  # type: ignore[attr-defined]
    assert pem.count(b"BEGIN CERTIFICATE") == 2 and b"BEGIN PRIVATE KEY" in pem


def test_a_wildcard_covers_one_label_only(ca: trustme.CA) -> None:
    chain, key = pems(ca.issue_cert("*.example.org"))
    message = refused(chain, key)
    assert "does not cover example.org (the domain)" in message
    assert "it names *.example.org" in message
    check(chain, key, ("mail.example.org",))


def test_a_combined_file_in_the_certificate_box_is_enough(ca: trustme.CA) -> None:
    chain, key = pems(ca.issue_cert(*NAMES))
    check(chain + key, "")


@pytest.mark.parametrize(
    ("chain", "key_given", "words"),
    [
        ("", True, "private key but no certificate"),
        ("hello", True, "not in PEM form"),
        (
            "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n",
            True,
            "malformed PEM",
        ),
        ("", False, "No certificate"),
    ],
)
def test_malformed_or_missing_certificates(
    ca: trustme.CA, chain: str, key_given: bool, words: str
) -> None:
    _, key = pems(ca.issue_cert(*NAMES))
    assert words in refused(chain, key if key_given else "")


def test_a_certificate_without_its_key(ca: trustme.CA) -> None:
    chain, _ = pems(ca.issue_cert(*NAMES))
    assert "No private key" in refused(chain, "")
    bad_key = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
    assert "malformed PEM" in refused(chain, bad_key)


def test_a_key_of_another_certificate_is_refused(ca: trustme.CA) -> None:
    chain, _ = pems(ca.issue_cert(*NAMES))
    _, other_key = pems(ca.issue_cert(*NAMES))
    assert "does not match the certificate" in refused(chain, other_key)


def test_a_key_protected_by_a_passphrase_is_refused(ca: trustme.CA) -> None:
    leaf = ca.issue_cert(*NAMES)
    chain, key_pem = pems(leaf)
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    locked = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    ).decode()
    assert "passphrase" in refused(chain, locked)


def test_chain_order_and_gaps(ca: trustme.CA, intermediate: trustme.CA) -> None:
    leaf = intermediate.issue_cert(*NAMES)
    leaf_pem, inter_pem = (p.bytes().decode() for p in leaf.cert_chain_pems)
    key = leaf.private_key_pem.bytes().decode()
    assert "out of order: the key belongs to certificate 2" in refused(inter_pem + leaf_pem, key)
    other_inter = trustme.CA().create_child_ca()
    foreign = other_inter.cert_pem.bytes().decode()
    assert "chain is broken: certificate 2" in refused(leaf_pem + foreign, key)
    root = ca.cert_pem.bytes().decode()
    message = refused(leaf_pem + root + inter_pem, key)
    assert "out of order: certificate 1" in message and "certificate 3" in message
    check(leaf_pem + inter_pem + root, key)


def test_expired_and_not_yet_valid(ca: trustme.CA) -> None:
    old = ca.issue_cert(*NAMES, not_after=datetime(2026, 5, 1))
    assert "expired on 2026-05-01" in refused(*pems(old))
    future = ca.issue_cert(*NAMES, not_before=datetime(2026, 7, 1))
    assert "not valid until 2026-07-01" in refused(*pems(future))


def _self_made(
    names: tuple[str, ...], key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, *, ca: bool
) -> str:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=90))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _key_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


def test_small_rsa_keys_and_ca_certificates_are_refused() -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    assert "1024 bits; at least 2048" in refused(
        _self_made(NAMES, small, ca=False), _key_pem(small)
    )
    key = ec.generate_private_key(ec.SECP256R1())
    assert "is a CA certificate" in refused(_self_made(NAMES, key, ca=True), _key_pem(key))
    # A self-signed server certificate for the right names is the admin's choice.
    check(_self_made(NAMES, key, ca=False), _key_pem(key))


def test_too_many_certificates_in_a_chain(ca: trustme.CA) -> None:
    chain, key = pems(ca.issue_cert(*NAMES))
    root = ca.cert_pem.bytes().decode()
    many = chain + root * SETTINGS.max_chain_certificates
    assert "at most 8 are accepted" in refused(many, key)


def _write(leaf: trustme.LeafCert, folder: Path, stem: str) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / f"{stem}.crt", folder / f"{stem}.key"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    return cert, key


def test_expiry_levels_and_dashboard_warnings(ca: trustme.CA, tmp_path: Path) -> None:
    naive = NOW.replace(tzinfo=None)
    far = load_pair(*_write(ca.issue_cert("far.test"), tmp_path, "far"))
    soon = load_pair(
        *_write(ca.issue_cert("soon.test", not_after=naive + timedelta(days=20)), tmp_path, "soon")
    )
    sooner = load_pair(
        *_write(ca.issue_cert("b.test", not_after=naive + timedelta(days=5)), tmp_path, "b")
    )
    gone = load_pair(
        *_write(ca.issue_cert("gone.test", not_after=naive - timedelta(days=1)), tmp_path, "gone")
    )
    levels = [expiry_level(c, NOW, SETTINGS) for c in (far, soon, sooner, gone)]
    assert levels == ["", "warning", "critical", "expired"]
    warnings = certificate_warnings(CertStore([far, soon, sooner, gone]), NOW, SETTINGS)
    assert [(w.level, w.link) for w in warnings] == [
        (Level.CRITICAL, "/admin/certificates"),
        (Level.CRITICAL, "/admin/certificates"),
        (Level.WARNING, "/admin/certificates"),
    ]
    assert warnings[0].text.startswith("The certificate gone (gone.test) expired on 2026-05-31")
    assert (
        warnings[1].text == "The certificate b (b.test) expires in 5 days, on 2026-06-06 00:00 UTC."
    )
    assert "soon (soon.test) expires in 20 days" in warnings[2].text


def _served(context: ssl.SSLContext, ca: trustme.CA, server_name: str | None) -> str:
    """Handshake over memory BIOs; the SHA-256 fingerprint of the certificate served."""
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ca.configure_trust(client)
    client.check_hostname = server_name is not None
    s_in, s_out, c_in, c_out = (ssl.MemoryBIO() for _ in range(4))
    server = context.wrap_bio(s_in, s_out, server_side=True)
    peer = client.wrap_bio(c_in, c_out, server_hostname=server_name)
    for _ in range(10):
        for side in (peer, server):
            with contextlib.suppress(ssl.SSLWantReadError):
                side.do_handshake()
        s_in.write(c_out.read())
        c_in.write(s_out.read())
    der = peer.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).fingerprint(hashes.SHA256()).hex()


def test_a_replaced_set_reaches_contexts_handed_out_before(ca: trustme.CA, tmp_path: Path) -> None:
    first = load_pair(*_write(ca.issue_cert("old.test", "mail.example.org"), tmp_path, "a"))
    store = CertStore([first])
    context = store.server_context()
    assert _served(context, ca, "mail.example.org") == first.fingerprint_sha256
    new_default = load_pair(*_write(ca.issue_cert("new.test"), tmp_path, "b"))
    for_mail = load_pair(*_write(ca.issue_cert("mail.example.org"), tmp_path, "c"))
    store.replace([new_default, for_mail, first])
    assert _served(context, ca, "mail.example.org") == for_mail.fingerprint_sha256
    assert _served(context, ca, None) == new_default.fingerprint_sha256
    assert _served(context, ca, "old.test") == first.fingerprint_sha256
    assert store.generation == 1
