"""DKIM signing of outbound mail (RFC 6376 §5; Ed25519 by RFC 8463).

A domain with keys gets two signatures, RSA-SHA256 and Ed25519-SHA256, so
that verifiers that know only RSA still pass it (RFC 8463 §5). Both use
relaxed/relaxed canonicalisation, which survives the re-folding and
white-space changes relays make (RFC 6376 §3.4).

Signing hashes the whole message: callers on the event loop run `sign` in a
thread (`asyncio.to_thread`).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import dkim

from roost.control.mailauth.headers import fields, split_message
from roost.control.mailauth.keys import (
    DKIM_FOLDER,
    DkimKeyError,
    SigningKey,
    normalize_domain,
    signing_keys,
)

log = logging.getLogger(__name__)

SIGNED_FIELDS = frozenset(
    {
        "from",
        "to",
        "cc",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "content-type",
        "reply-to",
        "in-reply-to",
        "references",
    }
)
OVERSIGNED_FIELDS = ("from",)
"""Listed once more than they occur, so that no second From can be added
without breaking the signature (RFC 6376 §8.15)."""

_ALGORITHM = {"rsa": b"rsa-sha256", "ed25519": b"ed25519-sha256"}
_Stamp = tuple[tuple[str, int, int], ...]


class DkimSigner:
    """Signs with the keys under `data/dkim`; reads them again when the files change."""

    def __init__(self, data_dir: Path) -> None:
        self._root = data_dir / DKIM_FOLDER
        self._cache: dict[str, tuple[_Stamp, tuple[SigningKey, ...]]] = {}

    def has_key(self, domain: str) -> bool:
        return bool(self._keys(domain))

    def sign(self, message: bytes, domain: str) -> bytes:
        """The DKIM-Signature fields to prepend to `message` (CRLF line ends);
        b"" when `domain` has no key or signing fails (logged: the message
        then goes out unsigned rather than not at all)."""
        try:
            keys = self._keys(domain)
        except DkimKeyError as exc:
            log.error("DKIM: cannot load the key of %s: %s", domain, exc)
            return b""
        if not keys:
            return b""
        header_block, _ = split_message(message)
        names = [name for name, _ in fields(header_block) if name in SIGNED_FIELDS]
        include = [n.encode("ascii") for n in [*names, *OVERSIGNED_FIELDS]]
        d = normalize_domain(domain).encode("ascii")
        out = []
        for key in keys:
            try:
                out.append(
                    dkim.sign(
                        message,
                        key.selector.encode("ascii"),
                        d,
                        key.private,
                        canonicalize=(b"relaxed", b"relaxed"),
                        signature_algorithm=_ALGORITHM[key.algorithm],
                        include_headers=include,
                        linesep=b"\r\n",
                    )
                )
            except dkim.DKIMException as exc:
                log.error("DKIM: cannot sign for %s with %s: %s", domain, key.selector, exc)
        return b"".join(out)

    def _keys(self, domain: str) -> tuple[SigningKey, ...]:
        try:
            name = normalize_domain(domain)
        except DkimKeyError:
            return ()
        folder = self._root / name
        stamp = _stamp(folder)
        if not stamp:
            return ()
        cached = self._cache.get(name)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        keys = signing_keys(folder)
        self._cache[name] = (stamp, keys)
        return keys


def _stamp(folder: Path) -> _Stamp:
    """Names, times and sizes of the files: any change means reading them again."""
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return ()
    out = []
    for entry in entries:
        try:
            st = entry.stat()
        except FileNotFoundError:
            continue
        out.append((entry.name, st.st_mtime_ns, st.st_size))
    return tuple(sorted(out))


def signer(data_dir: Path) -> DkimSigner:
    return DkimSigner(data_dir)
