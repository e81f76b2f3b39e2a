"""vCard content lines as text: read them without losing a byte, write new ones.

The webmail edits a card that another client made (Thunderbird, DAVx5,
Apple Contacts), so what it does not understand must come back as it came:
a line it does not change is written back exactly as it was read (unfolded
and folded again, RFC 6350 §3.2), with its group (`item1.EMAIL`), its
parameters and its value untouched. vobject reads and validates (see
`roost.control.groupware.parse_vcard`) but writes a card back in its own
way, so the lines are kept here instead.

A content line (RFC 6350 §3.3, RFC 2426 §4):

    [group "."] name *(";" param) ":" value

Parameter values may be quoted (a quoted value may hold ";" ":" ","); text
values escape backslash, newline, comma and semicolon (RFC 6350 §3.4), and
structured values (N, ADR, ORG) separate their parts with ";" and a part's
list items with ",".
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

FOLD_OCTETS = 75
"""RFC 6350 §3.2: lines SHOULD NOT be longer than 75 octets, line break excluded."""


@dataclass(frozen=True, slots=True)
class Prop:
    """One content line of a card, as read."""

    group: str
    name: str
    """Upper case."""
    params: tuple[tuple[str, str], ...]
    """(NAME upper case, value as written, quotes removed)."""
    value: str
    """The value as written (escaped)."""
    line: str
    """The whole line, unfolded, as read."""
    raw: str = ""
    """The line as read, folded as it was (CRLF between its physical lines)."""

    def param(self, name: str) -> list[str]:
        """Every value of a parameter (comma lists split), upper-case name."""
        out: list[str] = []
        for key, value in self.params:
            if key == name:
                out += [v for v in split_unquoted(value, ",") if v]
        return out

    @property
    def types(self) -> list[str]:
        """TYPE values, lower case (vCard 2.1's bare `;WORK` counts too)."""
        found = [t.lower().strip('"') for t in self.param("TYPE")]
        found += [key.lower() for key, value in self.params if value == "" and key.isalpha()]
        return found

    @property
    def text(self) -> str:
        return unescape(self.value)

    @property
    def parts(self) -> list[str]:
        """A structured value's parts, unescaped (list items joined by ", ")."""
        return [", ".join(unescape(i) for i in split_escaped(p, ",")) for p in self.structure]

    @property
    def structure(self) -> list[str]:
        """A structured value's parts, still escaped."""
        return split_escaped(self.value, ";")

    @property
    def items(self) -> list[str]:
        """A list value (CATEGORIES, NICKNAME), unescaped."""
        return [unescape(i).strip() for i in split_escaped(self.value, ",") if i.strip()]


def unfold(text: str) -> list[str]:
    """The logical lines of a text: folded lines joined, empty lines dropped."""
    return [line for line, _raw in unfold_raw(text)]


def unfold_raw(text: str) -> list[tuple[str, str]]:
    """Each logical line with its physical lines as read (joined by CRLF)."""
    lines: list[tuple[str, list[str]]] = []
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if raw[:1] in (" ", "\t") and lines:
            lines[-1] = (lines[-1][0] + raw[1:], [*lines[-1][1], raw])
        elif raw.strip():
            lines.append((raw, [raw]))
    return [(line, "\r\n".join(raws)) for line, raws in lines]


def parse_line(line: str, raw: str = "") -> Prop | None:
    """One unfolded content line; None when it has no name and colon."""
    head_end = _unquoted_colon(line)
    if head_end < 0:
        return None
    head, value = line[:head_end], line[head_end + 1 :]
    pieces = split_unquoted(head, ";")
    name = pieces[0].strip()
    group = ""
    if "." in name:
        group, _, name = name.rpartition(".")
    if not name or not all(c.isalnum() or c == "-" for c in name):
        return None
    params: list[tuple[str, str]] = []
    for piece in pieces[1:]:
        key, equals, written = piece.partition("=")
        if not equals:
            params.append((key.strip().upper(), ""))
            continue
        params.append((key.strip().upper(), _unquote_list(written)))
    return Prop(group, name.upper(), tuple(params), value, line, raw or line)


def parse_props(text: str) -> list[Prop]:
    """The content lines of one card (BEGIN and END included), unreadable lines left out."""
    found = (parse_line(line, raw) for line, raw in unfold_raw(text))
    return [p for p in found if p is not None]


def split_cards(text: str) -> Iterator[str]:
    """Each BEGIN:VCARD … END:VCARD block of a text, as written (nested cards, as
    vCard 2.1's AGENT holds, stay inside their card)."""
    depth = 0
    current: list[str] = []
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        word = raw.strip().upper()
        if depth == 0 and word != "BEGIN:VCARD":
            continue
        current.append(raw)
        if word == "BEGIN:VCARD":
            depth += 1
        elif word == "END:VCARD":
            depth -= 1
            if depth == 0:
                yield "\r\n".join(current) + "\r\n"
                current = []
    if current:
        yield "\r\n".join(current) + "\r\n"


# --- values


def escape(text: str) -> str:
    """A TEXT value (RFC 6350 §3.4)."""
    return (
        text.replace("\\", "\\\\")
        .replace("\r\n", "\n")
        .replace("\r", "\n")
        .replace("\n", "\\n")
        .replace(",", "\\,")
        .replace(";", "\\;")
    )


def unescape(text: str) -> str:
    out: list[str] = []
    chars = iter(text)
    for char in chars:
        if char != "\\":
            out.append(char)
            continue
        following = next(chars, "")
        out.append("\n" if following in ("n", "N") else following)
    return "".join(out)


def structured(parts: Sequence[str]) -> str:
    """A structured value from escaped parts, trailing empty parts kept (N has 5, ADR 7)."""
    return ";".join(parts)


def split_escaped(value: str, separator: str) -> list[str]:
    """Split on a separator that no backslash escapes."""
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for char in value:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            current.append(char)
            escaped = True
        elif char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def split_unquoted(value: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in value:
        if char == '"':
            quoted = not quoted
            current.append(char)
        elif char == separator and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _unquoted_colon(line: str) -> int:
    quoted = False
    for index, char in enumerate(line):
        if char == '"':
            quoted = not quoted
        elif char == ":" and not quoted:
            return index
    return -1


def _unquote_list(raw: str) -> str:
    return ",".join(v.strip().strip('"') for v in split_unquoted(raw, ","))


# --- writing


def param_value(value: str) -> str:
    """A parameter value, quoted when it holds a character that needs it (RFC 6350 §5)."""
    cleaned = value.replace('"', "'").replace("\r", " ").replace("\n", " ")
    if any(c in cleaned for c in ";:,"):
        return f'"{cleaned}"'
    return cleaned


def format_line(
    name: str, value: str, params: Sequence[tuple[str, str]] = (), group: str = ""
) -> str:
    """One unfolded content line; `value` is already escaped."""
    head = f"{group}.{name}" if group else name
    for key, raw in params:
        if raw == "":
            head += f";{key}"
            continue
        head += f";{key}=" + ",".join(param_value(v) for v in raw.split(","))
    return f"{head}:{value}"


def fold(line: str) -> str:
    """A logical line folded at 75 octets, never inside a UTF-8 sequence, CRLF ended."""
    data = line.encode("utf-8", "surrogatepass")
    if len(data) <= FOLD_OCTETS:
        return line + "\r\n"
    out: list[str] = []
    current = ""
    size = 0
    limit = FOLD_OCTETS
    for char in line:
        width = len(char.encode("utf-8", "surrogatepass"))
        if size + width > limit:
            out.append(current)
            current, size, limit = "", 0, FOLD_OCTETS - 1
        current += char
        size += width
    out.append(current)
    return "\r\n ".join(out) + "\r\n"


def card_text(lines: Sequence[str | Prop]) -> str:
    """A card from its lines (BEGIN and END included): a new line (text) folded,
    a line as read (a `Prop`) exactly as it was."""
    return "".join(fold(line) if isinstance(line, str) else line.raw + "\r\n" for line in lines)
