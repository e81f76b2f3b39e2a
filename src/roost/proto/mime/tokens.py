"""Lexer for structured header fields (RFC 5322 §3.2, RFC 2045 §5.1).

Structured fields (addresses, Content-Type, Content-Disposition, ...) share
one lexical layer: atoms, quoted strings, comments, domain literals and
single special characters, separated by folding white space. The two
grammars differ only in which characters are special, so the lexer takes the
set as an argument. It never fails: an unterminated quoted string, comment or
literal runs to the end of the value, as lenient readers treat it.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

ADDRESS_SPECIALS = '()<>[]:;@\\,"'
"""RFC 5322 §3.2.3 specials, less "." so that dot-atoms and the obsolete
phrase `John Q. Public` (§4.1) read as words."""

MIME_SPECIALS = '()<>@,;:\\"/[]?='
"""RFC 2045 §5.1 tspecials."""


class TokenKind(enum.Enum):
    ATOM = "atom"
    QUOTED = "quoted"
    COMMENT = "comment"
    LITERAL = "literal"
    SPECIAL = "special"


@dataclass(frozen=True, slots=True)
class Token:
    """One lexical token; `text` is unquoted for QUOTED and COMMENT, keeps
    its brackets for LITERAL, and is the character for SPECIAL."""

    kind: TokenKind
    text: str
    space_before: bool


_WSP = " \t\r\n"
_ATOM_PATTERNS: dict[str, re.Pattern[str]] = {}


def _atom_pattern(specials: str) -> re.Pattern[str]:
    pattern = _ATOM_PATTERNS.get(specials)
    if pattern is None:
        pattern = re.compile(r"[^\s" + re.escape(specials) + r"]+")
        _ATOM_PATTERNS[specials] = pattern
    return pattern


def _read_quoted(value: str, pos: int, close: str) -> tuple[str, int]:
    """Text up to the unescaped `close` after `pos`, and the index after it."""
    out: list[str] = []
    n = len(value)
    while pos < n:
        ch = value[pos]
        if ch == "\\" and pos + 1 < n:
            out.append(value[pos + 1])
            pos += 2
        elif ch == close:
            return "".join(out), pos + 1
        else:
            out.append(ch)
            pos += 1
    return "".join(out), pos


def _read_comment(value: str, pos: int) -> tuple[str, int]:
    out: list[str] = []
    depth = 1
    n = len(value)
    while pos < n:
        ch = value[pos]
        if ch == "\\" and pos + 1 < n:
            out.append(value[pos + 1])
            pos += 2
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return "".join(out), pos + 1
        out.append(ch)
        pos += 1
    return "".join(out), pos


def tokenize(value: str, specials: str) -> list[Token]:
    """Split a structured header value into tokens; never raises."""
    atom = _atom_pattern(specials)
    tokens: list[Token] = []
    pos = 0
    n = len(value)
    space = False
    while pos < n:
        ch = value[pos]
        if ch in _WSP:
            space = True
            pos += 1
            continue
        if ch == '"':
            text, pos = _read_quoted(value, pos + 1, '"')
            tokens.append(Token(TokenKind.QUOTED, text, space))
        elif ch == "(":
            text, pos = _read_comment(value, pos + 1)
            tokens.append(Token(TokenKind.COMMENT, text, space))
        elif ch == "[" and "[" in specials:
            end = value.find("]", pos + 1)
            end = n if end < 0 else end + 1
            tokens.append(Token(TokenKind.LITERAL, value[pos:end], space))
            pos = end
        elif ch in specials:
            tokens.append(Token(TokenKind.SPECIAL, ch, space))
            pos += 1
        else:
            m = atom.match(value, pos)
            end = m.end() if m else pos + 1
            tokens.append(Token(TokenKind.ATOM, value[pos:end], space))
            pos = end
        space = False
    return tokens


def quote(text: str) -> str:
    """`text` as an RFC 5322 §3.2.4 quoted-string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def join_words(tokens: list[Token]) -> str:
    """Words as a phrase: one space where white space separated them."""
    out: list[str] = []
    for tok in tokens:
        if out and tok.space_before:
            out.append(" ")
        out.append(tok.text)
    return "".join(out)
