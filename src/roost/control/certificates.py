"""Installing TLS certificates from the admin console, and watching their expiry.

An upload is a PEM chain (the server's certificate first, then each issuer)
and its private key. `check_upload` refuses, with a message that says what
to fix: malformed PEM, a key without a certificate or the reverse, a key
protected by a passphrase, a key that does not belong to the first
certificate, a chain out of order or with a gap, a CA certificate in the
server's place, any certificate expired or not yet valid, and names that do
not cover the host names of what it is for (the node, or a hosted domain's
mail and XMPP host names, `[tls] domain_host_names`).

`CertificateAdmin.install` then writes chain and key as one file,
``tls/NAME.pem`` (mode 0600, replaced atomically: a reader sees the old file
or the new one), and reloads the `CertStore`, whose contexts every listener
already holds, so the next TLS connection gets the new certificate: no
service restarts. If the reload fails, the previous files come back. Every
install, removal and refused upload is an event in the audit log.

Expiry: `certificate_warnings` lists the certificates within
`[tls] expiry_warning_days` (a warning) or `expiry_critical_days` (critical)
of their end, or past it, for the dashboard; `CertificateAdmin.check_expiry`
(run by the housekeeping loop) records one event when a certificate enters
each of those windows, remembered in the settings so that a restart does
not repeat it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from roost.control.admin_warnings import AdminWarning, Level
from roost.control.directory import Actor
from roost.core.clock import Clock
from roost.core.config import Config, TlsSettings
from roost.core.errors import InvalidName, RoostError, StartupError
from roost.net.certs import (
    NODE_STEM,
    SELF_SIGNED_STEM,
    Certificate,
    CertStore,
    match_host,
    write_atomically,
)
from roost.store.db import Tx
from roost.store.directory import normalise_domain
from roost.store.store import Store
from roost.store.types import NewEvent

__all__ = [
    "NODE",
    "CertificateAdmin",
    "CertificateRefused",
    "CheckedUpload",
    "certificate_warnings",
    "check_upload",
    "expiry_level",
]

log = logging.getLogger(__name__)

NODE = NODE_STEM
"""The install target for the node's own host names (served by default)."""
PAGE = "/admin/certificates"
SYSTEM_ACTOR = "supervisor"
_EXPIRY_KEY = "certificates.expiry."
_KEY_MODE = 0o600
_BEGIN_CERT = b"-----BEGIN CERTIFICATE-----"
_PRIVATE_KEY = b"PRIVATE KEY-----"
_RANK = {"": 0, "warning": 1, "critical": 2, "expired": 3}


class CertificateRefused(RoostError):
    """An upload that cannot be served; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class CheckedUpload:
    chain: tuple[x509.Certificate, ...]
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    names: tuple[str, ...]

    def pem(self) -> bytes:
        """The chain, then the key (PKCS #8, unencrypted): one file the store loads."""
        certs = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.chain)
        key = self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return certs + key


def _who(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string() or "(no subject)"


def _day(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _names(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ()
    dns = [n.rstrip(".").lower() for n in san.get_values_for_type(x509.DNSName)]
    return tuple(dns + [str(ip) for ip in san.get_values_for_type(x509.IPAddress)])


def _parse_chain(
    data: bytes, settings: TlsSettings, *, key_given: bool
) -> tuple[x509.Certificate, ...]:
    if _BEGIN_CERT not in data:
        if _PRIVATE_KEY in data or (key_given and not data):
            raise CertificateRefused(
                "There is a private key but no certificate: paste the certificate chain "
                "(PEM blocks beginning with -----BEGIN CERTIFICATE-----) beside its key."
            )
        if not data.strip():
            raise CertificateRefused(
                "No certificate: paste the certificate chain (PEM, beginning with "
                "-----BEGIN CERTIFICATE-----)."
            )
        raise CertificateRefused(
            "The certificate is not in PEM form: expected blocks beginning with "
            "-----BEGIN CERTIFICATE----- (convert DER with `openssl x509 -inform der`)."
        )
    count = data.count(_BEGIN_CERT)
    if count > settings.max_chain_certificates:
        raise CertificateRefused(
            f"The chain holds {count} certificates; at most "
            f"{settings.max_chain_certificates} are accepted ([tls] max_chain_certificates)."
        )
    try:
        chain = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise CertificateRefused(
            f"The certificate chain is malformed PEM and could not be read ({exc}). Paste "
            "the files as they are, every -----BEGIN/-----END line included."
        ) from None
    if len(chain) != count:
        raise CertificateRefused(
            f"Only {len(chain)} of the {count} certificate blocks could be read: the PEM is "
            "malformed."
        )
    return tuple(chain)


def _parse_key(
    data: bytes, settings: TlsSettings
) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
    if _PRIVATE_KEY not in data:
        if not data.strip():
            raise CertificateRefused(
                "No private key: paste the key (PEM, -----BEGIN PRIVATE KEY-----) that "
                "belongs to the certificate."
            )
        raise CertificateRefused(
            "The private key is not in PEM form: expected a block beginning with "
            "-----BEGIN PRIVATE KEY----- (or RSA/EC PRIVATE KEY)."
        )
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise CertificateRefused(
            "The private key is protected by a passphrase, which a server cannot type: "
            "remove it (`openssl pkey -in key.pem -out plain-key.pem`) and upload that."
        ) from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise CertificateRefused(f"The private key is malformed PEM ({exc}).") from None
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < settings.min_rsa_bits:
            raise CertificateRefused(
                f"The RSA key has {key.key_size} bits; at least {settings.min_rsa_bits} are "
                "needed ([tls] min_rsa_bits)."
            )
        return key
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key
    raise CertificateRefused("Only RSA and ECDSA keys are accepted (most clients know no other).")


def _spki(public: object) -> bytes:
    if isinstance(public, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        return public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    return b""


def _issued_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    if child.issuer != parent.subject:
        return False
    try:
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _check_order(chain: Sequence[x509.Certificate]) -> None:
    for i in range(len(chain) - 1):
        child, parent = chain[i], chain[i + 1]
        if _issued_by(child, parent):
            continue
        elsewhere = [j for j, c in enumerate(chain) if j != i + 1 and _issued_by(child, c)]
        if elsewhere:
            raise CertificateRefused(
                f"The chain is out of order: certificate {i + 1} ({_who(child)}) is issued by "
                f"certificate {elsewhere[0] + 1}, which must come right after it. Order: the "
                "server's certificate first, then each issuer."
            )
        raise CertificateRefused(
            f"The chain is broken: certificate {i + 2} ({_who(parent)}) did not issue "
            f"certificate {i + 1} ({_who(child)}). Use the chain file your CA provides."
        )


def _check_leaf(leaf: x509.Certificate) -> None:
    try:
        basic = leaf.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        basic = None
    if basic is not None and basic.ca:
        raise CertificateRefused(
            f"The first certificate ({_who(leaf)}) is a CA certificate; the server's own "
            "certificate must come first."
        )
    try:
        usage = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return
    if ExtendedKeyUsageOID.SERVER_AUTH not in usage:
        raise CertificateRefused(
            f"The certificate ({_who(leaf)}) is not for TLS servers (its extended key usage "
            "lacks serverAuth)."
        )


def _check_dates(chain: Sequence[x509.Certificate], now: datetime) -> None:
    for number, cert in enumerate(chain, start=1):
        place = "The certificate" if number == 1 else f"Certificate {number} of the chain"
        if cert.not_valid_after_utc <= now:
            raise CertificateRefused(
                f"{place} ({_who(cert)}) expired on {_day(cert.not_valid_after_utc)}: "
                "renew it and upload the new one."
            )
        if cert.not_valid_before_utc > now:
            raise CertificateRefused(
                f"{place} ({_who(cert)}) is not valid until "
                f"{_day(cert.not_valid_before_utc)}; check this server's clock or upload it "
                "then."
            )


def check_upload(
    chain_pem: str,
    key_pem: str,
    required_names: Sequence[str],
    *,
    now: datetime,
    settings: TlsSettings,
    purpose: str = "",
) -> CheckedUpload:
    """Check an uploaded chain and key; `CertificateRefused` says what is wrong.

    A key pasted into the certificate box with the chain (one combined file)
    is taken from there when the key box is empty.
    """
    chain_data = chain_pem.strip().encode("utf-8", "replace")
    key_data = key_pem.strip().encode("utf-8", "replace")
    if not key_data and _BEGIN_CERT in chain_data and _PRIVATE_KEY in chain_data:
        key_data = chain_data
    chain = _parse_chain(chain_data, settings, key_given=bool(key_data))
    key = _parse_key(key_data, settings)
    leaf = chain[0]
    own = _spki(key.public_key())
    if _spki(leaf.public_key()) != own:
        matching = [i for i, c in enumerate(chain) if _spki(c.public_key()) == own]
        if matching:
            raise CertificateRefused(
                f"The chain is out of order: the key belongs to certificate {matching[0] + 1} "
                f"({_who(chain[matching[0]])}); the server's certificate must come first."
            )
        raise CertificateRefused(
            f"The private key does not match the certificate ({_who(leaf)}): upload the key "
            "it was issued for. Nothing was changed."
        )
    _check_leaf(leaf)
    _check_order(chain)
    _check_dates(chain, now)
    names = _names(leaf)
    if not names:
        raise CertificateRefused(
            f"The certificate ({_who(leaf)}) has no subjectAltName: clients check host names "
            "there only (RFC 6125)."
        )
    missing = [n for n in required_names if not any(match_host(p, n) for p in names)]
    if missing:
        raise CertificateRefused(
            f"The certificate does not cover {', '.join(missing)}"
            + (f" ({purpose})" if purpose else "")
            + f"; it names {', '.join(names)}."
        )
    return CheckedUpload(chain, key, names)


def expiry_level(cert: Certificate, now: datetime, settings: TlsSettings) -> str:
    """``expired``, ``critical``, ``warning`` or ``""`` (far from its end)."""
    if cert.not_after <= now:
        return "expired"
    if cert.expires_within_at(now, settings.expiry_critical_days):
        return "critical"
    if cert.expires_within_at(now, settings.expiry_warning_days):
        return "warning"
    return ""


def _describe(cert: Certificate) -> str:
    names = ", ".join(cert.names[:3]) + (" …" if len(cert.names) > 3 else "")
    return f"The certificate {cert.stem} ({names or cert.subject})"


def certificate_warnings(
    certs: CertStore, now: datetime, settings: TlsSettings
) -> list[AdminWarning]:
    """Dashboard warnings for certificates near or past their expiry, most urgent first."""
    found: list[tuple[datetime, AdminWarning]] = []
    for cert in certs.certificates:
        level = expiry_level(cert, now, settings)
        if not level:
            continue
        if level == "expired":
            text = f"{_describe(cert)} expired on {_day(cert.not_after)}; clients refuse it."
        else:
            days = max(0, (cert.not_after - now).days)
            text = f"{_describe(cert)} expires in {days} days, on {_day(cert.not_after)}."
        severity = Level.WARNING if level == "warning" else Level.CRITICAL
        found.append((cert.not_after, AdminWarning(severity, text, PAGE)))
    return [w for _, w in sorted(found, key=lambda pair: pair[0])]


class CertificateAdmin:
    """Install and remove certificates of the data folder; watch expiry."""

    def __init__(self, certs: CertStore, store: Store, config: Config, clock: Clock) -> None:
        self.certs = certs
        self._store = store
        self._config = config
        self._clock = clock
        self._lock = asyncio.Lock()

    @property
    def settings(self) -> TlsSettings:
        return self._config.tls

    def node_host_names(self) -> tuple[str, ...]:
        tls = self._config.tls
        if tls.host_names:
            return tuple(tls.host_names)
        return (self._config.smtp.hostname or self._config.node,)

    def domain_host_names(self, domain: str) -> tuple[str, ...]:
        return tuple(t.replace("{domain}", domain) for t in self._config.tls.domain_host_names)

    async def required_names(self, target: str) -> tuple[str, str, tuple[str, ...]]:
        """(file stem, what it is for, the names it must cover) of an install target."""
        if target == NODE:
            return NODE, "this node's host names", self.node_host_names()
        try:
            domain = normalise_domain(target)
        except InvalidName:
            raise CertificateRefused(f"{target!r} is neither this node nor a domain.") from None
        if domain in (NODE, SELF_SIGNED_STEM):
            raise CertificateRefused(f"{domain!r} cannot be a certificate's name here.")
        await self._store.read(self._store.directory.domain, domain)  # NotFound if not hosted
        purpose = f"domain {domain}: its mail and XMPP host names"
        return domain, purpose, self.domain_host_names(domain)

    async def warnings(self) -> list[AdminWarning]:
        """A dashboard warning source (see `roost.control.admin_warnings`)."""
        return certificate_warnings(self.certs, self._clock.now(), self.settings)

    def _folder(self) -> Path:
        folder = self.certs.folder
        if folder is None:
            raise CertificateRefused("This server's certificates are not kept in a folder.")
        return folder

    async def install(self, actor: Actor, target: str, chain_pem: str, key_pem: str) -> Certificate:
        """Check, write ``tls/NAME.pem`` and serve it from the next connection on."""
        stem, purpose, required = await self.required_names(target)
        try:
            checked = check_upload(
                chain_pem,
                key_pem,
                required,
                now=self._clock.now(),
                settings=self.settings,
                purpose=purpose,
            )
        except CertificateRefused as exc:
            await self._event(actor, stem, "upload-refused", None, None, str(exc))
            raise
        folder = self._folder()
        async with self._lock:
            previous = self._current(stem)
            files = [folder / f"{stem}{suffix}" for suffix in (".pem", ".crt", ".key")]
            saved = {p: p.read_bytes() for p in files if p.exists()}
            try:
                await asyncio.to_thread(self._write, folder, stem, checked.pem(), files)
                self.certs.reload()
            except (OSError, StartupError) as exc:
                await asyncio.to_thread(self._restore, files, saved)
                self._reload_quietly()
                message = f"The certificate could not be installed: {_reason(exc)}"
                await self._event(actor, stem, "upload-refused", None, None, message)
                raise CertificateRefused(message) from exc
            installed = self._current(stem)
        if installed is None:  # a file named in the config shadows it
            raise CertificateRefused(f"{stem}.pem was written but is not served.")
        await self._event(
            actor,
            stem,
            "install",
            previous.fingerprint_sha256[:16] if previous else None,
            installed.fingerprint_sha256[:16],
            f"names {', '.join(installed.names)}; expires {_day(installed.not_after)}",
        )
        log.info("[certs] %s installed %s for %s", actor.name, stem, ", ".join(installed.names))
        return installed

    async def remove(self, actor: Actor, stem: str) -> Certificate:
        """Stop serving an installed certificate (never the generated self-signed one)."""
        folder = self._folder()
        async with self._lock:
            current = self._current(stem)
            if current is None or current.cert_path.parent != folder:
                raise CertificateRefused(f"No installed certificate is named {stem!r}.")
            if stem == SELF_SIGNED_STEM and current.self_signed:
                raise CertificateRefused(
                    "The self-signed certificate is the fallback of last resort; it stays."
                )
            if len(self.certs.certificates) == 1:
                raise CertificateRefused(
                    "This is the only certificate: install another one before removing it."
                )
            files = list({current.cert_path, current.key_path})
            saved = {p: p.read_bytes() for p in files if p.exists()}
            try:
                await asyncio.to_thread(_unlink, files)
                self.certs.reload()
            except (OSError, StartupError) as exc:
                await asyncio.to_thread(self._restore, files, saved)
                self._reload_quietly()
                raise CertificateRefused(f"It could not be removed: {_reason(exc)}") from exc
        await self._event(actor, stem, "remove", current.fingerprint_sha256[:16], "removed", None)
        return current

    async def check_expiry(self) -> int:
        """Record an event for each certificate that entered a window; returns how many."""
        now = self._clock.now()
        recorded = 0
        for cert in self.certs.certificates:
            level = expiry_level(cert, now, self.settings)
            key = _EXPIRY_KEY + cert.fingerprint_sha256
            seen = await self._store.read(self._store.settings.get, key)
            before = seen if isinstance(seen, str) and seen in _RANK else ""
            if _RANK[level] <= _RANK[before]:
                continue
            if level == "expired":
                reason = f"{', '.join(cert.names)}: expired on {_day(cert.not_after)}"
            else:
                days = max(0, (cert.not_after - now).days)
                reason = f"{', '.join(cert.names)}: expires in {days} days ({_day(cert.not_after)})"
            event = NewEvent(
                object=f"certificate:{cert.stem}",
                action="expired" if level == "expired" else "expiring",
                actor=SYSTEM_ACTOR,
                old_state=before or "valid",
                new_state=level,
                reason=reason,
            )

            async def work(tx: Tx, event: NewEvent = event, key: str = key) -> None:
                await self._store.events.add(tx, event)
                await self._store.settings.set(tx, key, event.new_state)

            await self._store.write(work)
            log.warning("[certs] certificate %s for %s", cert.stem, reason)
            recorded += 1
        return recorded

    # --- helpers

    def _current(self, stem: str) -> Certificate | None:
        folder = self.certs.folder
        for cert in self.certs.certificates:
            if cert.stem == stem and cert.cert_path.parent == folder:
                return cert
        return None

    @staticmethod
    def _write(folder: Path, stem: str, pem: bytes, files: Sequence[Path]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        write_atomically(folder / f"{stem}.pem", pem, _KEY_MODE)
        # An older pair under the same name would be served beside the new file.
        _unlink([p for p in files if p.suffix != ".pem"])

    @staticmethod
    def _restore(files: Sequence[Path], saved: dict[Path, bytes]) -> None:
        for path in files:
            if path in saved:
                write_atomically(path, saved[path], _KEY_MODE)
            else:
                path.unlink(missing_ok=True)

    def _reload_quietly(self) -> None:
        try:
            self.certs.reload()
        except StartupError:
            log.exception("[certs] reloading the previous certificates failed")

    async def _event(
        self,
        actor: Actor,
        stem: str,
        action: str,
        old: str | None,
        new: str | None,
        reason: str | None,
    ) -> None:
        event = NewEvent(
            object=f"certificate:{stem}",
            action=action,
            actor=actor.name,
            old_state=old,
            new_state=new,
            source_address=actor.source_address,
            reason=reason,
        )
        await self._store.write(self._store.events.add, event)


def _unlink(paths: Sequence[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
