"""Secrets Roost keeps in its data folder (0600), made on first use.

The SASL secret makes the fake SCRAM exchange for unknown users look the same
across restarts (RFC 5802 §5.1), so it must persist.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

SECRET_FOLDER = "secrets"  # noqa: S105 (a folder name)
SECRET_OCTETS = 32


def load_or_create(data_dir: Path, name: str) -> bytes:
    folder = data_dir / SECRET_FOLDER
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"{name}.key"
    try:
        data = path.read_bytes()
        if len(data) >= SECRET_OCTETS:
            return data
    except FileNotFoundError:
        pass
    data = secrets.token_bytes(SECRET_OCTETS)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return data
