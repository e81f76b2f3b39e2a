"""The webmail's contact and note rules without a store: vCard lines read and
written back, edits that keep what the form does not show, groups of both
kinds, import of a file with a broken card, and notes' titles and checks."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roost.control.contact_cards import (
    Address,
    Contact,
    ContactFields,
    ContactRefused,
    Entry,
    build_card,
    checked,
    completed,
    contact_of,
    export_text,
    fields_of,
    groups_of,
    in_group,
    with_member,
)
from roost.control.groupware import parse_vcard
from roost.control.notes import Note, NoteRefused, Notes, folder_name_for, title_from
from roost.control.vcard_text import (
    escape,
    fold,
    format_line,
    parse_line,
    parse_props,
    split_cards,
    unfold,
)
from roost.core.config import DavSettings, WebmailSettings
from roost.store.groupware import Item

APPLE3 = (
    "BEGIN:VCARD\r\n"
    "VERSION:3.0\r\n"
    "PRODID:-//Apple Inc.//iPhone OS 17.0//EN\r\n"
    "N:Diaz;Carla;Maria;Dr.;\r\n"
    "FN:Carla Diaz\r\n"
    "ORG:Diaz Imports;Sales\r\n"
    "item1.EMAIL;type=INTERNET;type=WORK;type=pref:carla@work.example\r\n"
    "item1.X-ABLabel:_$!<Work>!$_\r\n"
    "EMAIL;type=INTERNET;type=HOME:carla@home.example\r\n"
    "TEL;type=CELL;type=VOICE;type=pref:+34 600 000 000\r\n"
    "ADR;type=HOME;type=pref:PO 7;Flat 2;Calle Mayor 1;Madrid;;28001;Spain\r\n"
    "NOTE:first line\\nsecond\\, with a comma\\; and semicolon\r\n"
    "BDAY;value=date:1980-05-17\r\n"
    "X-SOCIALPROFILE;type=twitter:x.com/carla\r\n"
    "PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQN\r\n"
    " DAsLDBkSEw8UHRofHh0aHBwgJC4nICIsIxwcKDcpLDAxNDQ0Hyc5PTgyPC4zNDL/\r\n"
    "CATEGORIES:Friends,Suppliers\r\n"
    "UID:7D4D5E3B-1111-2222-3333-444455556666\r\n"
    "END:VCARD\r\n"
)


def _item(data: str, name: str = "c.vcf", uid: str = "u") -> Item:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return Item(1, 1, name, uid, "VCARD", "e", data, "", "", None, None, False, 1, now)


def _fields(card: str) -> ContactFields:
    return fields_of(parse_props(card))


def test_a_vcard3_from_apple_reads_as_the_form_shows_it() -> None:
    f = _fields(APPLE3)
    assert (f.full_name, f.given, f.family, f.org) == (
        "Carla Diaz",
        "Carla",
        "Diaz",
        "Diaz Imports",
    )
    assert f.emails == (
        Entry("0", "work", "carla@work.example"),
        Entry("1", "home", "carla@home.example"),
    )
    assert f.phones == (Entry("0", "cell", "+34 600 000 000"),)
    assert f.addresses == (Address("0", "home", "Calle Mayor 1", "Madrid", "", "28001", "Spain"),)
    assert f.note == "first line\nsecond, with a comma; and semicolon"
    assert f.birthday == "1980-05-17" and f.groups == ("Friends", "Suppliers")


def test_saving_unchanged_gives_the_same_card_back() -> None:
    assert build_card(checked(_fields(APPLE3), "3.0"), APPLE3, "ignored") == APPLE3


def test_an_edit_keeps_every_line_it_does_not_change() -> None:
    f = _fields(APPLE3)
    edited = replace(
        f,
        emails=(
            f.emails[0],
            replace(f.emails[1], value="carla@new.example", type="work"),
            Entry("", "home", "c@third.example"),
        ),
        phones=(),
        addresses=(replace(f.addresses[0], city="Sevilla"),),
        title="CEO",
        groups=("Friends",),
        family="Díaz",
    )
    out = build_card(checked(edited, "3.0"), APPLE3, "ignored")
    parse_vcard(out)  # valid for the CardDAV face too
    for kept in (
        "PRODID:-//Apple Inc.//iPhone OS 17.0//EN",
        "item1.EMAIL;type=INTERNET;type=WORK;type=pref:carla@work.example",
        "item1.X-ABLabel:_$!<Work>!$_",
        "X-SOCIALPROFILE;type=twitter:x.com/carla",
        "UID:7D4D5E3B-1111-2222-3333-444455556666",
        "FN:Carla Diaz",
        "NOTE:first line\\nsecond\\, with a comma\\; and semicolon",
        "BDAY;value=date:1980-05-17",
    ):
        assert kept + "\r\n" in out, kept
    assert "PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQ" in out and "DAsLDBkSEw8U" in out
    # The changed lines: other types and parameters stay, the form's type replaces its own.
    assert "EMAIL;TYPE=internet,work:carla@new.example\r\n" in out
    assert "EMAIL;TYPE=home:c@third.example\r\n" in out
    assert "TEL" not in out
    # The parts the form does not show (PO box, extended address; prefix, middle name) stay.
    assert "ADR;TYPE=pref,home:PO 7;Flat 2;Calle Mayor 1;Sevilla;;28001;Spain\r\n" in out
    assert "N:Díaz;Carla;Maria;Dr.;\r\n" in out
    assert "CATEGORIES:Friends\r\n" in out and "TITLE:CEO\r\n" in out
    assert "ORG:Diaz Imports;Sales\r\n" in out


def test_a_new_card_is_vcard3_that_vobject_accepts() -> None:
    fields = checked(
        ContactFields(
            given="Bob",
            family="Ång",
            emails=(Entry("", "work", "bob@example.org"), Entry("", "", "  ")),
            phones=(Entry("", "cell", "+49 30 1234"),),
            addresses=(
                Address("", "home", "Weg 1", "Berlin", "", "10115", "Germany"),
                Address("", ""),
            ),
            note="a;b,c\\d\nline",
            groups=("Team", "Team", " "),
            birthday="1990-01-02",
        ),
        "3.0",
    )
    card = build_card(fields, None, "new-uid")
    parsed = parse_vcard(card)
    assert parsed.uid == "new-uid" and parsed.title == "Bob Ång"
    again = _fields(card)
    assert again.note == "a;b,c\\d\nline" and again.groups == ("Team",)
    assert again.emails == (Entry("0", "work", "bob@example.org"),)
    assert again.addresses[0].city == "Berlin" and again.birthday == "1990-01-02"
    assert "VERSION:3.0\r\n" in card and "N:Ång;Bob;;;\r\n" in card


def test_birthdays_by_version() -> None:
    card4 = "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:x\r\nFN:A\r\nBDAY:19850412\r\nEND:VCARD\r\n"
    f = _fields(card4)
    assert f.birthday == "1985-04-12"
    out = build_card(checked(replace(f, birthday="--12-24"), "4.0"), card4, "x")
    assert "BDAY:--1224\r\n" in out and _fields(out).birthday == "--12-24"
    with pytest.raises(ContactRefused, match="needs a year"):
        checked(replace(f, birthday="--12-24"), "3.0")
    with pytest.raises(ContactRefused, match="not a date"):
        checked(replace(f, birthday="2023-02-30"), "4.0")


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"emails": (Entry("", "", "not-an-address"),)}, "is not one e-mail address"),
        ({"phones": (Entry("", "", "call me"),)}, "is not a phone number"),
        ({"full_name": "A\r\nB"}, "one line of text"),
        ({"org": "x" * 2000}, "longer than"),
        ({"birthday": "17 May"}, "is not a date"),
    ],
)
def test_bad_input_is_refused_in_words(change: dict[str, object], words: str) -> None:
    with pytest.raises(ContactRefused, match=words):
        checked(replace(ContactFields(full_name="Ann"), **change), "3.0")  # type: ignore[arg-type]


def test_a_contact_needs_something_to_call_it() -> None:
    with pytest.raises(ContactRefused, match="Give the contact a name"):
        checked(ContactFields(note="just a note"), "3.0")
    # An e-mail address alone is enough: it becomes the FN.
    card = build_card(
        checked(ContactFields(emails=(Entry("", "", "x@example.org"),)), "3.0"), None, "u"
    )
    assert parse_vcard(card).title == "x@example.org"


def test_groups_from_categories_and_from_group_cards() -> None:
    people = [
        "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:urn:uuid:p1\r\nFN:Pat\r\nCATEGORIES:Club\r\nEND:VCARD\r\n",
        "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:urn:uuid:p2\r\nFN:Quinn\r\nEND:VCARD\r\n",
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:p3\r\nFN:Rae\r\nN:;Rae;;;\r\nEND:VCARD\r\n",
    ]
    group4 = (
        "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:urn:uuid:g1\r\nKIND:group\r\nFN:Family\r\n"
        "MEMBER:urn:uuid:p2\r\nMEMBER:urn:uuid:gone\r\nEND:VCARD\r\n"
    )
    apple = (
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:g2\r\nFN:Club\r\nN:Club;;;;\r\n"
        "X-ADDRESSBOOKSERVER-KIND:group\r\nX-ADDRESSBOOKSERVER-MEMBER:urn:uuid:p3\r\nEND:VCARD\r\n"
    )
    uids = ["urn:uuid:p1", "urn:uuid:p2", "p3", "urn:uuid:g1", "g2"]
    cards: list[Contact] = [
        contact_of("contacts", _item(text, f"{i}.vcf", uids[i]))
        for i, text in enumerate([*people, group4, apple])
    ]
    assert [c.is_group for c in cards] == [False, False, False, True, True]
    groups = {g.name: (g.count, g.from_cards) for g in groups_of(cards)}
    assert groups == {"Club": (2, True), "Family": (1, True)}
    members = {g: [c.display_name for c in cards[:3] if in_group(c, g, cards)] for g in groups}
    assert members == {"Club": ["Pat", "Rae"], "Family": ["Quinn"]}
    # A group card in another address book does not gather this book's people.
    other = replace(cards[3], book="work")
    assert not in_group(cards[1], "Family", [*cards[:3], other])


def test_group_card_membership_is_changed_line_by_line() -> None:
    group4 = (
        "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:urn:uuid:g1\r\nKIND:group\r\nFN:Family\r\n"
        "X-LONG;X-A=1:" + "y" * 80 + "\r\n MORE\r\nMEMBER:urn:uuid:p2\r\nEND:VCARD\r\n"
    )
    added = with_member(group4, "p9", True)
    assert added == group4.replace("END:VCARD", "MEMBER:urn:uuid:p9\r\nEND:VCARD")
    assert with_member(group4, "urn:uuid:p2", True) is None  # a member already
    assert with_member(group4, "p9", False) is None
    removed = with_member(group4, "urn:uuid:p2", False)
    assert removed == group4.replace("MEMBER:urn:uuid:p2\r\n", "")
    apple = (
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:g2\r\nFN:Club\r\nN:Club;;;;\r\n"
        "X-ADDRESSBOOKSERVER-KIND:group\r\nEND:VCARD\r\n"
    )
    out = with_member(apple, "ABC-1", True)
    assert out is not None and "X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:ABC-1\r\nEND:VCARD" in out
    parse_vcard(out)


def test_import_splits_cards_and_completes_or_refuses_each() -> None:
    text = (
        "junk before\r\n"
        "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Kim;Lee;;;\r\nEMAIL:lee@example.org\r\nEND:VCARD\r\n"
        "begin:vcard\nversion:2.1\nN:Old;One\nend:vcard\n"
        "BEGIN:VCARD\r\nVERSION:4.0\r\nNOTE:nothing to call it\r\nEND:VCARD\r\n"
        "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:keep\r\nFN:Folded\r\n  Name\r\nEND:VCARD"
    )
    cards = list(split_cards(text))
    assert len(cards) == 4
    first = completed(cards[0])
    parsed = parse_vcard(first)
    assert parsed.title == "Lee Kim" and parsed.uid
    assert completed(cards[0]) == first  # the same card gets the same UID
    with pytest.raises(ContactRefused, match=r"version 2\.1"):
        completed(cards[1])
    with pytest.raises(ContactRefused, match="no name"):
        completed(cards[2])
    assert completed(cards[3]) == cards[3]
    assert parse_vcard(cards[3]).title == "Folded Name"


def test_export_ends_lines_with_crlf() -> None:
    out = export_text(["BEGIN:VCARD\nFN:A\nEND:VCARD", "BEGIN:VCARD\r\nFN:B\r\nEND:VCARD\r\n"])
    assert out == "BEGIN:VCARD\r\nFN:A\r\nEND:VCARD\r\nBEGIN:VCARD\r\nFN:B\r\nEND:VCARD\r\n"


@given(st.text(max_size=300))
def test_a_text_value_comes_back(text: str) -> None:
    line = format_line("NOTE", escape(text))
    folded = fold(line)
    assert all(len(part.encode("utf-8", "surrogatepass")) <= 75 for part in folded.split("\r\n"))
    (unfolded,) = unfold(folded) or [line]
    prop = parse_line(unfolded)
    assert prop is not None
    expected = text.replace("\r\n", "\n").replace("\r", "\n")
    assert prop.text == expected


@given(st.text(max_size=200))
def test_reading_any_text_does_not_crash(text: str) -> None:
    props = parse_props(text)
    fields_of(props)
    list(split_cards(text))


def test_quoted_parameters_and_groups() -> None:
    prop = parse_line('item2.ADR;LABEL="1 Main St;\\nTown";TYPE=work,pref:;;1 Main St;Town;;;')
    assert prop is not None
    assert (prop.group, prop.name, prop.types) == ("item2", "ADR", ["work", "pref"])
    assert prop.param("LABEL") == ["1 Main St;\\nTown"]
    assert prop.parts[2:4] == ["1 Main St", "Town"]


# --- notes


def test_note_titles_and_previews() -> None:
    assert title_from("\n  First line  \nsecond") == "First line"
    assert title_from("") == "(empty note)"
    now = datetime(2026, 1, 1, tzinfo=UTC)
    note = Note("notes", "n", "e", "Title", "Title\nline 1\n\nline 2\nline 3\nline 4", "", now)
    assert note.preview == "line 1\nline 2\nline 3"
    assert folder_name_for("Work ideas!") == "work-ideas" and folder_name_for("¿?") == "folder"


def test_note_checks() -> None:
    notes = Notes(None, WebmailSettings(notes_max_chars=1000), DavSettings())  # type: ignore[arg-type]
    assert notes.checked(" T ", "a\r\nb", "green") == ("T", "a\nb", "green")
    for title, text, colour, words in (
        ("", "  ", "", "Write a title"),
        ("a\nb", "x", "", "one line"),
        ("", "x" * 1001, "", "longer than 1000"),
        ("", "x", "red", "colours offered"),
    ):
        with pytest.raises(NoteRefused, match=words):
            notes.checked(title, text, colour)
