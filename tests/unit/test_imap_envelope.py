"""FETCH ENVELOPE built from the stored envelope (RFC 9051 §7.5.2, RFC 3501 §7.4.2).

Expected texts were sent by Dovecot 2.3.19.1 for the same messages; the
ImapData writer puts a space between the addresses of a list where Dovecot
juxtaposes them (`1*address`), so `spaced` inserts it before comparing.
"""

from __future__ import annotations

import pytest
from mime_corpus import (
    crlf,
    eight_bit_headers,
    mixed_with_attachment,
    nested_rfc822,
    routes_and_groups,
    simple_text,
)

from roost.proto.imap.envelope import (
    MISSING_DOMAIN,
    MISSING_MAILBOX,
    address_list,
    build_envelope,
    for_humans,
)
from roost.proto.imap.values import ImapData
from roost.proto.imap.writer import write_data
from roost.proto.mime import Address, AddressField, Envelope, Group, MessageStructure, parse_bytes
from tests.unit.imap_data import plain


def imap(value: ImapData) -> str:
    """ImapData as the writer sends it to an IMAP4rev1 client."""
    return write_data(value).decode("utf-8")


def spaced(dovecot: str) -> str:
    """Dovecot's text, exactly (addresses go out side by side: `Juxtaposed`)."""
    return dovecot


def envelope_of(data: bytes) -> tuple[ImapData, ...]:
    return build_envelope(parse_bytes(data).envelope)


def plain_envelope_of(data: bytes) -> tuple[ImapData, ...]:
    """The envelope with addresses as plain tuples, for indexing."""
    value = plain(envelope_of(data))
    assert isinstance(value, tuple)
    return value


def reply_in_thread() -> bytes:
    """A mailing-list reply: Sender and Reply-To set, commented addresses,
    an encoded-word in the subject and a commented In-Reply-To."""
    return crlf(
        "Date: Mon, 8 Apr 2024 16:05:12 -0700\n"
        'From: "Kim, Lee" <lee.kim@example.com>\n'
        "Sender: list-bounces@lists.example.org\n"
        "Reply-To: dev@lists.example.org\n"
        "To: dev@lists.example.org\n"
        'Cc: "O\'Brien, Pat" <pat@example.ie>, sam@example.net (Sam Jones)\n'
        "Bcc: archive@example.com\n"
        "Subject: Re: [dev] =?utf-8?q?caf=C3=A9?= build broken\n"
        "In-Reply-To: <CAF1234@mail.example.com> (Pat's message of Mon, 8 Apr)\n"
        "References: <CAF1234@mail.example.com>\n"
        "Message-ID: <87h6a1.fsf@example.com>\n"
        "\n"
        "body\n"
    )


def null_sender() -> bytes:
    """A bounce: null From, empty Sender, Subject and Date, a bare group."""
    return crlf("From: <>\nSender: \nTo: undisclosed-recipients:;\nSubject:\nDate:\n\nbounce\n")


def odd_addresses() -> bytes:
    return crlf(
        "From: john\n"
        'To: @example.com, foo@, "joe q"@example.org, Joe <@r1,@r2:joe@example.org>\n'
        "Cc: Empty:;, Full: x@y.z, w@y.z;\n"
        "\n"
        "x\n"
    )


# Captured from Dovecot 2.3.19.1.
DOVECOT = {
    "reply_in_thread": (
        reply_in_thread,
        '("Mon, 8 Apr 2024 16:05:12 -0700" "Re: [dev] =?utf-8?q?caf=C3=A9?= build broken"'
        ' (("Kim, Lee" NIL "lee.kim" "example.com"))'
        ' ((NIL NIL "list-bounces" "lists.example.org"))'
        ' ((NIL NIL "dev" "lists.example.org")) ((NIL NIL "dev" "lists.example.org"))'
        ' (("O\'Brien, Pat" NIL "pat" "example.ie")("Sam Jones" NIL "sam" "example.net"))'
        ' ((NIL NIL "archive" "example.com"))'
        ' "<CAF1234@mail.example.com> (Pat\'s message of Mon, 8 Apr)"'
        ' "<87h6a1.fsf@example.com>")',
    ),
    "null_sender": (
        null_sender,
        '("" "" ((NIL NIL "MISSING_MAILBOX" "MISSING_DOMAIN"))'
        ' ((NIL NIL "MISSING_MAILBOX" "MISSING_DOMAIN"))'
        ' ((NIL NIL "MISSING_MAILBOX" "MISSING_DOMAIN"))'
        ' ((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL)) NIL NIL NIL NIL)',
    ),
    "odd_addresses": (
        odd_addresses,
        '(NIL NIL ((NIL NIL "john" "MISSING_DOMAIN")) ((NIL NIL "john" "MISSING_DOMAIN"))'
        ' ((NIL NIL "john" "MISSING_DOMAIN")) ((NIL NIL "MISSING_MAILBOX" "example.com")'
        '(NIL NIL "foo" "MISSING_DOMAIN")(NIL NIL "joe q" "example.org")'
        '("Joe" "@r1,@r2" "joe" "example.org")) ((NIL NIL "Empty" NIL)(NIL NIL NIL NIL)'
        '(NIL NIL "Full" NIL)(NIL NIL "x" "y.z")(NIL NIL "w" "y.z")(NIL NIL NIL NIL))'
        " NIL NIL NIL)",
    ),
    "routes_and_groups": (
        routes_and_groups,
        '("Thu,      13        Feb          1969      23:32               -0330'
        ' (Newfoundland Time)" NIL'
        ' ((NIL "@relay1.example,@relay2.example" "joe" "example.org"))'
        ' ((NIL NIL "root" "MISSING_DOMAIN"))'
        ' (("Joe" NIL "joe" "example.org")("Jane Roe" NIL "jane" "example.org"))'
        ' (("Joe Q. Public" NIL "john.q.public" "example.com")(NIL NIL "Undisclosed" NIL)'
        '(NIL NIL NIL NIL)) (("Mary Smith" NIL "mary" "x.test")(NIL NIL "jdoe" "one.test")'
        '("Who?" NIL "one" "y.test")) ((NIL NIL "A Group" NIL)("Ed Jones" NIL "c" "a.test")'
        '(NIL NIL "joe" "where.test")("John" NIL "jdoe" "one.test")(NIL NIL NIL NIL)) NIL NIL)',
    ),
    "mixed_with_attachment": (
        mixed_with_attachment,
        '("Mon, 12 Feb 2024 08:00:00 +0100"'
        ' "=?ISO-8859-1?Q?Gr=FC=DFe?= aus =?UTF-8?Q?M=C3=BCnchen?="'
        ' (("=?UTF-8?B?SsO8cmdlbiBNw7xsbGVy?=" NIL "juergen" "example.de"))'
        ' (("=?UTF-8?B?SsO8cmdlbiBNw7xsbGVy?=" NIL "juergen" "example.de"))'
        ' (("=?UTF-8?B?SsO8cmdlbiBNw7xsbGVy?=" NIL "juergen" "example.de"))'
        ' ((NIL NIL "team" "example.de")) NIL NIL NIL "<att@example.de>")',
    ),
    "nested_rfc822": (
        nested_rfc822,
        '(NIL "Fwd: inner message" ((NIL NIL "outer" "example.com"))'
        ' ((NIL NIL "outer" "example.com")) ((NIL NIL "outer" "example.com"))'
        ' ((NIL NIL "Friends" NIL)(NIL NIL "a" "example.com")("B" NIL "b" "example.com")'
        '(NIL NIL NIL NIL)(NIL NIL "c" "example.com")) NIL NIL NIL NIL)',
    ),
}


@pytest.mark.parametrize("name", sorted(DOVECOT))
def test_envelope_is_dovecots(name: str) -> None:
    build, expected = DOVECOT[name]
    assert imap(envelope_of(build())) == spaced(expected)


def test_encoded_words_stay_encoded_and_raw_utf8_stays_utf8() -> None:
    """RFC 9051 §7.5.2: the envelope carries header text as is; RFC 6532
    8-bit headers reach the client as UTF-8 strings. A Latin-1 octet is read
    as Latin-1 (Dovecot would send the raw, invalid octet)."""
    sent = plain_envelope_of(eight_bit_headers())
    assert sent[1] == "Se\u00f1or \u2013 caf\u00e9"
    assert sent[2] == (("Jos\u00e9 Garc\u00eda", None, "jose", "example.es"),)
    assert sent[5] == (("=?utf-8?q?Ren=C3=A9?=", None, "rene", "example.fr"),)
    assert sent[6] == (("Fran\u00e7ois", None, "francois", "example.fr"),)


def test_subject_and_names_are_for_humans() -> None:
    """Folds, tabs and runs of spaces become one space in Subject and
    display names (Dovecot sends `a b c` for `a<CRLF><TAB>b<CRLF>  c`); the
    Date keeps its white space, less the line breaks."""
    sent = plain_envelope_of(simple_text())
    assert sent[1] == "Lunch on Friday?"
    data = crlf(
        "Date: Tue, 1 Jul 2003\n  10:52:37 +0200\n"
        'From: "Tab\tbed   Name" <t@example.org>\n'
        "Subject: a\n\tb\n  c\n"
        "\n"
        "x\n"
    )
    sent = plain_envelope_of(data)
    assert sent[0] == "Tue, 1 Jul 2003  10:52:37 +0200"
    assert sent[1] == "a b c"
    assert sent[2] == (("Tab bed Name", None, "t", "example.org"),)


def test_sender_and_reply_to_default_to_from() -> None:
    """RFC 3501 §7.4.2: absent or empty Sender and Reply-To take From."""
    data = crlf("From: Ann <ann@example.org>\nSender:\nTo: bo@example.org\n\nx\n")
    sent = plain_envelope_of(data)
    ann = (("Ann", None, "ann", "example.org"),)
    assert sent[2] == sent[3] == sent[4] == ann
    assert sent[5] == ((None, None, "bo", "example.org"),)


def test_absent_fields_are_nil_and_empty_lists_are_nil() -> None:
    sent = plain_envelope_of(crlf("X-Only: header\nTo:\n\nx\n"))
    assert sent == (None,) * 10


def test_no_envelope_is_all_nil() -> None:
    assert build_envelope(None) == (None,) * 10
    assert build_envelope(Envelope()) == (None,) * 10


def test_stored_structure_gives_the_same_envelope() -> None:
    structure = parse_bytes(routes_and_groups())
    stored = MessageStructure.from_json(structure.to_json())
    assert build_envelope(stored.envelope) == build_envelope(structure.envelope)


def test_group_markers() -> None:
    """RFC 3501 §7.4.2: a group is (NIL NIL name NIL), its members, then
    (NIL NIL NIL NIL); a member without domain is not an end marker."""
    field = AddressField(
        "Team: a@x.org, root;",
        (Group("Team", (Address(None, None, "a", "x.org"), Address(None, None, "root", ""))),),
    )
    assert plain(address_list(field)) == (
        (None, None, "Team", None),
        (None, None, "a", "x.org"),
        (None, None, "root", MISSING_DOMAIN),
        (None, None, None, None),
    )


def test_missing_parts_of_an_address_get_placeholders() -> None:
    field = AddressField("<>", (Address(None, None, "", ""),))
    assert plain(address_list(field)) == ((None, None, MISSING_MAILBOX, MISSING_DOMAIN),)


def test_quoted_local_part_is_unquoted() -> None:
    field = AddressField(
        "",
        (
            Address(None, None, '"joe q"', "example.org"),
            Address(None, None, '"a\\"b".c', "example.org"),
            Address(None, None, '""', "example.org"),
        ),
    )
    assert plain(address_list(field)) == (
        (None, None, "joe q", "example.org"),
        (None, None, 'a"b.c', "example.org"),
        (None, None, "", "example.org"),
    )


def test_strings_carry_no_line_breaks_or_nul() -> None:
    env = Envelope(
        date="Mon,\r\n 1 Jan 2024",
        subject="x\x00y",
        message_id="<a@b>\r\n",
        in_reply_to="<c@d>\n <e@f>",
    )
    sent = build_envelope(env)
    assert sent[0] == "Mon, 1 Jan 2024"
    assert sent[1] == "x\ufffdy"
    assert sent[8] == "<c@d> <e@f>"
    assert sent[9] == "<a@b>"


def test_for_humans() -> None:
    assert for_humans("  a \t\r\n b  ") == "a b"
    assert for_humans(" ") == ""
