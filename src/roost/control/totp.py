"""Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP), for two-step sign-in.

An authenticator app and Roost share a random secret. Both cut time into
steps of `STEP_S` seconds since the Unix epoch, and a code is the HOTP value
of the step number: HMAC-SHA-1 of the step as an 8-octet big-endian counter,
"dynamically truncated" to 31 bits (RFC 4226 §5.3), modulo 10^digits.

`verify` accepts the steps within a window around now (RFC 6238 §5.2 allows
for clocks that drift and codes typed slowly) and returns the step that
matched, so that the caller can refuse a step it has seen already: a code is
good once. The otpauth URI is the de-facto format every authenticator app
reads (a QR code of it, or the secret typed in).
"""

from __future__ import annotations

import base64
import hmac
import secrets
import struct
from urllib.parse import quote, urlencode

STEP_S = 30
DIGITS = 6
SECRET_OCTETS = 20
"""160 bits: the length of an HMAC-SHA-1 output, as RFC 4226 §4 recommends."""
MAX_CODE_CHARS = 16
"""Longer input is refused before any work (spaces and dashes are allowed in a code)."""


def new_secret() -> str:
    """A fresh random secret in unpadded base32, as authenticator apps take it."""
    return base64.b32encode(secrets.token_bytes(SECRET_OCTETS)).decode("ascii").rstrip("=")


def _key(secret: str) -> bytes:
    text = secret.strip().replace(" ", "").upper()
    return base64.b32decode(text + "=" * (-len(text) % 8))


def hotp(key: bytes, counter: int, digits: int = DIGITS) -> str:
    """RFC 4226 §5.3: the HOTP value of `counter`."""
    digest = hmac.digest(key, struct.pack(">Q", counter), "sha1")
    offset = digest[-1] & 0x0F
    binary = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(binary % 10**digits).zfill(digits)


def step_at(unix_time: float) -> int:
    """RFC 6238 §4.2: the time step T = floor((now - T0) / X), with T0 = 0."""
    return int(unix_time // STEP_S)


def code_at(secret: str, unix_time: float) -> str:
    """The code an authenticator app shows at `unix_time`."""
    return hotp(_key(secret), step_at(unix_time))


def normalise_code(code: str) -> str | None:
    """The digits of a typed code (spaces and dashes dropped), or None if it is no code."""
    if len(code) > MAX_CODE_CHARS:
        return None
    digits = code.replace(" ", "").replace("-", "")
    if len(digits) != DIGITS or not digits.isascii() or not digits.isdigit():
        return None
    return digits


def verify(secret: str, code: str, unix_time: float, window: int) -> int | None:
    """The time step whose code `code` is, within `window` steps of now; else None.

    Every step in the window is compared in constant time, so the answer takes
    as long whichever step matched.
    """
    digits = normalise_code(code)
    if digits is None:
        return None
    key = _key(secret)
    now = step_at(unix_time)
    matched = None
    for step in range(now - window, now + window + 1):
        if hmac.compare_digest(hotp(key, step), digits) and matched is None:
            matched = step
    return matched


def otpauth_uri(secret: str, issuer: str, account: str) -> str:
    """The `otpauth://totp/` URI an authenticator app reads (from a QR code or a link)."""
    label = quote(f"{issuer}:{account}", safe="")
    query = urlencode(
        {
            "secret": secret,
            "issuer": issuer,
            "algorithm": "SHA1",
            "digits": DIGITS,
            "period": STEP_S,
        },
        quote_via=quote,
    )
    return f"otpauth://totp/{label}?{query}"
