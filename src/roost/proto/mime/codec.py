"""`MessageStructure` as compact JSON, for the Mail store.

The Spool parses a message once at delivery and stores the result beside it;
IMAP reads it back for BODYSTRUCTURE, ENVELOPE and partial fetches. The form
is plain JSON data with short keys, defaults left out, and a version number
`v` so that a later format can still read rows written by this one:

    {"v": 1, "size": octets, "parts": [part, ...], "defects": [[kind, part, offset], ...]}
    part = {"p": parent, "c": [child, ...], "s": section, "k": kind, "d": depth,
            "hs": header_start, "bs": body_start, "be": body_end, "l": body_lines,
            "ct": [type, subtype, [param, ...], defaulted], "te": encoding,
            "id", "desc", "md5", "loc": str, "lang": [tag, ...],
            "disp": [type, [param, ...]], "env": envelope}
    param = [name, value] or [name, value, charset, language]
    envelope = {"date", "subject", "irt", "mid": str,
                "from", "sender", "reply_to", "to", "cc", "bcc": [raw, [item, ...]]}
    item = [name, adl, mailbox, host] or {"g": name, "m": [[name, adl, mailbox, host], ...]}

A part's index is its position in "parts"; its header block ends where its
body starts unless "he" says otherwise.
"""

from __future__ import annotations

import json

from roost.proto.mime.model import (
    Address,
    AddressField,
    ContentType,
    Defect,
    DefectKind,
    Disposition,
    Envelope,
    Group,
    MessageStructure,
    Parameter,
    Part,
    PartKind,
    StructureDecodeError,
)

FORMAT_VERSION = 1

_Data = dict[str, object]
_ADDRESS_KEYS = (
    ("from", "from_"),
    ("sender", "sender"),
    ("reply_to", "reply_to"),
    ("to", "to"),
    ("cc", "cc"),
    ("bcc", "bcc"),
)
_TEXT_KEYS = (
    ("date", "date"),
    ("subject", "subject"),
    ("irt", "in_reply_to"),
    ("mid", "message_id"),
)


# -- writing -----------------------------------------------------------------


def _params(params: tuple[Parameter, ...]) -> list[list[str | None]]:
    out: list[list[str | None]] = []
    for p in params:
        if p.charset is None and p.language is None:
            out.append([p.name, p.value])
        else:
            out.append([p.name, p.value, p.charset, p.language])
    return out


def _address(a: Address) -> list[str | None]:
    return [a.name, a.adl, a.mailbox, a.host]


def _address_field(f: AddressField) -> list[object]:
    items: list[object] = []
    for item in f.addresses:
        if isinstance(item, Group):
            items.append({"g": item.name, "m": [_address(m) for m in item.members]})
        else:
            items.append(_address(item))
    return [f.raw, items]


def _envelope(e: Envelope) -> _Data:
    out: _Data = {}
    for key, attr in _TEXT_KEYS:
        value = getattr(e, attr)
        if value is not None:
            out[key] = value
    for key, attr in _ADDRESS_KEYS:
        field = getattr(e, attr)
        if field is not None:
            out[key] = _address_field(field)
    return out


def _part(p: Part) -> _Data:
    ct = p.content_type
    out: _Data = {
        "p": p.parent,
        "c": list(p.children),
        "s": p.section,
        "k": p.kind.value,
        "d": p.depth,
        "hs": p.header_start,
        "bs": p.body_start,
        "be": p.body_end,
        "l": p.body_lines,
        "ct": [ct.type, ct.subtype, _params(ct.params), ct.defaulted],
    }
    if p.header_end != p.body_start:
        out["he"] = p.header_end
    if p.transfer_encoding != "7bit":
        out["te"] = p.transfer_encoding
    for key, value in (
        ("id", p.content_id),
        ("desc", p.description),
        ("md5", p.md5),
        ("loc", p.location),
    ):
        if value is not None:
            out[key] = value
    if p.language:
        out["lang"] = list(p.language)
    if p.disposition is not None:
        out["disp"] = [p.disposition.type, _params(p.disposition.params)]
    if p.envelope is not None:
        out["env"] = _envelope(p.envelope)
    return out


def structure_to_data(s: MessageStructure) -> _Data:
    """The structure as JSON-compatible plain data."""
    return {
        "v": FORMAT_VERSION,
        "size": s.size,
        "parts": [_part(p) for p in s.parts],
        "defects": [[d.kind.value, d.part, d.offset] for d in s.defects],
    }


def structure_to_json(s: MessageStructure) -> str:
    return json.dumps(structure_to_data(s), ensure_ascii=False, separators=(",", ":"))


# -- reading -----------------------------------------------------------------


def _bad(what: str) -> StructureDecodeError:
    return StructureDecodeError(f"stored MIME structure: bad {what}")


def _int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(what)
    return value


def _str(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise _bad(what)
    return value


def _opt_str(value: object, what: str) -> str | None:
    return None if value is None else _str(value, what)


def _list(value: object, what: str) -> list[object]:
    if not isinstance(value, list):
        raise _bad(what)
    return value


def _dict(value: object, what: str) -> _Data:
    if not isinstance(value, dict):
        raise _bad(what)
    return value


def _read_params(value: object) -> tuple[Parameter, ...]:
    out: list[Parameter] = []
    for item in _list(value, "parameters"):
        fields = _list(item, "parameter")
        if len(fields) == 2:
            out.append(Parameter(_str(fields[0], "name"), _str(fields[1], "value")))
        elif len(fields) == 4:
            out.append(
                Parameter(
                    _str(fields[0], "name"),
                    _str(fields[1], "value"),
                    _opt_str(fields[2], "charset"),
                    _opt_str(fields[3], "language"),
                )
            )
        else:
            raise _bad("parameter")
    return tuple(out)


def _read_address(value: object) -> Address:
    fields = _list(value, "address")
    if len(fields) != 4:
        raise _bad("address")
    return Address(
        _opt_str(fields[0], "address name"),
        _opt_str(fields[1], "address route"),
        _str(fields[2], "mailbox"),
        _str(fields[3], "host"),
    )


def _read_address_field(value: object) -> AddressField:
    fields = _list(value, "address field")
    if len(fields) != 2:
        raise _bad("address field")
    items: list[Address | Group] = []
    for item in _list(fields[1], "address list"):
        if isinstance(item, dict):
            members = tuple(_read_address(m) for m in _list(item.get("m"), "group"))
            items.append(Group(_str(item.get("g"), "group name"), members))
        else:
            items.append(_read_address(item))
    return AddressField(_str(fields[0], "address field"), tuple(items))


def _read_envelope(value: object) -> Envelope:
    data = _dict(value, "envelope")
    text = {attr: _opt_str(data.get(key), key) for key, attr in _TEXT_KEYS}
    addrs = {
        attr: None if data.get(key) is None else _read_address_field(data[key])
        for key, attr in _ADDRESS_KEYS
    }
    return Envelope(
        date=text["date"],
        subject=text["subject"],
        from_=addrs["from_"],
        sender=addrs["sender"],
        reply_to=addrs["reply_to"],
        to=addrs["to"],
        cc=addrs["cc"],
        bcc=addrs["bcc"],
        in_reply_to=text["in_reply_to"],
        message_id=text["message_id"],
    )


def _read_part(index: int, value: object) -> Part:
    d = _dict(value, "part")
    ct = _list(d.get("ct"), "content type")
    if len(ct) != 4 or not isinstance(ct[3], bool):
        raise _bad("content type")
    disp = d.get("disp")
    disposition = None
    if disp is not None:
        fields = _list(disp, "disposition")
        if len(fields) != 2:
            raise _bad("disposition")
        disposition = Disposition(_str(fields[0], "disposition"), _read_params(fields[1]))
    parent = d.get("p")
    body_start = _int(d.get("bs"), "body start")
    try:
        kind = PartKind(_str(d.get("k"), "kind"))
    except ValueError as e:
        raise _bad("kind") from e
    return Part(
        index=index,
        parent=None if parent is None else _int(parent, "parent"),
        children=tuple(_int(c, "child") for c in _list(d.get("c"), "children")),
        section=_str(d.get("s"), "section"),
        kind=kind,
        depth=_int(d.get("d"), "depth"),
        header_start=_int(d.get("hs"), "header start"),
        header_end=_int(d.get("he", body_start), "header end"),
        body_start=body_start,
        body_end=_int(d.get("be"), "body end"),
        body_lines=_int(d.get("l"), "lines"),
        content_type=ContentType(
            _str(ct[0], "type"), _str(ct[1], "subtype"), _read_params(ct[2]), ct[3]
        ),
        transfer_encoding=_str(d.get("te", "7bit"), "encoding"),
        content_id=_opt_str(d.get("id"), "content id"),
        description=_opt_str(d.get("desc"), "description"),
        md5=_opt_str(d.get("md5"), "md5"),
        disposition=disposition,
        language=tuple(_str(t, "language") for t in _list(d.get("lang", []), "languages")),
        location=_opt_str(d.get("loc"), "location"),
        envelope=None if d.get("env") is None else _read_envelope(d["env"]),
    )


def _read_defect(value: object) -> Defect:
    fields = _list(value, "defect")
    if len(fields) != 3:
        raise _bad("defect")
    try:
        kind = DefectKind(_str(fields[0], "defect kind"))
    except ValueError as e:
        raise _bad("defect kind") from e
    return Defect(kind, _int(fields[1], "defect part"), _int(fields[2], "defect offset"))


def structure_from_data(value: object) -> MessageStructure:
    """Rebuild a structure from `structure_to_data` output."""
    data = _dict(value, "structure")
    if data.get("v") != FORMAT_VERSION:
        raise _bad("format version")
    parts = tuple(_read_part(i, p) for i, p in enumerate(_list(data.get("parts"), "parts")))
    if not parts:
        raise _bad("parts")
    return MessageStructure(
        parts,
        _int(data.get("size"), "size"),
        tuple(_read_defect(d) for d in _list(data.get("defects", []), "defects")),
    )


def structure_from_json(text: str) -> MessageStructure:
    try:
        value: object = json.loads(text)
    except ValueError as e:
        raise StructureDecodeError("stored MIME structure: not JSON") from e
    return structure_from_data(value)
