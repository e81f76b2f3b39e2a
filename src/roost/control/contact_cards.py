"""Contact cards for the webmail: a card's fields, edits that keep what they
do not touch, groups, and the cards of a .vcf file (no store here: the
operations over the user's address books are `roost.control.contacts`).

A contact is a vCard in one of the user's address books (the CardDAV
collections, `roost.store.groupware`). The webmail edits the fields a person
edits (names, e-mail addresses, phones, organisation, title, postal
addresses, birthday, note, groups) and merges them into the card as read
(`build_card`): a line the form does not change is written back as it was,
and every property the form does not show (a photo, an Apple label, an
X- property) stays, so a card made by another client loses nothing.

Groups. CardDAV clients keep groups in two ways: as CATEGORIES on each card
(Nextcloud, CardBook, DAVx5 in its "categories" mode, Roundcube's option)
and as group cards (vCard 4 `KIND:group` with `MEMBER:urn:uuid:…`, RFC 6350
§6.1.4 and §6.6.5; Apple's vCard 3 `X-ADDRESSBOOKSERVER-KIND` and
`-MEMBER`; DAVx5's default mode). Both are read: a group is a name, and its
members are the cards that carry it as a category and those a group card
names. The webmail writes CATEGORIES: a change of groups then touches one
card under one ETag, so it cannot half-succeed or race another client's edit
of a shared group card; group cards are kept as they are (shown as groups,
never listed as people).

New cards are vCard 3.0, the version every CardDAV client reads (RFC 6352
§5.1 makes it the one a server must support; Apple Contacts reads no
other); an edited card keeps its version.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime

from roost.control.compose_mime import valid_address
from roost.control.vcard_text import (
    Prop,
    card_text,
    escape,
    format_line,
    parse_line,
    parse_props,
    structured,
    unfold,
    unfold_raw,
)
from roost.core.errors import RoostError
from roost.store.groupware import Item

EMAIL_TYPES = ("", "home", "work")
PHONE_TYPES = ("cell", "home", "work", "fax", "")
ADDRESS_TYPES = ("home", "work", "")
_EMAIL_KNOWN = {"home", "work", "other"}
_PHONE_KNOWN = {"cell", "home", "work", "fax", "voice", "other"}
_ADDRESS_KNOWN = {"home", "work", "other"}
MAX_FIELD_CHARS = 1000
MAX_NOTE_CHARS = 20_000
NEW_VERSION = "3.0"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9@._+-]{1,200}$")
_DAY = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})")
_NO_YEAR = re.compile(r"^--(\d{2})-?(\d{2})$")
_IMPORT_NAMESPACE = uuid.UUID("6f1c9a52-3b0e-4d5e-9a57-2f1d8c0b7e41")
GROUP_KINDS = ("KIND", "X-ADDRESSBOOKSERVER-KIND")
MEMBER_PROPS = ("MEMBER", "X-ADDRESSBOOKSERVER-MEMBER")
CHANGED_ELSEWHERE = (
    "This contact was changed elsewhere (in another app or window) after you opened it, "
    "so your changes were not saved. Open it again to see the current version."
)


class ContactRefused(RoostError):
    """A form or file the webmail cannot save, with the HTTP status and words."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Entry:
    """An e-mail address or a phone number; `ref` numbers it among its kind in
    the card as read ("" for one the form adds)."""

    ref: str
    type: str
    value: str


@dataclass(frozen=True, slots=True)
class Address:
    ref: str
    type: str
    street: str = ""
    city: str = ""
    region: str = ""
    code: str = ""
    country: str = ""

    @property
    def empty(self) -> bool:
        return not any((self.street, self.city, self.region, self.code, self.country))

    @property
    def lines(self) -> str:
        place = " ".join(p for p in (self.code, self.city) if p)
        return ", ".join(p for p in (self.street, place, self.region, self.country) if p)


@dataclass(frozen=True, slots=True)
class ContactFields:
    """What the contact form edits."""

    full_name: str = ""
    given: str = ""
    family: str = ""
    org: str = ""
    title: str = ""
    birthday: str = ""
    """YYYY-MM-DD, or --MM-DD without a year (vCard 4 only)."""
    note: str = ""
    emails: tuple[Entry, ...] = ()
    phones: tuple[Entry, ...] = ()
    addresses: tuple[Address, ...] = ()
    groups: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Contact:
    book: str
    """The address book's name (its collection)."""
    name: str
    """The card's resource name in the book."""
    uid: str
    etag: str
    version: str
    fields: ContactFields
    is_group: bool = False
    members: tuple[str, ...] = ()
    """A group card's members, by UID."""
    updated_at: datetime | None = None

    @property
    def display_name(self) -> str:
        f = self.fields
        return (
            f.full_name
            or " ".join(p for p in (f.given, f.family) if p)
            or f.org
            or next((e.value for e in f.emails), "")
            or "(no name)"
        )

    def matches(self, words: Sequence[str]) -> bool:
        f = self.fields
        haystack = "\n".join(
            [f.full_name, f.given, f.family, f.org, f.title]
            + [e.value for e in f.emails]
            + [p.value for p in f.phones]
        ).casefold()
        return all(w in haystack for w in words)


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    count: int
    from_cards: bool
    """Defined (also) by a group card another client made."""


# --- reading a card


def version_of(props: Iterable[Prop]) -> str:
    return next((p.value.strip() for p in props if p.name == "VERSION"), "")


def _first(props: Sequence[Prop], name: str) -> Prop | None:
    return next((p for p in props if p.name == name), None)


def _choice(types: Sequence[str], choices: Sequence[str]) -> str:
    return next((t for t in types if t in choices and t), "")


def _address(ref: str, prop: Prop) -> Address:
    parts = (prop.parts + [""] * 7)[:7]
    return Address(
        ref, _choice(prop.types, ADDRESS_TYPES), parts[2], parts[3], parts[4], parts[5], parts[6]
    )


def _phone_value(prop: Prop) -> str:
    return prop.text.removeprefix("tel:").strip()


def birthday_of(prop: Prop | None) -> str:
    """BDAY as the form shows it: YYYY-MM-DD, --MM-DD, or the value as written."""
    if prop is None:
        return ""
    value = prop.text.strip()
    if found := _NO_YEAR.match(value):
        return f"--{found[1]}-{found[2]}"
    if found := _DAY.match(value):
        return f"{found[1]}-{found[2]}-{found[3]}"
    return value


def fields_of(props: Sequence[Prop]) -> ContactFields:
    n = _first(props, "N")
    n_parts = (n.parts if n else []) + [""] * 5
    org = _first(props, "ORG")
    title, note = _first(props, "TITLE"), _first(props, "NOTE")
    fn = _first(props, "FN")
    groups: list[str] = []
    for prop in props:
        if prop.name == "CATEGORIES":
            groups += [g for g in prop.items if g not in groups]
    return ContactFields(
        full_name=fn.text.strip() if fn else "",
        given=n_parts[1],
        family=n_parts[0],
        org=org.parts[0] if org else "",
        title=title.text if title else "",
        birthday=birthday_of(_first(props, "BDAY")),
        note=note.text if note else "",
        emails=tuple(
            Entry(str(i), _choice(p.types, EMAIL_TYPES), p.text.strip())
            for i, p in enumerate(p for p in props if p.name == "EMAIL")
        ),
        phones=tuple(
            Entry(str(i), _choice(p.types, PHONE_TYPES), _phone_value(p))
            for i, p in enumerate(p for p in props if p.name == "TEL")
        ),
        addresses=tuple(
            _address(str(i), p) for i, p in enumerate(p for p in props if p.name == "ADR")
        ),
        groups=tuple(groups),
    )


def _is_group(props: Sequence[Prop]) -> bool:
    return any(p.name in GROUP_KINDS and p.text.strip().lower() == "group" for p in props)


def member_uid(value: str) -> str:
    """A MEMBER value as the UID it names (`urn:uuid:` taken off)."""
    value = value.strip()
    return value[len("urn:uuid:") :] if value.lower().startswith("urn:uuid:") else value


def contact_of(book: str, item: Item) -> Contact:
    props = parse_props(item.data)
    is_group = _is_group(props)
    members = tuple(member_uid(p.text) for p in props if p.name in MEMBER_PROPS)
    fields = fields_of(props)
    if not fields.full_name:
        fields = replace(fields, full_name=item.title)
    return Contact(
        book=book,
        name=item.name,
        uid=member_uid(item.uid),
        etag=item.etag,
        version=version_of(props) or NEW_VERSION,
        fields=fields,
        is_group=is_group,
        members=members if is_group else (),
        updated_at=item.updated_at,
    )


# --- checking what the form says


def checked(fields: ContactFields, version: str) -> ContactFields:
    """The form's fields cleaned; ContactRefused says what is wrong."""
    one_line = {
        "full name": fields.full_name,
        "first name": fields.given,
        "last name": fields.family,
        "organisation": fields.org,
        "job title": fields.title,
    }
    for label, value in one_line.items():
        _one_line(label, value)
    if len(fields.note) > MAX_NOTE_CHARS:
        raise ContactRefused(f"The note is longer than {MAX_NOTE_CHARS} characters.")
    emails = tuple(
        replace(e, value=e.value.strip(), type=_choose(e.type, EMAIL_TYPES))
        for e in fields.emails
        if e.value.strip()
    )
    for entry in emails:
        _one_line("e-mail address", entry.value)
        if not valid_address(entry.value):
            raise ContactRefused(f"{entry.value!r} is not one e-mail address.")
    phones = tuple(
        replace(p, value=p.value.strip(), type=_choose(p.type, PHONE_TYPES))
        for p in fields.phones
        if p.value.strip()
    )
    for entry in phones:
        _one_line("phone number", entry.value)
        if not re.fullmatch(r"[0-9+()#*./ \-ext;=,pPwW]{1,64}", entry.value):
            raise ContactRefused(f"{entry.value!r} is not a phone number.")
    addresses = tuple(
        replace(a, type=_choose(a.type, ADDRESS_TYPES)) for a in fields.addresses if not a.empty
    )
    for address in addresses:
        for part in (address.street, address.city, address.region, address.code):
            if len(part) > MAX_FIELD_CHARS:
                raise ContactRefused(
                    f"An address part is longer than {MAX_FIELD_CHARS} characters."
                )
        _one_line("country", address.country)
    groups: list[str] = []
    for group in fields.groups:
        name = group.strip()
        _one_line("group", name)
        if name and name not in groups:
            groups.append(name)
    out = replace(
        fields,
        full_name=fields.full_name.strip(),
        given=fields.given.strip(),
        family=fields.family.strip(),
        org=fields.org.strip(),
        title=fields.title.strip(),
        birthday=_checked_day(fields.birthday.strip(), version),
        emails=emails,
        phones=phones,
        addresses=addresses,
        groups=tuple(groups),
    )
    if not (out.full_name or out.given or out.family or out.org or out.emails):
        raise ContactRefused("Give the contact a name, an organisation or an e-mail address.")
    return out


def _one_line(label: str, value: str) -> None:
    if "\n" in value or "\r" in value:
        raise ContactRefused(f"The {label} must be one line of text.")
    if len(value) > MAX_FIELD_CHARS:
        raise ContactRefused(f"The {label} is longer than {MAX_FIELD_CHARS} characters.")


def _choose(value: str, choices: Sequence[str]) -> str:
    return value if value in choices else ""


def _checked_day(value: str, version: str) -> str:
    if not value:
        return ""
    if found := _NO_YEAR.match(value):
        if version != "4.0":
            raise ContactRefused("A birthday needs a year in this card (vCard 3): YYYY-MM-DD.")
        month, day = int(found[1]), int(found[2])
        _real_day(2000, month, day, value)
        return f"--{found[1]}-{found[2]}"
    found = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", value)
    if found is None:
        raise ContactRefused(f"The birthday {value[:40]!r} is not a date (YYYY-MM-DD).")
    _real_day(int(found[1]), int(found[2]), int(found[3]), value)
    return value


def _real_day(year: int, month: int, day: int, text: str) -> None:
    try:
        date(year, month, day)
    except ValueError:
        raise ContactRefused(f"The birthday {text[:40]!r} is not a date.") from None


# --- writing a card


def _types_params(prop: Prop | None, chosen: str, known: set[str]) -> list[tuple[str, str]]:
    """The line's parameters with its type replaced by the form's (other types,
    such as `internet` or `pref`, and every other parameter kept)."""
    if prop is None:
        return [("TYPE", chosen)] if chosen else []
    kept = [t for t in prop.types if t not in known]
    params = [
        (k, v)
        for k, v in prop.params
        if k not in ("TYPE", "VALUE") and not (v == "" and k.lower() in prop.types)
    ]
    types = [*dict.fromkeys(kept + ([chosen] if chosen else []))]
    return params + ([("TYPE", ",".join(types))] if types else [])


def _day_value(birthday: str, version: str) -> str:
    if birthday.startswith("--"):
        return "--" + birthday[2:].replace("-", "")
    return birthday.replace("-", "") if version == "4.0" else birthday


def _address_value(address: Address, old: Prop | None) -> str:
    kept = (old.structure + [""] * 7)[:2] if old else ["", ""]
    return structured(
        kept
        + [escape(p) for p in (address.street, address.city, address.region, address.code)]
        + [escape(address.country)]
    )


def build_card(
    fields: ContactFields, original: str | None, uid: str, version: str = NEW_VERSION
) -> str:
    """The card with the form's fields: a new one, or `original` merged (see the
    module's docstring); `fields` as `checked` returns them."""
    props = parse_props(original) if original else []
    version = version_of(props) or version
    old = fields_of(props)
    lines: list[str | Prop] = ["BEGIN:VCARD", f"VERSION:{version}"]
    if not any(p.name == "UID" for p in props):
        lines.append(f"UID:{uid}")
    full_name = fields.full_name or _derived_name(fields)
    rows = {"EMAIL": fields.emails, "TEL": fields.phones}
    seen: dict[str, int] = {}
    done: set[str] = set()
    depth = 0
    for prop in props:
        if prop.name == "BEGIN":
            depth += 1
            if depth == 1:
                continue
        if prop.name == "END":
            depth -= 1
            if depth == 0:
                continue
        if depth > 1 or prop.name == "VERSION":
            if prop.name != "VERSION":
                lines.append(prop)
            continue
        index = seen.get(prop.name, 0)
        seen[prop.name] = index + 1
        lines += _merged(prop, index, fields, old, full_name, rows, done, version)
    # What the card did not have before.
    if "FN" not in done and "FN" not in seen:
        lines.append(format_line("FN", escape(full_name)))
    if "N" not in seen and (fields.given or fields.family or version == "3.0"):
        lines.append(
            format_line("N", structured([escape(fields.family), escape(fields.given), "", "", ""]))
        )
    if "ORG" not in seen and fields.org:
        lines.append(format_line("ORG", escape(fields.org)))
    for name, value in (("TITLE", fields.title), ("NOTE", fields.note)):
        if name not in seen and value:
            lines.append(format_line(name, escape(value)))
    if "BDAY" not in seen and fields.birthday:
        lines.append(format_line("BDAY", _day_value(fields.birthday, version)))
    if "CATEGORIES" not in seen and fields.groups:
        lines.append(format_line("CATEGORIES", ",".join(escape(g) for g in fields.groups)))
    for entry in fields.emails:
        if not entry.ref:
            lines.append(
                format_line(
                    "EMAIL", escape(entry.value), _types_params(None, entry.type, _EMAIL_KNOWN)
                )
            )
    for entry in fields.phones:
        if not entry.ref:
            lines.append(
                format_line(
                    "TEL", escape(entry.value), _types_params(None, entry.type, _PHONE_KNOWN)
                )
            )
    for address in fields.addresses:
        if not address.ref:
            params = _types_params(None, address.type, _ADDRESS_KNOWN)
            lines.append(format_line("ADR", _address_value(address, None), params))
    lines.append("END:VCARD")
    return card_text(lines)


def _derived_name(fields: ContactFields) -> str:
    return (
        " ".join(p for p in (fields.given, fields.family) if p)
        or fields.org
        or next((e.value for e in fields.emails), "")
    )


def _merged(
    prop: Prop,
    index: int,
    fields: ContactFields,
    old: ContactFields,
    full_name: str,
    rows: dict[str, tuple[Entry, ...]],
    done: set[str],
    version: str,
) -> list[str | Prop]:
    """What becomes of one line of the card as read: itself when the form left
    its field alone, a new line when it changed it, nothing when it emptied it."""
    name, group = prop.name, prop.group
    if name in rows:
        known = _EMAIL_KNOWN if name == "EMAIL" else _PHONE_KNOWN
        before = (old.emails if name == "EMAIL" else old.phones)[index]
        row = next((r for r in rows[name] if r.ref == str(index)), None)
        if row is None:
            return []
        if (row.type, row.value) == (before.type, before.value):
            return [prop]
        return [format_line(name, escape(row.value), _types_params(prop, row.type, known), group)]
    if name == "ADR":
        address = next((a for a in fields.addresses if a.ref == str(index)), None)
        if address is None:
            return []
        if address == replace(old.addresses[index], ref=address.ref):
            return [prop]
        params = _types_params(prop, address.type, _ADDRESS_KNOWN)
        return [format_line(name, _address_value(address, prop), params, group)]
    if name == "CATEGORIES":
        if fields.groups == old.groups:
            return [prop]
        if index > 0 or not fields.groups:
            return []
        return [format_line(name, ",".join(escape(g) for g in fields.groups), prop.params, group)]
    if index > 0:
        return [prop]
    match name:
        case "FN":
            done.add("FN")
            if full_name == old.full_name:
                return [prop]
            return [format_line(name, escape(full_name), prop.params, group)]
        case "N":
            if (fields.given, fields.family) == (old.given, old.family):
                return [prop]
            parts = (prop.structure + [""] * 5)[:5]
            parts[0], parts[1] = escape(fields.family), escape(fields.given)
            return [format_line(name, structured(parts), prop.params, group)]
        case "ORG":
            if fields.org == old.org:
                return [prop]
            if not fields.org:
                return []
            parts = prop.structure or [""]
            parts[0] = escape(fields.org)
            return [format_line(name, structured(parts), prop.params, group)]
        case "TITLE" | "NOTE":
            value = fields.title if name == "TITLE" else fields.note
            if value == (old.title if name == "TITLE" else old.note):
                return [prop]
            return [format_line(name, escape(value), prop.params, group)] if value else []
        case "BDAY":
            if fields.birthday == old.birthday:
                return [prop]
            if not fields.birthday:
                return []
            params = [(k, v) for k, v in prop.params if k != "VALUE"]
            return [format_line(name, _day_value(fields.birthday, version), params, group)]
    return [prop]


# --- groups


def groups_of(contacts: Sequence[Contact]) -> list[Group]:
    counts: dict[str, set[tuple[str, str]]] = {}
    from_cards: set[str] = set()
    by_uid = {(c.book, c.uid): c for c in contacts if not c.is_group}
    for contact in contacts:
        if contact.is_group:
            name = contact.display_name
            from_cards.add(name)
            members = counts.setdefault(name, set())
            for uid in contact.members:
                member = by_uid.get((contact.book, uid))
                if member is not None:
                    members.add((member.book, member.name))
            continue
        for name in contact.fields.groups:
            counts.setdefault(name, set()).add((contact.book, contact.name))
    return sorted(
        (Group(name, len(keys), name in from_cards) for name, keys in counts.items()),
        key=lambda g: g.name.casefold(),
    )


def in_group(contact: Contact, group: str, cards: Sequence[Contact]) -> bool:
    if group in contact.fields.groups:
        return True
    return any(
        c.is_group
        and c.book == contact.book
        and c.display_name == group
        and contact.uid in c.members
        for c in cards
    )


def with_member(text: str, uid: str, member: bool) -> str | None:
    """A group card with `uid` added to or taken off its members (the card's own
    kind of MEMBER line: vCard 4's, or Apple's in vCard 3); None when it is so
    already. Every other line stays as it was read."""
    bare = member_uid(uid)
    lines = unfold_raw(text)
    props = [parse_line(line, raw) for line, raw in lines]
    has = [p is not None and p.name in MEMBER_PROPS and member_uid(p.text) == bare for p in props]
    if member == any(has):
        return None
    if not member:
        return "".join(
            raw + "\r\n" for (_line, raw), drop in zip(lines, has, strict=True) if not drop
        )
    apple = any(p is not None and p.name == "X-ADDRESSBOOKSERVER-KIND" for p in props)
    name = "X-ADDRESSBOOKSERVER-MEMBER" if apple else "MEMBER"
    end = text.upper().rindex("END:VCARD")
    return text[:end] + card_text([f"{name}:urn:uuid:{bare}"]) + text[end:]


# --- import and export


def completed(text: str) -> str:
    """A card from a file, ready to store: a UID and an FN added when it has
    none (exports from phones and webmails often lack the UID; the one added is
    derived from the card's text). ContactRefused
    when it is not a vCard 3 or 4."""
    props = parse_props(text)
    if not props or props[0].name != "BEGIN":
        raise ContactRefused("it is not a vCard")
    version = version_of(props)
    if version not in ("3.0", "4.0"):
        raise ContactRefused(f"vCard version {version or '(none)'} is not read: only 3.0 and 4.0")
    additions: list[str] = []
    if not any(p.name == "UID" for p in props):
        # Named by its content, so importing the same file twice does not double it.
        additions.append(f"UID:{uuid.uuid5(_IMPORT_NAMESPACE, ''.join(unfold(text)))}")
    if not any(p.name == "FN" for p in props):
        name = _derived_name(fields_of(props))
        if not name:
            raise ContactRefused("the card has no name (FN), organisation or e-mail address")
        additions.append(format_line("FN", escape(name)))
    if not additions:
        return text
    end = text.upper().rindex("END:VCARD")
    return text[:end] + card_text(additions) + text[end:]


def export_text(cards: Iterable[str]) -> str:
    """Cards one after the other, CRLF line ends (RFC 6350 §3.2)."""
    out: list[str] = []
    for card in cards:
        text = card.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")
        out.append(text if text.endswith("\r\n") else text + "\r\n")
    return "".join(out)


def item_name_for(uid: str) -> str:
    """A resource name for a new card, as CardDAV clients make them."""
    return f"{uid}.vcf" if _SAFE_NAME.match(uid) else f"{uuid.uuid4()}.vcf"
