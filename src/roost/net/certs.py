"""Certificates: loading, a self-signed one on first start, SNI selection.

A `CertStore` holds certificate/key pairs loaded from PEM files. Its
`server_context()` is one `ssl.SSLContext` for the default certificate whose
SNI callback (RFC 6066 §3) swaps in the context of the certificate that
matches the host name the client asked for: exact name first, then a
wildcard (``*.example.org`` covers one label, RFC 6125 §6.4.3), then the
default. The same context serves our own listeners and stdlib servers
(uvicorn for the web listener).

When no certificate exists, `CertStore.open` writes a self-signed one (EC
P-256, SAN = the configured host names) so that TLS works from the first
start; its key file is created with mode 0600.

The set of certificates is replaceable while the node runs (`reload`,
`replace`): every context `server_context` handed out keeps its SNI callback,
which reads the current set on each handshake and swaps in a context built
for it, so a new certificate reaches every listener's next connection
without a restart. Connections already open keep the certificate they
started with.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import ssl
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from roost.core.clock import Clock, SystemClock
from roost.core.errors import StartupError
from roost.net.tls import harden_context, record_server_name

__all__ = [
    "NODE_STEM",
    "SELF_SIGNED_STEM",
    "CertStore",
    "Certificate",
    "generate_self_signed",
    "is_self_signed",
    "load_folder",
    "load_pair",
    "match_host",
    "write_atomically",
]

_log = logging.getLogger(__name__)

SELF_SIGNED_STEM = "selfsigned"
NODE_STEM = "node"
"""File stem of the certificate installed for the node's own host names: served by default."""
SELF_SIGNED_VALIDITY_DAYS = 730
_KEY_MODE = 0o600


@dataclass(frozen=True, slots=True)
class Certificate:
    """A certificate chain and its key, as loaded from disk."""

    cert_path: Path
    key_path: Path
    names: tuple[str, ...]
    """DNS names (and IP addresses) of the subjectAltName, lower case."""
    not_before: datetime
    not_after: datetime
    fingerprint_sha256: str
    subject: str = ""
    """The leaf's subject as an RFC 4514 string."""
    issuer: str = ""
    self_signed: bool = False
    """The leaf is signed by its own key (no CA vouches for it)."""
    chain_length: int = 1

    @property
    def stem(self) -> str:
        """The file name without its suffix: how the page and the events name it."""
        return self.cert_path.stem

    def expires_within(self, clock: Clock, days: float) -> bool:
        return self.expires_within_at(clock.now(), days)

    def expires_within_at(self, now: datetime, days: float) -> bool:
        return self.not_after - now < timedelta(days=days)


def _normalise(name: str) -> str:
    return name.strip().rstrip(".").lower()


def match_host(pattern: str, host: str) -> bool:
    """True if certificate name *pattern* covers *host* (exact or ``*.`` one label)."""
    pattern, host = _normalise(pattern), _normalise(host)
    if pattern.startswith("*."):
        label, dot, rest = host.partition(".")
        return bool(label) and bool(dot) and rest == pattern[2:]
    return pattern == host


def _names_of(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        # Pre-RFC 6125 certificates: fall back to the common name.
        return tuple(
            _normalise(str(a.value))
            for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        )
    dns = [_normalise(n) for n in san.get_values_for_type(x509.DNSName)]
    ips = [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    return tuple(dns + ips)


def is_self_signed(cert: x509.Certificate) -> bool:
    """True if *cert* names itself as issuer and its own key verifies its signature."""
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _password_refused() -> bytes:
    # A passphrase-protected key would make OpenSSL prompt on the terminal.
    return b""


def load_pair(cert_path: Path, key_path: Path) -> Certificate:
    """Load and check one certificate chain (leaf first) and its private key."""
    try:
        pem = cert_path.read_bytes()
    except OSError as exc:
        raise StartupError(f"cannot read certificate {cert_path}: {exc.strerror}") from exc
    try:
        chain = x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise StartupError(f"{cert_path} holds no PEM certificate: {exc}") from exc
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        probe.load_cert_chain(cert_path, key_path, password=_password_refused)
    except FileNotFoundError as exc:
        raise StartupError(f"key file {key_path} for {cert_path} is missing") from exc
    except (ssl.SSLError, OSError) as exc:
        raise StartupError(
            f"cannot use {cert_path} with key {key_path} (mismatched, encrypted or "
            f"unreadable): {getattr(exc, 'reason', None) or exc}"
        ) from exc
    leaf = chain[0]
    return Certificate(
        cert_path=cert_path,
        key_path=key_path,
        names=_names_of(leaf),
        not_before=leaf.not_valid_before_utc,
        not_after=leaf.not_valid_after_utc,
        fingerprint_sha256=leaf.fingerprint(hashes.SHA256()).hex(),
        subject=leaf.subject.rfc4514_string(),
        issuer=leaf.issuer.rfc4514_string(),
        self_signed=is_self_signed(leaf),
        chain_length=len(chain),
    )


def load_folder(folder: Path) -> list[Certificate]:
    """Load every pair in *folder*: ``NAME.crt`` or ``NAME.pem`` with ``NAME.key``.

    A ``.pem`` that holds the key as well needs no ``.key`` file.
    """
    try:
        candidates = sorted(
            p for p in folder.iterdir() if p.suffix in {".crt", ".pem"} and p.is_file()
        )
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise StartupError(f"cannot read certificate folder {folder}: {exc.strerror}") from exc
    loaded: list[Certificate] = []
    for path in candidates:
        text = path.read_bytes()
        if b"-----BEGIN CERTIFICATE-----" not in text:
            continue
        key = path if b"PRIVATE KEY-----" in text else path.with_suffix(".key")
        loaded.append(load_pair(path, key))
    return loaded


def generate_self_signed(
    folder: Path,
    host_names: Sequence[str],
    *,
    clock: Clock | None = None,
    key_type: Literal["ec", "rsa"] = "ec",
    validity_days: int = SELF_SIGNED_VALIDITY_DAYS,
    stem: str = SELF_SIGNED_STEM,
) -> Certificate:
    """Write ``STEM.crt`` and ``STEM.key`` (mode 0600) for *host_names*; load them.

    *key_type* is ``"ec"`` (P-256) or ``"rsa"`` (2048 bits).
    """
    if not host_names:
        raise ValueError("a self-signed certificate needs at least one host name")
    now = (clock or SystemClock()).now()
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    if key_type == "rsa":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host_names[0])])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=validity_days))
        .add_extension(x509.SubjectAlternativeName(_general_names(host_names)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_encipherment=key_type == "rsa",
                content_commitment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        key_path = folder / f"{stem}.key"
        cert_path = folder / f"{stem}.crt"
        _write_atomically(key_path, key_pem, _KEY_MODE)
        _write_atomically(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    except OSError as exc:
        raise StartupError(f"cannot write a certificate into {folder}: {exc.strerror}") from exc
    _log.warning(
        "[certs] wrote a self-signed certificate for %s to %s; clients will not trust it",
        ", ".join(host_names),
        cert_path,
    )
    return load_pair(cert_path, key_path)


def _general_names(host_names: Iterable[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for name in host_names:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            names.append(x509.DNSName(_normalise(name)))
    return names


def write_atomically(path: Path, data: bytes, mode: int) -> None:
    """Write *data* to *path* with *mode* so that a reader sees the old or the new file."""
    _write_atomically(path, data, mode)


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)  # in case the file existed with other bits
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


@dataclass(frozen=True, slots=True)
class _CertSet:
    """One immutable generation of certificates and the SNI tables over it."""

    certificates: tuple[Certificate, ...]
    default: Certificate
    exact: dict[str, Certificate]
    wildcard: dict[str, Certificate]

    @classmethod
    def build(cls, certificates: Sequence[Certificate], default: Certificate | None) -> _CertSet:
        if not certificates:
            raise StartupError("no TLS certificate is configured")
        exact: dict[str, Certificate] = {}
        wildcard: dict[str, Certificate] = {}
        for cert in certificates:
            for name in cert.names:
                if name.startswith("*."):
                    wildcard.setdefault(name[2:], cert)
                else:
                    exact.setdefault(name, cert)
        return cls(tuple(certificates), default or certificates[0], exact, wildcard)

    def select(self, server_name: str | None) -> Certificate:
        if not server_name:
            return self.default
        host = _normalise(server_name)
        found = self.exact.get(host)
        if found is not None:
            return found
        _label, dot, rest = host.partition(".")
        wildcard = self.wildcard.get(rest) if dot else None
        return wildcard or self.default


@dataclass(slots=True)
class _ContextFamily:
    """The contexts of one `server_context` call (its ALPN and client CA), per certificate."""

    alpn_protocols: tuple[str, ...]
    client_ca: Path | None
    contexts: dict[Certificate, ssl.SSLContext]

    def build(self, certs: _CertSet) -> dict[Certificate, ssl.SSLContext]:
        return {
            cert: _context_for(cert, self.alpn_protocols, self.client_ca)
            for cert in certs.certificates
        }


@dataclass(frozen=True, slots=True)
class _Source:
    """Where `CertStore.open` found its certificates, for `reload`."""

    folder: Path
    extra_pairs: tuple[tuple[Path, Path], ...]


class CertStore:
    """The certificates a node serves, and SNI selection among them."""

    def __init__(self, certificates: Sequence[Certificate], default: Certificate | None = None):
        self._set = _CertSet.build(certificates, default)
        self._families: list[_ContextFamily] = []
        self._source: _Source | None = None
        self.generation = 0
        """Counts replacements of the set, so that a page can tell a change."""

    @property
    def certificates(self) -> tuple[Certificate, ...]:
        return self._set.certificates

    @property
    def default(self) -> Certificate:
        return self._set.default

    @property
    def folder(self) -> Path | None:
        """The data folder's certificate folder (None for a store made from a list)."""
        return self._source.folder if self._source else None

    @property
    def configured_paths(self) -> frozenset[Path]:
        """Certificate files named in the config (not managed in the folder)."""
        return frozenset(c for c, _ in self._source.extra_pairs) if self._source else frozenset()

    @classmethod
    def open(
        cls,
        folder: Path,
        host_names: Sequence[str],
        *,
        extra_pairs: Sequence[tuple[Path, Path]] = (),
        generate: bool = True,
        clock: Clock | None = None,
    ) -> CertStore:
        """Load *extra_pairs* and *folder*; without any, generate a self-signed one.

        The default certificate is the first of *extra_pairs*, else the one
        installed for the node (``node.pem``), else the self-signed one, else
        the first of the folder by file name.
        """
        clock = clock or SystemClock()
        source = _Source(folder, tuple(extra_pairs))
        certs = _load_source(source)
        if not certs:
            if not generate:
                raise StartupError(f"no certificate in {folder} and none configured")
            certs = [generate_self_signed(folder, host_names, clock=clock)]
        for cert in certs:
            if cert.not_after < clock.now():
                _log.warning("[certs] %s expired on %s", cert.cert_path, cert.not_after.date())
        store = cls(*_ordered(certs, bool(extra_pairs)))
        store._source = source
        return store

    def reload(self) -> None:
        """Read the certificate files again and serve them to new connections.

        Raises `StartupError` (and keeps serving the old set) if a file is
        unreadable, a key does not match, or nothing is left.
        """
        if self._source is None:
            raise StartupError("this certificate store was not loaded from a folder")
        certs = _load_source(self._source)
        if not certs:
            raise StartupError(f"no certificate in {self._source.folder} and none configured")
        self.replace(*_ordered(certs, bool(self._source.extra_pairs)))

    def replace(
        self, certificates: Sequence[Certificate], default: Certificate | None = None
    ) -> None:
        """Serve *certificates* from the next handshake on, on every context handed out."""
        new = _CertSet.build(certificates, default)
        try:
            built = [family.build(new) for family in self._families]
        except (ssl.SSLError, OSError) as exc:
            raise StartupError(
                f"cannot load the new certificates: {getattr(exc, 'reason', None) or exc}"
            ) from exc
        # Swap everything at once: the event loop runs no handshake in between.
        for family, contexts in zip(self._families, built, strict=True):
            family.contexts = contexts
        self._set = new
        self.generation += 1
        _log.info(
            "[certs] now serving %d certificates (default %s)",
            len(new.certificates),
            new.default.cert_path.name,
        )

    def select(self, server_name: str | None) -> Certificate:
        """The certificate for the SNI name *server_name* (default if none matches)."""
        return self._set.select(server_name)

    def server_context(
        self,
        *,
        alpn_protocols: Sequence[str] = (),
        client_ca: Path | None = None,
    ) -> ssl.SSLContext:
        """An `ssl.SSLContext` serving every certificate by SNI, now and after a reload.

        With *client_ca*, clients may present a certificate issued by it
        (CERT_OPTIONAL: for XMPP server-to-server or client-certificate login).
        """
        family = _ContextFamily(tuple(alpn_protocols), client_ca, {})
        family.contexts = family.build(self._set)
        self._families.append(family)
        handed_out = family.contexts[self._set.default]

        def on_sni(
            sslobj: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, ctx: ssl.SSLContext
        ) -> None:
            # Called on every ClientHello, with None when the client sends no SNI.
            record_server_name(sslobj, server_name, ctx)
            chosen = family.contexts[self._set.select(server_name)]
            if chosen is not ctx:
                sslobj.context = chosen

        handed_out.sni_callback = on_sni
        return handed_out


def _load_source(source: _Source) -> list[Certificate]:
    configured = {c for c, _ in source.extra_pairs}
    certs = [load_pair(c, k) for c, k in source.extra_pairs]
    certs += [c for c in load_folder(source.folder) if c.cert_path not in configured]
    return certs


def _ordered(
    certs: list[Certificate], configured_first: bool
) -> tuple[list[Certificate], Certificate]:
    """Installed certificates before the self-signed one (SNI ties go to the earlier), default."""
    generated = [c for c in certs if c.stem == SELF_SIGNED_STEM and c.self_signed]
    ordered = [c for c in certs if c not in generated] + generated
    if configured_first:
        return ordered, certs[0]
    node = [c for c in ordered if c.stem == NODE_STEM]
    return ordered, (node or generated or ordered)[0]


def _context_for(
    cert: Certificate, alpn_protocols: Sequence[str], client_ca: Path | None
) -> ssl.SSLContext:
    context = harden_context(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))
    context.load_cert_chain(cert.cert_path, cert.key_path, password=_password_refused)
    if alpn_protocols:
        context.set_alpn_protocols(list(alpn_protocols))
    if client_ca is not None:
        context.load_verify_locations(cafile=client_ca)
        context.verify_mode = ssl.CERT_OPTIONAL
    return context
