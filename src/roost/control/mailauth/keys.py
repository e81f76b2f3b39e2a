"""DKIM keys: files in the data folder, one pair per domain and selector.

Layout (RFC 6376 §3.6 keys, RFC 8463 for Ed25519)::

    data/dkim/<domain>/<selector>.rsa.key       PKCS#1 PEM, 0600
    data/dkim/<domain>/<selector>.ed25519.key   base64 of the 32-byte seed, 0600
    data/dkim/<domain>/active                   the selector in use

One DNS name can hold only one key record (RFC 6376 §3.6.2.2), so the two
keys of a selector are published under two DNS selectors:
`<selector>-rsa` and `<selector>-ed25519`. Keys are plain files so that the
CLI can make them whether or not Roost runs, and the signer notices new ones
without a restart.

Rotation: `generate` on a domain that has a key makes a new selector but
leaves the active one alone; publish the new records, wait for the DNS to
carry them, then `activate` the new selector.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import string
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from roost.core.errors import RoostError

DKIM_FOLDER = "dkim"
ACTIVE_FILE = "active"
RSA_BITS = 2048
"""RFC 8301 §3.2: signers MUST use at least 1024 bits and SHOULD use 2048."""
ALGORITHMS = ("rsa", "ed25519")
TXT_STRING_OCTETS = 255
"""RFC 1035 §3.3.14: one character-string of a TXT record holds at most 255 octets."""

_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_SELECTOR = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,53}[a-z0-9])?$")
"""A selector leaves room for the `-ed25519` suffix in one 63-octet label."""


class DkimKeyError(RoostError):
    """A DKIM key cannot be made, found or read."""


@dataclass(frozen=True, slots=True)
class TxtRecord:
    """A DNS TXT record to publish: the name and the value, ready to paste."""

    name: str
    value: str
    algorithm: str
    selector: str
    """The selector of the key pair (the DNS selector adds `-<algorithm>`)."""

    def zone_line(self) -> str:
        """The record as a zone-file line, the value cut into 255-octet strings."""
        chunks = [
            self.value[i : i + TXT_STRING_OCTETS]
            for i in range(0, len(self.value), TXT_STRING_OCTETS)
        ]
        quoted = " ".join(f'"{chunk}"' for chunk in chunks)
        return f"{self.name}. IN TXT ( {quoted} )"


@dataclass(frozen=True, slots=True)
class SelectorKeys:
    selector: str
    records: tuple[TxtRecord, ...]
    active: bool


@dataclass(frozen=True, slots=True)
class DomainKeys:
    domain: str
    selectors: tuple[SelectorKeys, ...]

    @property
    def active(self) -> SelectorKeys | None:
        return next((s for s in self.selectors if s.active), None)


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One private key in the form dkimpy signs with."""

    algorithm: str
    selector: str
    """The DNS selector (`s=`), with its algorithm suffix."""
    private: bytes
    """PKCS#1 PEM for RSA, the base64 seed for Ed25519."""


def dns_selector(selector: str, algorithm: str) -> str:
    return f"{selector}-{algorithm}"


def normalize_domain(domain: str) -> str:
    """The domain as an A-label name fit for a folder, or DkimKeyError."""
    name = domain.strip().rstrip(".").lower()
    try:
        name = name.encode("idna").decode("ascii") if not name.isascii() else name
    except UnicodeError as exc:
        raise DkimKeyError(f"{domain!r} is not a domain name") from exc
    labels = name.split(".")
    if len(name) > 253 or len(labels) < 2 or not all(_LABEL.match(x) for x in labels):
        raise DkimKeyError(f"{domain!r} is not a domain name")
    return name


def _check_selector(selector: str) -> str:
    name = selector.strip().lower()
    if not _SELECTOR.match(name):
        raise DkimKeyError(
            f"{selector!r} is not a selector: use letters, digits and '-' (at most 55)"
        )
    return name


def domain_folder(data_dir: Path, domain: str) -> Path:
    return data_dir / DKIM_FOLDER / normalize_domain(domain)


def key_path(folder: Path, selector: str, algorithm: str) -> Path:
    return folder / f"{selector}.{algorithm}.key"


def selectors_in(folder: Path) -> list[str]:
    """Selectors that have at least one key file, sorted."""
    if not folder.is_dir():
        return []
    found = set()
    for path in folder.iterdir():
        for algorithm in ALGORITHMS:
            suffix = f".{algorithm}.key"
            if path.name.endswith(suffix):
                found.add(path.name[: -len(suffix)])
    return sorted(found)


def active_selector(folder: Path) -> str | None:
    """The selector named in `active`, else the only one there is."""
    try:
        named = (folder / ACTIVE_FILE).read_text(encoding="ascii").strip()
    except FileNotFoundError:
        named = ""
    except (OSError, UnicodeError) as exc:
        raise DkimKeyError(f"{folder / ACTIVE_FILE}: cannot read: {exc}") from exc
    if named:
        if not _SELECTOR.match(named):
            raise DkimKeyError(f"{folder / ACTIVE_FILE}: {named!r} is not a selector")
        return named
    found = selectors_in(folder)
    return found[0] if len(found) == 1 else None


def next_selector(existing: list[str], today: date) -> str:
    """`roost<year><letter>`: the first letter not yet used this year."""
    for letter in string.ascii_lowercase:
        candidate = f"roost{today.year}{letter}"
        if candidate not in existing:
            return candidate
    raise DkimKeyError(f"all 26 selectors of {today.year} are used; name one with --selector")


def generate(
    data_dir: Path,
    domain: str,
    selector: str | None = None,
    *,
    today: date | None = None,
    rsa_bits: int = RSA_BITS,
) -> tuple[TxtRecord, ...]:
    """Make an RSA and an Ed25519 key for `domain`; returns the TXT records to publish.

    The first selector of a domain becomes active at once; a later one waits
    for `activate`, so that a rotation never signs with a key the DNS does not
    serve yet.
    """
    folder = domain_folder(data_dir, domain)
    existing = selectors_in(folder)
    name = (
        _check_selector(selector)
        if selector
        else next_selector(existing, today or datetime.now(UTC).date())
    )
    if name in existing:
        raise DkimKeyError(f"selector {name} of {folder.name} exists already")
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        _make_pair(folder, name, rsa_bits)
        if not existing:
            _write_private(folder / ACTIVE_FILE, name.encode("ascii") + b"\n")
    except OSError as exc:
        raise DkimKeyError(f"{folder}: cannot write the keys: {exc.strerror}") from exc
    return _records(folder, name)


def _make_pair(folder: Path, name: str, rsa_bits: int) -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
    rsa_pem = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    ed_key = ed25519.Ed25519PrivateKey.generate()
    ed_seed = ed_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    _write_private(key_path(folder, name, "rsa"), rsa_pem)
    _write_private(key_path(folder, name, "ed25519"), base64.b64encode(ed_seed) + b"\n")


def activate(data_dir: Path, domain: str, selector: str) -> None:
    """Sign `domain`'s mail with `selector` from now on."""
    folder = domain_folder(data_dir, domain)
    name = _check_selector(selector)
    if name not in selectors_in(folder):
        raise DkimKeyError(f"{folder.name} has no selector {name}")
    try:
        _write_private(folder / ACTIVE_FILE, name.encode("ascii") + b"\n")
    except OSError as exc:
        raise DkimKeyError(f"{folder}: cannot write {ACTIVE_FILE}: {exc.strerror}") from exc


def show(data_dir: Path, domain: str) -> DomainKeys:
    """The selectors of `domain` with the records each needs in the DNS."""
    folder = domain_folder(data_dir, domain)
    found = selectors_in(folder)
    if not found:
        raise DkimKeyError(f"{folder.name} has no DKIM key (make one with `roost dkim generate`)")
    active = active_selector(folder)
    return DomainKeys(
        folder.name,
        tuple(SelectorKeys(s, _records(folder, s), s == active) for s in found),
    )


def list_domains(data_dir: Path) -> tuple[DomainKeys, ...]:
    """Every domain that has a key, by name."""
    root = data_dir / DKIM_FOLDER
    if not root.is_dir():
        return ()
    out = []
    for folder in sorted(root.iterdir()):
        if folder.is_dir() and selectors_in(folder):
            out.append(show(data_dir, folder.name))
    return tuple(out)


def signing_keys(folder: Path) -> tuple[SigningKey, ...]:
    """The active selector's keys, in the form dkimpy signs with; () when none."""
    selector = active_selector(folder)
    if selector is None:
        return ()
    out = []
    for algorithm in ALGORITHMS:
        path = key_path(folder, selector, algorithm)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise DkimKeyError(f"{path}: cannot read: {exc.strerror}") from exc
        if algorithm == "rsa":
            private = _rsa_private(path, data).private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        else:
            seed = _ed25519_private(path, data).private_bytes(
                serialization.Encoding.Raw,
                serialization.PrivateFormat.Raw,
                serialization.NoEncryption(),
            )
            private = base64.b64encode(seed)
        out.append(SigningKey(algorithm, dns_selector(selector, algorithm), private))
    return tuple(out)


def _records(folder: Path, selector: str) -> tuple[TxtRecord, ...]:
    out = []
    for algorithm in ALGORITHMS:
        path = key_path(folder, selector, algorithm)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise DkimKeyError(f"{path}: cannot read: {exc.strerror}") from exc
        if algorithm == "rsa":
            public = (
                _rsa_private(path, data)
                .public_key()
                .public_bytes(
                    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
                )
            )
        else:
            public = (
                _ed25519_private(path, data)
                .public_key()
                .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            )
        value = f"v=DKIM1; k={algorithm}; p={base64.b64encode(public).decode('ascii')}"
        name = f"{dns_selector(selector, algorithm)}._domainkey.{folder.name}"
        out.append(TxtRecord(name, value, algorithm, selector))
    return tuple(out)


def _rsa_private(path: Path, data: bytes) -> rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise DkimKeyError(f"{path}: not an unencrypted PEM private key") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise DkimKeyError(f"{path}: not an RSA key")
    return key


def _ed25519_private(path: Path, data: bytes) -> ed25519.Ed25519PrivateKey:
    """A base64 seed (dkimpy's form) or a PEM key (`openssl genpkey -algorithm ed25519`)."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            key = serialization.load_pem_private_key(data, password=None)
            if not isinstance(key, ed25519.Ed25519PrivateKey):
                raise DkimKeyError(f"{path}: not an Ed25519 key")
            return key
        return ed25519.Ed25519PrivateKey.from_private_bytes(
            base64.b64decode(data.strip(), validate=True)
        )
    except (ValueError, TypeError) as exc:
        raise DkimKeyError(f"{path}: not an Ed25519 key (base64 seed or PEM)") from exc


def _write_private(path: Path, data: bytes) -> None:
    """Write, fsync and rename into place, readable by the owner only."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    try:
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
