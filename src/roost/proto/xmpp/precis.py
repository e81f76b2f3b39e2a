"""PRECIS string preparation for JIDs, with the standard library only.

RFC 7622 prepares the localpart with the UsernameCaseMapped profile and
the resourcepart with the OpaqueString profile of RFC 8265, both built on
the string classes of RFC 8264; the domainpart follows IDNA2008 (RFC
5890–5893). No PRECIS or IDNA2008 library is used: this module derives
what it needs from ``unicodedata``. Where that is not exact, it errs on
the side of refusing. The approximations:

- Unicode version: ``unicodedata`` of the running Python (14.0 on 3.11),
  not the version a PRECIS table was computed for. A code point unassigned
  there is refused (RFC 8264 "Unassigned").
- Contextual rules (RFC 5892 Appendix A): code points that are CONTEXTJ
  (zero-width joiner and non-joiner) or CONTEXTO (middle dot, Greek
  keraia, Hebrew geresh and gershayim, katakana middle dot, Arabic-Indic
  digits) are refused everywhere, instead of being allowed in their
  contexts. They are allowed in resourceparts, whose FreeformClass has no
  such rules for them.
- The exceptions of RFC 5892 §2.6 are applied from a short table.
- ``Default_Ignorable_Code_Point`` (RFC 8264 PrecisIgnorableProperties) is not exposed by
  ``unicodedata``; the ranges below are copied from Unicode's
  DerivedCoreProperties and cover Unicode 15.
- Domain labels (RFC 5891 §5.4): a U-label is checked like an
  IdentifierClass string (letters, digits, combining marks, no
  compatibility characters) plus the hyphen rules and the Bidi Rule;
  A-labels are decoded with the stdlib ``punycode`` codec and converted to
  U-labels, so each domain has one form. UTS #46 mappings other than case,
  width and the ideographic full stops are not applied.
"""

from __future__ import annotations

import unicodedata

from roost.proto.xmpp.errors import JidMalformed

# RFC 8264 PrecisIgnorableProperties, via Unicode's DerivedCoreProperties.
_DEFAULT_IGNORABLE = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)
# RFC 5892 §2.9 OldHangulJamo: Hangul_Syllable_Type L, V or T.
_OLD_HANGUL_JAMO = ((0x1100, 0x11FF), (0xA960, 0xA97F), (0xD7B0, 0xD7FF))
# RFC 5892 §2.6 exceptions.
_EXCEPTIONS_PVALID = frozenset("\u00df\u03c2\u06fd\u06fe\u0f0b\u3007")
_EXCEPTIONS_DISALLOWED = frozenset("\u0640\u07fa\u302e\u302f\u3031\u3032\u3033\u3034\u3035\u303b")
# CONTEXTJ (RFC 5892 §2.8) and CONTEXTO (§2.6) code points, refused here.
_CONTEXTUAL = frozenset(
    "\u200c\u200d\u00b7\u0375\u05f3\u05f4\u30fb"
    + "".join(map(chr, range(0x0660, 0x066A)))
    + "".join(map(chr, range(0x06F0, 0x06FA)))
)

_LETTER_DIGITS = frozenset(("Ll", "Lu", "Lo", "Nd", "Lm", "Mn", "Mc"))
"""RFC 8264 LetterDigits."""
_FREEFORM_OTHER = frozenset(
    {"Lt", "Nl", "No", "Me", "Zs", "Sm", "Sc", "Sk", "So"}
    | {"Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po"}
)
"""RFC 8264 OtherLetterDigits, Spaces, Symbols and Punctuation: valid in the
FreeformClass, not in the IdentifierClass."""

_RTL = frozenset(("R", "AL", "AN"))
_BIDI_RTL_ALLOWED = frozenset(("R", "AL", "AN", "EN", "ES", "CS", "ET", "ON", "BN", "NSM"))
_BIDI_LTR_ALLOWED = frozenset(("L", "EN", "ES", "CS", "ET", "ON", "BN", "NSM"))

MAX_PART_OCTETS = 1023
"""RFC 7622 §3.2–3.4: each part of a JID is 1 to 1023 octets."""

MAX_LABEL_OCTETS = 63
"""RFC 1035 §2.3.4, for the A-label form of each domain label."""

_LOCALPART_FORBIDDEN = frozenset("\"&'/:<>@")
"""RFC 7622 §3.3.1: characters the localpart may not hold."""


def _in(ranges: tuple[tuple[int, int], ...], code: int) -> bool:
    return any(low <= code <= high for low, high in ranges)


def _never(char: str) -> bool:
    """Disallowed in every class: unassigned, controls, ignorable, old
    Hangul jamo (RFC 8264 §8) and the disallowed exceptions."""
    code = ord(char)
    return (
        unicodedata.category(char) in ("Cn", "Cc", "Cs")
        or char in _EXCEPTIONS_DISALLOWED
        or _in(_DEFAULT_IGNORABLE, code)
        or _in(_OLD_HANGUL_JAMO, code)
    )


def _has_compat(char: str) -> bool:
    """RFC 8264 HasCompat: NFKC changes the code point."""
    return unicodedata.normalize("NFKC", char) != char


def identifier_ok(char: str) -> bool:
    """Is ``char`` PVALID in the IdentifierClass (RFC 8264 §4.2)?"""
    if "\x21" <= char <= "\x7e" or char in _EXCEPTIONS_PVALID:
        return True
    if _never(char) or char in _CONTEXTUAL or _has_compat(char):
        return False
    return unicodedata.category(char) in _LETTER_DIGITS


def freeform_ok(char: str) -> bool:
    """Is ``char`` valid in the FreeformClass (RFC 8264 §4.3)?"""
    if "\x20" <= char <= "\x7e" or char in _EXCEPTIONS_PVALID:
        return True
    if _never(char):
        return False
    category = unicodedata.category(char)
    return category in _LETTER_DIGITS or category in _FREEFORM_OTHER or _has_compat(char)


def width_map(text: str) -> str:
    """Map fullwidth and halfwidth characters to their decompositions
    (the Width Mapping Rule of RFC 8265 §3.3.2)."""
    if text.isascii():
        return text
    return "".join(_narrow(char) for char in text)


def _narrow(char: str) -> str:
    decomposition = unicodedata.decomposition(char)
    if decomposition.startswith(("<wide> ", "<narrow> ")):
        return "".join(chr(int(code, 16)) for code in decomposition.split()[1:])
    return char


def bidi_rule_ok(text: str) -> bool:
    """The Bidi Rule of RFC 5893 §2, for strings with right-to-left
    characters; other strings pass (RFC 8265 §3.3.2 Directionality Rule)."""
    classes = [unicodedata.bidirectional(char) for char in text]
    if not _RTL.intersection(classes):
        return True
    significant = classes[:]
    while significant and significant[-1] == "NSM":
        significant.pop()
    if not significant:
        return False
    if classes[0] in ("R", "AL"):
        return (
            all(c in _BIDI_RTL_ALLOWED for c in classes)
            and significant[-1] in ("R", "AL", "EN", "AN")
            and not ("EN" in classes and "AN" in classes)
        )
    if classes[0] == "L":
        return all(c in _BIDI_LTR_ALLOWED for c in classes) and significant[-1] in ("L", "EN")
    return False


def _check_length(text: str, part: str) -> None:
    if not text:
        raise JidMalformed(f"the {part} is empty")
    if len(text.encode("utf-8")) > MAX_PART_OCTETS:
        raise JidMalformed(f"the {part} is longer than {MAX_PART_OCTETS} octets")


def prepare_localpart(text: str) -> str:
    """Enforce UsernameCaseMapped (RFC 8265 §3.3) and RFC 7622 §3.3.1.

    Raises:
        JidMalformed: the string cannot be a localpart.
    """
    if text.isascii():
        prepared = text.lower()
    else:
        prepared = unicodedata.normalize("NFC", width_map(text).lower())
        if not bidi_rule_ok(prepared):
            raise JidMalformed("the localpart breaks the Bidi Rule (RFC 5893)")
    _check_length(prepared, "localpart")
    for char in prepared:
        if char in _LOCALPART_FORBIDDEN:
            raise JidMalformed(f"the localpart may not contain {char!r} (RFC 7622 §3.3.1)")
        if not identifier_ok(char):
            raise JidMalformed(f"the localpart may not contain U+{ord(char):04X}")
    return prepared


def prepare_resourcepart(text: str) -> str:
    """Enforce OpaqueString (RFC 8265 §4.2), as RFC 7622 §3.4 says.

    Non-ASCII spaces become U+0020, then NFC; no case or width mapping.

    Raises:
        JidMalformed: the string cannot be a resourcepart.
    """
    if not text.isascii():
        text = "".join(" " if unicodedata.category(char) == "Zs" else char for char in text)
        text = unicodedata.normalize("NFC", text)
    _check_length(text, "resourcepart")
    for char in text:
        if not freeform_ok(char):
            raise JidMalformed(f"the resourcepart may not contain U+{ord(char):04X}")
    return text
