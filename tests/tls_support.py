"""Test certificates for Roost's listeners, issued by a trustme CA."""

from __future__ import annotations

import ssl
from pathlib import Path

import trustme


def write_certificate(ca: trustme.CA, folder: Path) -> tuple[Path, Path]:
    """A certificate for localhost and 127.0.0.1 and its key, as files.

    fetchmail wants the name in the subject's CN too, not only in the SANs."""
    issued = ca.issue_cert("localhost", "127.0.0.1", common_name="localhost")
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / "listener.crt", folder / "listener.key"
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    return cert, key


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    """A client context that trusts the test CA."""
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context
