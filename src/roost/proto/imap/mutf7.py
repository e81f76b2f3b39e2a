"""Modified UTF-7 for mailbox names (RFC 3501 §5.1.3, RFC 9051 §5.1.3 and Appendix A).

An IMAP4rev1 client that has not enabled UTF8=ACCEPT (RFC 6855) or
IMAP4rev2 names mailboxes in modified UTF-7: printable US-ASCII stands for
itself except ``&``, which is written ``&-``; any other run of characters
is UTF-16BE in base64 with ``,`` in place of ``/``, no padding, between
``&`` and ``-``.

Decoding is strict, as the RFC asks of a server: a base64 run must decode
to whole UTF-16 code units with zero padding bits and valid surrogate
pairs, may not encode a character that could stand for itself, and the
name may hold only printable ASCII outside the runs. Every violation raises
`MUtf7Error`, which the parser turns into a BAD.
"""

from __future__ import annotations

import base64
import binascii
import re

from roost.proto.imap.errors import ImapError

_DIRECT = re.compile(r"[\x20-\x25\x27-\x7e]+")
"""Printable US-ASCII except ``&``: characters that stand for themselves."""

_SHIFTED = re.compile(r"[^\x20-\x7e]+")
_RUN = re.compile(r"&([A-Za-z0-9+,]*)-")
_PRINTABLE = re.compile(r"[\x20-\x7e]")


class MUtf7Error(ImapError):
    """A mailbox name that is not valid modified UTF-7."""


def encode(name: str) -> str:
    """``name`` in modified UTF-7 (RFC 3501 §5.1.3).

    Lone surrogates cannot be encoded; a name that came from decoded UTF-8
    has none. They raise `MUtf7Error`.
    """
    if _DIRECT.fullmatch(name) or not name:
        return name
    out: list[str] = []
    pos = 0
    for run in _SHIFTED.finditer(name):
        out.append(name[pos : run.start()].replace("&", "&-"))
        out.append("&" + _encode_run(run.group()) + "-")
        pos = run.end()
    out.append(name[pos:].replace("&", "&-"))
    return "".join(out)


def _encode_run(text: str) -> str:
    try:
        raw = text.encode("utf-16-be")
    except UnicodeEncodeError as exc:
        raise MUtf7Error("a mailbox name holds a lone surrogate") from exc
    return base64.b64encode(raw).decode("ascii").rstrip("=").replace("/", ",")


def decode(name: str) -> str:
    """The Unicode name that modified UTF-7 ``name`` stands for; strict.

    Raises `MUtf7Error` for anything RFC 3501 §5.1.3 does not allow.
    """
    if "&" not in name:
        if name and _DIRECT.fullmatch(name) is None:
            raise MUtf7Error("a mailbox name holds a character outside printable ASCII")
        return name
    out: list[str] = []
    pos = 0
    while True:
        amp = name.find("&", pos)
        direct = name[pos:] if amp < 0 else name[pos:amp]
        if direct and _DIRECT.fullmatch(direct) is None:
            raise MUtf7Error("a mailbox name holds a character outside printable ASCII")
        out.append(direct)
        if amp < 0:
            return "".join(out)
        run = _RUN.match(name, amp)
        if run is None:
            raise MUtf7Error("an '&' in a mailbox name starts no valid base64 run")
        out.append("&" if not run.group(1) else _decode_run(run.group(1)))
        pos = run.end()


def _decode_run(run: str) -> str:
    bits = len(run) * 6
    if bits % 16 >= 6:
        raise MUtf7Error("a base64 run in a mailbox name ends in the middle of a character")
    padded = run.replace(",", "/") + "=" * (-len(run) % 4)
    try:
        raw = base64.b64decode(padded, validate=True)
    except binascii.Error as exc:
        raise MUtf7Error("a base64 run in a mailbox name is malformed") from exc
    # Fewer than 6 bits are left over, so ``raw`` is whole code units; the
    # decoder ignores those bits, so a round trip shows whether they were zero.
    if base64.b64encode(raw).decode("ascii").rstrip("=").replace("/", ",") != run:
        raise MUtf7Error("a base64 run in a mailbox name has non-zero padding bits")
    try:
        text = raw.decode("utf-16-be")
    except UnicodeDecodeError as exc:
        raise MUtf7Error("a base64 run in a mailbox name is not valid UTF-16") from exc
    if _PRINTABLE.search(text):
        raise MUtf7Error("a base64 run in a mailbox name encodes printable ASCII")
    return text


def encode_mailbox(name: str, *, utf8: bool) -> str:
    """A mailbox name as the client expects it: as is once UTF-8 is on, else modified UTF-7.

    The engine calls this when it builds LIST, LSUB, STATUS and similar
    responses; the parser does the reverse for names the client sends.
    """
    return name if utf8 else encode(name)
