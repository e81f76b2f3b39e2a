"""FETCH BODYSTRUCTURE and BODY built from the stored MIME structure (RFC 9051 §7.5.2).

The expected texts are what Dovecot 2.3.19.1 sent for the same messages
(APPENDed to a scratch Dovecot, then UID FETCH BODYSTRUCTURE BODY); ours
are written by `roost.proto.imap.writer` for an IMAP4rev1 client. One
difference is normalised before comparing (see `spaced`): the writer puts a
space between the items of every list, where the grammar juxtaposes body
parts (`1*body`) and addresses (`1*address`).
"""

from __future__ import annotations

import base64
import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mime_corpus import (
    CORPUS,
    boundary_never_appears,
    crlf,
    message_global,
    no_boundary_parameter,
)

from roost.proto.imap.bodystructure import (
    build_body,
    build_bodystructure,
    extended_value,
    parameter_list,
)
from roost.proto.imap.values import ImapData, Juxtaposed
from roost.proto.imap.writer import write_data
from roost.proto.mime import MessageStructure, Parameter, parse_bytes
from tests.unit.imap_data import plain


def imap(value: ImapData) -> str:
    """ImapData as the writer sends it to an IMAP4rev1 client."""
    return write_data(value).decode("utf-8")


def spaced(dovecot: str) -> str:
    """Dovecot's text, exactly: adjacent bodies and addresses go out with no
    space between them (`Juxtaposed`)."""
    return dovecot


def bodystructure(data: bytes, message_global: bool = False) -> str:
    return imap(build_bodystructure(parse_bytes(data), message_global=message_global))


def body(data: bytes, message_global: bool = False) -> str:
    return imap(build_body(parse_bytes(data), message_global=message_global))


PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(range(60))).decode()


def apple_alternative_related() -> bytes:
    """Apple Mail: text and HTML alternatives, the HTML with an inline image."""
    return crlf(
        "From: Anna Berg <anna@example.se>\n"
        'Content-Type: multipart/alternative;\n boundary="Apple-Mail=_5E1A2B3C-1"\n'
        "Mime-Version: 1.0 (Mac OS X Mail 16.0)\n"
        "Subject: =?utf-8?Q?M=C3=B6te_p=C3=A5_fredag?=\n"
        "Date: Fri, 15 Mar 2024 09:30:00 +0100\n"
        "Message-Id: <5E1A2B3C@example.se>\n"
        "To: Team <team@example.se>\n"
        "\n"
        "\n"
        "--Apple-Mail=_5E1A2B3C-1\n"
        "Content-Transfer-Encoding: quoted-printable\n"
        "Content-Type: text/plain;\n\tcharset=utf-8\n"
        "\n"
        "Hej! Vi ses p=C3=A5 fredag.\n"
        "\n"
        "--Apple-Mail=_5E1A2B3C-1\n"
        'Content-Type: multipart/related;\n\ttype="text/html";\n'
        '\tboundary="Apple-Mail=_5E1A2B3C-2"\n'
        "\n"
        "\n"
        "--Apple-Mail=_5E1A2B3C-2\n"
        "Content-Transfer-Encoding: quoted-printable\n"
        "Content-Type: text/html;\n\tcharset=utf-8\n"
        "\n"
        "<html><head><style>p {color: red}</style></head><body><p>Hej! Vi ses p=C3=A5 fre"
        "dag.</p>=\n"
        '<img src=3D"cid:logo@example.se"><script>alert(1)</script></body></html>\n'
        "\n"
        "--Apple-Mail=_5E1A2B3C-2\n"
        "Content-Transfer-Encoding: base64\n"
        "Content-Disposition: inline;\n\tfilename=logo.png\n"
        'Content-Type: image/png;\n\tx-unix-mode=0644;\n\tname="logo.png"\n'
        "Content-Id: <logo@example.se>\n"
        "\n" + PNG + "\n"
        "\n"
        "--Apple-Mail=_5E1A2B3C-2--\n"
        "\n"
        "--Apple-Mail=_5E1A2B3C-1--\n"
    )


FORWARDED_INNER = (
    "Return-Path: <bob@example.net>\n"
    "Message-ID: <orig-42@example.net>\n"
    "Date: Tue, 2 Apr 2024 11:00:00 +0200\n"
    "From: =?UTF-8?B?QsO2YiBEw7xycg==?= <bob@example.net>\n"
    "To: alice@example.org\n"
    "Subject: =?UTF-8?Q?R=C3=A9union_budget?=\n"
    'Content-Type: multipart/alternative; boundary="000000000000a1b2c3"\n'
    "\n"
    "--000000000000a1b2c3\n"
    'Content-Type: text/plain; charset="UTF-8"\n'
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    "Le budget est pr=C3=AAt.\n"
    "\n"
    "--000000000000a1b2c3\n"
    'Content-Type: text/html; charset="UTF-8"\n'
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    '<div dir=3D"ltr">Le budget est pr=C3=AAt.</div>\n'
    "\n"
    "--000000000000a1b2c3--\n"
)


def thunderbird_forward() -> bytes:
    """Thunderbird "forward as attachment": message/rfc822 with an RFC 2231
    filename split in two sections."""
    return crlf(
        "Message-ID: <fwd-7@example.org>\n"
        "Date: Tue, 2 Apr 2024 12:00:00 +0200\n"
        "MIME-Version: 1.0\n"
        "User-Agent: Mozilla Thunderbird\n"
        "From: Alice <alice@example.org>\n"
        "Subject: =?UTF-8?Q?Fwd=3A_R=C3=A9union_budget?=\n"
        "To: carol@example.com\n"
        'Content-Type: multipart/mixed; boundary="------------Zx8Kq1"\n'
        "\n"
        "This is a multi-part message in MIME format.\n"
        "--------------Zx8Kq1\n"
        "Content-Type: text/plain; charset=UTF-8; format=flowed\n"
        "Content-Transfer-Encoding: 7bit\n"
        "\n"
        "See below.\n"
        "\n"
        "--------------Zx8Kq1\n"
        "Content-Type: message/rfc822; charset=UTF-8;"
        ' name="=?UTF-8?Q?R=C3=A9union_budget=2Eeml?="\n'
        "Content-Disposition: attachment;\n"
        " filename*0*=UTF-8''R%C3%A9union%20bud;\n"
        " filename*1*=get.eml\n"
        "\n" + FORWARDED_INNER + "\n"
        "--------------Zx8Kq1--\n"
    )


def pgp_signed() -> bytes:
    """PGP/MIME signed (RFC 3156 §5)."""
    return crlf(
        "From: Dana <dana@example.org>\n"
        "To: Eve <eve@example.com>\n"
        "Subject: signed\n"
        "Date: Wed, 3 Apr 2024 08:00:00 +0000\n"
        "Message-ID: <sig-1@example.org>\n"
        "MIME-Version: 1.0\n"
        "Content-Type: multipart/signed; micalg=pgp-sha256;\n"
        ' protocol="application/pgp-signature";\n'
        ' boundary="------------sig0"\n'
        "\n"
        "This is an OpenPGP/MIME signed message (RFC 4880 and 3156)\n"
        "--------------sig0\n"
        "Content-Type: text/plain; charset=UTF-8; format=flowed\n"
        "Content-Transfer-Encoding: 7bit\n"
        "\n"
        "Signed text.\n"
        "\n"
        "--------------sig0\n"
        'Content-Type: application/pgp-signature; name="OpenPGP_signature.asc"\n'
        "Content-Description: OpenPGP digital signature\n"
        'Content-Disposition: attachment; filename="OpenPGP_signature.asc"\n'
        "\n"
        "-----BEGIN PGP SIGNATURE-----\n"
        "\n"
        "wnsEABYIACMWIQQ=\n"
        "=abcd\n"
        "-----END PGP SIGNATURE-----\n"
        "\n"
        "--------------sig0--\n"
    )


def smime_signed() -> bytes:
    """S/MIME signed (RFC 8551 §3.5.3) around multipart/alternative."""
    return crlf(
        "From: Frank <frank@example.org>\n"
        "To: grace@example.com\n"
        "Subject: S/MIME signed\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/signed; protocol="application/pkcs7-signature";'
        ' micalg=sha-256; boundary="----=_smime_1"\n'
        "\n"
        "This is an S/MIME signed message\n"
        "\n"
        "------=_smime_1\n"
        'Content-Type: multipart/alternative; boundary="----=_alt_2"\n'
        "\n"
        "------=_alt_2\n"
        'Content-Type: text/plain; charset="us-ascii"\n'
        "Content-Transfer-Encoding: 7bit\n"
        "\n"
        "Plain.\n"
        "\n"
        "------=_alt_2\n"
        'Content-Type: text/html; charset="us-ascii"\n'
        "Content-Transfer-Encoding: quoted-printable\n"
        "\n"
        "<p>Plain.</p>\n"
        "\n"
        "------=_alt_2--\n"
        "\n"
        "------=_smime_1\n"
        'Content-Type: application/pkcs7-signature; name="smime.p7s"\n'
        "Content-Transfer-Encoding: base64\n"
        'Content-Disposition: attachment; filename="smime.p7s"\n'
        "Content-Description: S/MIME Cryptographic Signature\n"
        "\n"
        "MIAGCSqGSIb3DQEHAqCAMIACAQExDzANBglghkgBZQMEAgEFADCABgkqhkiG9w0BBwEAAKCCAw==\n"
        "\n"
        "------=_smime_1--\n"
    )


def pgp_encrypted() -> bytes:
    """PGP/MIME encrypted (RFC 3156 §4)."""
    return crlf(
        "From: Dana <dana@example.org>\n"
        "To: Eve <eve@example.com>\n"
        "Subject: ...\n"
        "MIME-Version: 1.0\n"
        "Content-Type: multipart/encrypted;\n"
        ' protocol="application/pgp-encrypted";\n'
        ' boundary="------------enc1"\n'
        "\n"
        "This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)\n"
        "--------------enc1\n"
        "Content-Type: application/pgp-encrypted\n"
        "Content-Description: PGP/MIME version identification\n"
        "\n"
        "Version: 1\n"
        "\n"
        "--------------enc1\n"
        'Content-Type: application/octet-stream; name="encrypted.asc"\n'
        "Content-Description: OpenPGP encrypted message\n"
        'Content-Disposition: inline; filename="encrypted.asc"\n'
        "\n"
        "-----BEGIN PGP MESSAGE-----\n"
        "\n"
        "hF4DAAAAAAAAAAASAQdAexample\n"
        "=wxyz\n"
        "-----END PGP MESSAGE-----\n"
        "\n"
        "--------------enc1--\n"
    )


def smime_encrypted() -> bytes:
    """S/MIME enveloped data (RFC 8551 §3.3): a single base64 part."""
    return crlf(
        "From: Frank <frank@example.org>\n"
        "To: grace@example.com\n"
        "Subject: S/MIME encrypted\n"
        "MIME-Version: 1.0\n"
        'Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"\n'
        "Content-Transfer-Encoding: base64\n"
        'Content-Disposition: attachment; filename="smime.p7m"\n'
        "Content-Description: S/MIME Encrypted Message\n"
        "\n"
        "MIAGCSqGSIb3DQEHA6CAMIACAQAxggFZ\n"
    )


def outlook_attachment() -> bytes:
    """Outlook: Latin-1 RFC 2047 words, an RFC 2231 filename among plain
    disposition parameters, and Content-Language on the multipart."""
    return crlf(
        "From: =?iso-8859-1?Q?J=F6rg_M=FCller?= <joerg@example.de>\n"
        'To: "Buchhaltung" <buha@example.de>\n'
        "Subject: =?iso-8859-1?Q?Rechnung_M=E4rz?=\n"
        "Date: Thu, 4 Apr 2024 10:15:00 +0000\n"
        "Message-ID: <AM0PR01MB1234@eurprd01.prod.outlook.com>\n"
        "Content-Language: de-DE\n"
        'Content-Type: multipart/mixed;\n\tboundary="_004_AM0PR01MB1234_"\n'
        "MIME-Version: 1.0\n"
        "\n"
        "--_004_AM0PR01MB1234_\n"
        'Content-Type: text/plain; charset="iso-8859-1"\n'
        "Content-Transfer-Encoding: quoted-printable\n"
        "\n"
        "Anbei die Rechnung f=FCr M=E4rz.\n"
        "\n"
        "--_004_AM0PR01MB1234_\n"
        'Content-Type: application/pdf; name="=?iso-8859-1?Q?Rechnung_M=E4rz.pdf?="\n'
        "Content-Description: =?iso-8859-1?Q?Rechnung_M=E4rz.pdf?=\n"
        "Content-Disposition: attachment;\n"
        "\tfilename*=iso-8859-1''Rechnung%20M%E4rz.pdf; size=1234;\n"
        '\tcreation-date="Thu, 04 Apr 2024 10:14:00 GMT";\n'
        '\tmodification-date="Thu, 04 Apr 2024 10:14:00 GMT"\n'
        "Content-Transfer-Encoding: base64\n"
        "\n"
        "JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFI+PgpzdHJlYW0K\n"
        "\n"
        "--_004_AM0PR01MB1234_--\n"
    )


def digest_blank() -> bytes:
    """multipart/digest: a part without Content-Type is message/rfc822
    (RFC 2046 §5.1.5)."""
    return crlf(
        "From: list@example.org\n"
        "Subject: Digest 43\n"
        "MIME-Version: 1.0\n"
        "Content-Type: multipart/digest; boundary=dig\n"
        "\n"
        "--dig\n"
        "\n"
        "From: one@example.org\n"
        "Subject: first\n"
        "\n"
        "first body\n"
        "\n"
        "--dig\n"
        "Content-Type: text/plain\n"
        "\n"
        "a text part in a digest\n"
        "\n"
        "--dig--\n"
    )


def rfc822_top() -> bytes:
    """A message whose own type is message/rfc822."""
    return crlf(
        "From: mailer-daemon@example.org\n"
        "Subject: returned\n"
        "MIME-Version: 1.0\n"
        "Content-Type: message/rfc822\n"
        "\n"
        "From: x@example.org\n"
        "Subject: inner\n"
        "\n"
        "inner body\n"
    )


def bad_content_type() -> bytes:
    """Spam-shaped: a type without subtype, base64 HTML, and a multipart
    without a boundary parameter."""
    return crlf(
        "From: spammer@example.biz\n"
        "To: victim@example.org\n"
        "Subject: =?utf-8?B?8J+SsA==?= Win\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="outer"\n'
        "\n"
        "--outer\n"
        "Content-Type: text\n"
        "\n"
        "no subtype\n"
        "\n"
        "--outer\n"
        'Content-Type: text/html; charset="utf-8"\n'
        "Content-Transfer-Encoding: base64\n"
        "\n"
        "PGI+V2luPC9iPiAmYW1wOyBzbWlsZSAmIzEyODUxMjs=\n"
        "\n"
        "--outer\n"
        "Content-Type: multipart/alternative\n"
        "\n"
        "--inner\n"
        "\n"
        "lost\n"
        "--inner--\n"
        "\n"
        "--outer--\n"
    )


def encoded_rfc822() -> bytes:
    """message/rfc822 with a base64 transfer encoding, which RFC 2046
    §5.2.1 forbids: the parser leaves it unparsed."""
    inner = base64.b64encode(b"Subject: hidden\r\n\r\nx\r\n").decode()
    return crlf(
        "From: a@example.org\n"
        "MIME-Version: 1.0\n"
        "Content-Type: multipart/mixed; boundary=g\n"
        "\n"
        "--g\n"
        "Content-Type: message/rfc822\n"
        "Content-Transfer-Encoding: base64\n"
        "\n" + inner + "\n"
        "\n"
        "--g--\n"
    )


def partial_last_lines() -> bytes:
    """Text parts whose last line has no line break before the delimiter."""
    return crlf(
        "From: a@example.org\n"
        "Content-Type: multipart/alternative; boundary=b\n"
        "\n"
        "--b\n"
        "Content-Type: text/plain; charset=us-ascii\n"
        "\n"
        "one\n"
        "two\n"
        "--b\n"
        "Content-Type: text/html; charset=us-ascii\n"
        "\n"
        "<p>one two</p>\n"
        "--b--\n"
    )


# Captured from Dovecot 2.3.19.1: (BODYSTRUCTURE, BODY).
DOVECOT: dict[str, tuple[str, str]] = {
    "apple_alternative_related": (
        '(("text" "plain" ("charset" "utf-8") NIL NIL "quoted-printable" 29 1 NIL NIL NIL NIL)'
        '(("text" "html" ("charset" "utf-8") NIL NIL "quoted-printable" 165 2 NIL NIL NIL NIL)'
        '("image" "png" ("x-unix-mode" "0644" "name" "logo.png") "<logo@example.se>" NIL'
        ' "base64" 94 NIL ("inline" ("filename" "logo.png")) NIL NIL) "related"'
        ' ("type" "text/html" "boundary" "Apple-Mail=_5E1A2B3C-2") NIL NIL NIL) "alternative"'
        ' ("boundary" "Apple-Mail=_5E1A2B3C-1") NIL NIL NIL)',
        '(("text" "plain" ("charset" "utf-8") NIL NIL "quoted-printable" 29 1)'
        '(("text" "html" ("charset" "utf-8") NIL NIL "quoted-printable" 165 2)'
        '("image" "png" ("x-unix-mode" "0644" "name" "logo.png") "<logo@example.se>" NIL'
        ' "base64" 94) "related") "alternative")',
    ),
    "thunderbird_forward": (
        '(("text" "plain" ("charset" "UTF-8" "format" "flowed") NIL NIL "7bit" 12 1 NIL NIL NIL'
        ' NIL)("message" "rfc822" ("charset" "UTF-8" "name"'
        ' "=?UTF-8?Q?R=C3=A9union_budget=2Eeml?=") NIL NIL "7bit" 620'
        ' ("Tue, 2 Apr 2024 11:00:00 +0200" "=?UTF-8?Q?R=C3=A9union_budget?="'
        ' (("=?UTF-8?B?QsO2YiBEw7xycg==?=" NIL "bob" "example.net"))'
        ' (("=?UTF-8?B?QsO2YiBEw7xycg==?=" NIL "bob" "example.net"))'
        ' (("=?UTF-8?B?QsO2YiBEw7xycg==?=" NIL "bob" "example.net"))'
        ' ((NIL NIL "alice" "example.org")) NIL NIL NIL "<orig-42@example.net>")'
        ' (("text" "plain" ("charset" "UTF-8") NIL NIL "quoted-printable" 26 1 NIL NIL NIL NIL)'
        '("text" "html" ("charset" "UTF-8") NIL NIL "quoted-printable" 49 1 NIL NIL NIL NIL)'
        ' "alternative" ("boundary" "000000000000a1b2c3") NIL NIL NIL) 21 NIL'
        ' ("attachment" ("filename*" "UTF-8\'\'R%C3%A9union%20budget.eml")) NIL NIL)'
        ' "mixed" ("boundary" "------------Zx8Kq1") NIL NIL NIL)',
        '(("text" "plain" ("charset" "UTF-8" "format" "flowed") NIL NIL "7bit" 12 1)'
        '("message" "rfc822" ("charset" "UTF-8" "name" "=?UTF-8?Q?R=C3=A9union_budget=2Eeml?=")'
        ' NIL NIL "7bit" 620 ("Tue, 2 Apr 2024 11:00:00 +0200" "=?UTF-8?Q?R=C3=A9union_budget?="'
        ' (("=?UTF-8?B?QsO2YiBEw7xycg==?=" NIL "bob" "example.net"))'
        ' (("=?UTF-8?B?QsO2YiBEw7xycg==?=" NIL "bob" "example.net"))'
        ' (("=?UTF-8?B?QsO2YiBEw7xycg==?=" NIL "bob" "example.net"))'
        ' ((NIL NIL "alice" "example.org")) NIL NIL NIL "<orig-42@example.net>")'
        ' (("text" "plain" ("charset" "UTF-8") NIL NIL "quoted-printable" 26 1)'
        '("text" "html" ("charset" "UTF-8") NIL NIL "quoted-printable" 49 1) "alternative")'
        ' 21) "mixed")',
    ),
    "pgp_signed": (
        '(("text" "plain" ("charset" "UTF-8" "format" "flowed") NIL NIL "7bit" 14 1 NIL NIL NIL'
        ' NIL)("application" "pgp-signature" ("name" "OpenPGP_signature.asc") NIL'
        ' "OpenPGP digital signature" "7bit" 87 NIL'
        ' ("attachment" ("filename" "OpenPGP_signature.asc")) NIL NIL) "signed"'
        ' ("micalg" "pgp-sha256" "protocol" "application/pgp-signature"'
        ' "boundary" "------------sig0") NIL NIL NIL)',
        '(("text" "plain" ("charset" "UTF-8" "format" "flowed") NIL NIL "7bit" 14 1)'
        '("application" "pgp-signature" ("name" "OpenPGP_signature.asc") NIL'
        ' "OpenPGP digital signature" "7bit" 87) "signed")',
    ),
    "smime_signed": (
        '((("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 8 1 NIL NIL NIL NIL)'
        '("text" "html" ("charset" "us-ascii") NIL NIL "quoted-printable" 15 1 NIL NIL NIL NIL)'
        ' "alternative" ("boundary" "----=_alt_2") NIL NIL NIL)'
        '("application" "pkcs7-signature" ("name" "smime.p7s") NIL'
        ' "S/MIME Cryptographic Signature" "base64" 78 NIL'
        ' ("attachment" ("filename" "smime.p7s")) NIL NIL) "signed"'
        ' ("protocol" "application/pkcs7-signature" "micalg" "sha-256"'
        ' "boundary" "----=_smime_1") NIL NIL NIL)',
        '((("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 8 1)'
        '("text" "html" ("charset" "us-ascii") NIL NIL "quoted-printable" 15 1) "alternative")'
        '("application" "pkcs7-signature" ("name" "smime.p7s") NIL'
        ' "S/MIME Cryptographic Signature" "base64" 78) "signed")',
    ),
    "pgp_encrypted": (
        '(("application" "pgp-encrypted" NIL NIL "PGP/MIME version identification" "7bit" 12'
        ' NIL NIL NIL NIL)("application" "octet-stream" ("name" "encrypted.asc") NIL'
        ' "OpenPGP encrypted message" "7bit" 94 NIL ("inline" ("filename" "encrypted.asc"))'
        ' NIL NIL) "encrypted" ("protocol" "application/pgp-encrypted"'
        ' "boundary" "------------enc1") NIL NIL NIL)',
        '(("application" "pgp-encrypted" NIL NIL "PGP/MIME version identification" "7bit" 12)'
        '("application" "octet-stream" ("name" "encrypted.asc") NIL'
        ' "OpenPGP encrypted message" "7bit" 94) "encrypted")',
    ),
    "smime_encrypted": (
        '("application" "pkcs7-mime" ("smime-type" "enveloped-data" "name" "smime.p7m") NIL'
        ' "S/MIME Encrypted Message" "base64" 34 NIL ("attachment" ("filename" "smime.p7m"))'
        " NIL NIL)",
        '("application" "pkcs7-mime" ("smime-type" "enveloped-data" "name" "smime.p7m") NIL'
        ' "S/MIME Encrypted Message" "base64" 34)',
    ),
    "outlook_attachment": (
        '(("text" "plain" ("charset" "iso-8859-1") NIL NIL "quoted-printable" 34 1 NIL NIL NIL'
        ' NIL)("application" "pdf" ("name" "=?iso-8859-1?Q?Rechnung_M=E4rz.pdf?=") NIL'
        ' "=?iso-8859-1?Q?Rechnung_M=E4rz.pdf?=" "base64" 66 NIL ("attachment"'
        ' ("size" "1234" "creation-date" "Thu, 04 Apr 2024 10:14:00 GMT"'
        ' "modification-date" "Thu, 04 Apr 2024 10:14:00 GMT"'
        ' "filename*" "iso-8859-1\'\'Rechnung%20M%E4rz.pdf")) NIL NIL) "mixed"'
        ' ("boundary" "_004_AM0PR01MB1234_") NIL ("de-DE") NIL)',
        '(("text" "plain" ("charset" "iso-8859-1") NIL NIL "quoted-printable" 34 1)'
        '("application" "pdf" ("name" "=?iso-8859-1?Q?Rechnung_M=E4rz.pdf?=") NIL'
        ' "=?iso-8859-1?Q?Rechnung_M=E4rz.pdf?=" "base64" 66) "mixed")',
    ),
    "digest_blank": (
        '(("message" "rfc822" NIL NIL NIL "7bit" 53 (NIL "first"'
        ' ((NIL NIL "one" "example.org")) ((NIL NIL "one" "example.org"))'
        ' ((NIL NIL "one" "example.org")) NIL NIL NIL NIL NIL)'
        ' ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 12 1 NIL NIL NIL NIL) 4'
        ' NIL NIL NIL NIL)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 25 1 NIL NIL'
        ' NIL NIL) "digest" ("boundary" "dig") NIL NIL NIL)',
        '(("message" "rfc822" NIL NIL NIL "7bit" 53 (NIL "first"'
        ' ((NIL NIL "one" "example.org")) ((NIL NIL "one" "example.org"))'
        ' ((NIL NIL "one" "example.org")) NIL NIL NIL NIL NIL)'
        ' ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 12 1) 4)'
        '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 25 1) "digest")',
    ),
    "rfc822_top": (
        '("message" "rfc822" NIL NIL NIL "7bit" 51 (NIL "inner"'
        ' ((NIL NIL "x" "example.org")) ((NIL NIL "x" "example.org"))'
        ' ((NIL NIL "x" "example.org")) NIL NIL NIL NIL NIL)'
        ' ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 12 1 NIL NIL NIL NIL) 4'
        " NIL NIL NIL NIL)",
        '("message" "rfc822" NIL NIL NIL "7bit" 51 (NIL "inner"'
        ' ((NIL NIL "x" "example.org")) ((NIL NIL "x" "example.org"))'
        ' ((NIL NIL "x" "example.org")) NIL NIL NIL NIL NIL)'
        ' ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 12 1) 4)',
    ),
    "no_boundary_parameter": (
        '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL) "mixed"'
        " NIL NIL NIL NIL)",
        '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0) "mixed")',
    ),
    "boundary_never_appears": (
        '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL) "mixed"'
        ' ("boundary" "nowhere") NIL NIL NIL)',
        '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0) "mixed")',
    ),
}

MESSAGES = {
    "apple_alternative_related": apple_alternative_related,
    "thunderbird_forward": thunderbird_forward,
    "pgp_signed": pgp_signed,
    "smime_signed": smime_signed,
    "pgp_encrypted": pgp_encrypted,
    "smime_encrypted": smime_encrypted,
    "outlook_attachment": outlook_attachment,
    "digest_blank": digest_blank,
    "rfc822_top": rfc822_top,
    "no_boundary_parameter": no_boundary_parameter,
    "boundary_never_appears": boundary_never_appears,
}


@pytest.mark.parametrize("name", sorted(DOVECOT))
def test_bodystructure_is_dovecots(name: str) -> None:
    assert bodystructure(MESSAGES[name]()) == spaced(DOVECOT[name][0])


@pytest.mark.parametrize("name", sorted(DOVECOT))
def test_body_is_dovecots(name: str) -> None:
    assert body(MESSAGES[name]()) == spaced(DOVECOT[name][1])


@pytest.mark.parametrize("name", sorted(DOVECOT))
def test_the_stored_structure_gives_the_same_answer(name: str) -> None:
    structure = parse_bytes(MESSAGES[name]())
    stored = MessageStructure.from_json(structure.to_json())
    assert build_bodystructure(stored) == build_bodystructure(structure)
    assert build_body(stored) == build_body(structure)


def test_bad_content_type_defaults_to_text_plain() -> None:
    """RFC 2045 §5.2: an invalid Content-Type means text/plain; us-ascii.
    Dovecot sends `"text" ""` for `Content-Type: text`; the default is both
    what the RFC asks and what a client can display."""
    sent = bodystructure(bad_content_type())
    assert sent == (
        '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 12 1 NIL NIL NIL NIL)'
        '("text" "html" ("charset" "utf-8") NIL NIL "base64" 46 1 NIL NIL NIL NIL)'
        '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL)'
        ' "alternative" NIL NIL NIL NIL) "mixed" ("boundary" "outer") NIL NIL NIL)'
    )


def test_unparsed_message_part_gets_an_empty_envelope_and_body() -> None:
    """The grammar needs envelope, body and lines after message/rfc822
    even when the part could not be parsed (here: base64-encoded)."""
    sent = bodystructure(encoded_rfc822())
    assert sent == (
        '(("message" "rfc822" NIL NIL NIL "base64" 34 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)'
        ' ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL) 1'
        ' NIL NIL NIL NIL) "mixed" ("boundary" "g") NIL NIL NIL)'
    )


def test_message_global_is_basic_in_imap4rev1_and_a_message_in_imap4rev2() -> None:
    """RFC 9051 §9 `media-message` includes GLOBAL; RFC 3501 does not, and
    Dovecot 2.3 (IMAP4rev1) sends message/global as a basic part."""
    data = message_global()
    rev1 = plain(build_bodystructure(parse_bytes(data)))
    rev2 = plain(build_bodystructure(parse_bytes(data), message_global=True))
    assert imap(rev1[0]) == '("message" "global" NIL NIL NIL "8bit" 67 NIL NIL NIL NIL)'
    first = rev2[0]
    assert isinstance(first, tuple)
    assert first[:7] == ("message", "global", None, None, None, "8bit", 67)
    envelope, inner, lines = first[7:10]
    assert isinstance(envelope, tuple)
    assert envelope[1] == "こんにちは"
    assert envelope[2] == (("田中", None, "tanaka", "例え.jp"),)
    assert isinstance(inner, tuple)
    assert inner[:2] == ("text", "plain")
    assert lines == 3  # line feeds, as Dovecot counts


def test_lines_of_a_last_line_without_break_are_dovecots() -> None:
    assert bodystructure(partial_last_lines()) == spaced(
        '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 8 1 NIL NIL NIL NIL)'
        '("text" "html" ("charset" "us-ascii") NIL NIL "7bit" 14 0 NIL NIL NIL NIL)'
        ' "alternative" ("boundary" "b") NIL NIL NIL)'
    )


def test_case_is_as_stored() -> None:
    """The parser lowercases type, subtype, parameter names, the encoding
    and the disposition type; values keep their case. (Dovecot sends all
    as written: `("TEXT" "PLAIN" ("CHARSET" "US-ASCII" ...` for Pine mail.)"""
    data = crlf(
        "From: pine@example.edu\n"
        "MIME-Version: 1.0\n"
        "Content-Type: TEXT/PLAIN; CHARSET=US-ASCII; FORMAT=flowed\n"
        "Content-Transfer-Encoding: QUOTED-PRINTABLE\n"
        "Content-Disposition: INLINE\n"
        "\n"
        "body\n"
    )
    assert bodystructure(data) == (
        '("text" "plain" ("charset" "US-ASCII" "format" "flowed") NIL NIL "quoted-printable"'
        ' 6 1 NIL ("inline" NIL) NIL NIL)'
    )


# -- parameters ----------------------------------------------------------------


def test_text_parts_get_the_default_charset_last() -> None:
    params = (Parameter("name", "a.txt"),)
    assert parameter_list(params, text=True) == ("name", "a.txt", "charset", "us-ascii")
    assert parameter_list(params) == ("name", "a.txt")
    assert parameter_list((), text=True) == ("charset", "us-ascii")
    assert parameter_list(()) is None


def test_rfc2231_parameters_come_after_the_plain_ones_sorted() -> None:
    params = (
        Parameter("title", "***fun***", "us-ascii", "en-us"),
        Parameter("x", "1"),
        Parameter("name", "caf\u00e9.pdf", "UTF-8", None),
    )
    assert parameter_list(params) == (
        "x",
        "1",
        "name*",
        "UTF-8''caf%C3%A9.pdf",
        "title*",
        "us-ascii'en-us'%2A%2A%2Afun%2A%2A%2A",
    )


def test_extended_values_are_escaped_canonically() -> None:
    """The structure keeps decoded values, so escapes are rebuilt in upper
    case and only where RFC 2231 needs them; Dovecot repeats the sender's
    (`caf%c3%a9%2Etxt` stays so there, becomes `caf%C3%A9.txt` here)."""
    data = crlf(
        "From: a@example.org\n"
        "Content-Type: application/octet-stream; name*=utf-8''caf%c3%a9%2Etxt\n"
        "\n"
        "data\n"
    )
    assert bodystructure(data) == (
        '("application" "octet-stream" ("name*" "utf-8\'\'caf%C3%A9.txt") NIL NIL'
        ' "7bit" 6 NIL NIL NIL NIL)'
    )


def test_an_extended_value_the_charset_cannot_hold_goes_out_as_utf8() -> None:
    assert extended_value(Parameter("name", "\ufffd.txt", "iso-8859-1", None)) == (
        "utf-8''%EF%BF%BD.txt"
    )
    assert extended_value(Parameter("name", "x y", "x-unknown-charset", "de")) == (
        "x-unknown-charset'de'x%20y"
    )


def test_strings_never_carry_line_breaks_or_nul() -> None:
    data = crlf(
        "From: a@example.org\n"
        'Content-Type: text/plain; name="a\\\rb"\n'
        "Content-Description: one\r two\x00\n"
        "\n"
        "x\n"
    )
    sent = plain(build_bodystructure(parse_bytes(data)))
    assert sent[2] == ("name", "ab", "charset", "us-ascii")
    assert sent[4] == "one two\ufffd"


# -- robustness ----------------------------------------------------------------


def _well_formed(value: ImapData) -> None:
    """Walks BODYSTRUCTURE data: every list is non-empty, every string
    fit for the writer."""
    if isinstance(value, Juxtaposed):
        assert value.items
        for item in value.items:
            _well_formed(item)
    elif isinstance(value, tuple):
        assert value
        for item in value:
            _well_formed(item)
    elif isinstance(value, str):
        assert "\r" not in value and "\n" not in value and "\x00" not in value
    else:
        assert value is None or isinstance(value, int)


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_every_corpus_message_builds(name: str) -> None:
    structure = parse_bytes(CORPUS[name]())
    for message_global_flag in (False, True):
        _well_formed(build_bodystructure(structure, message_global=message_global_flag))
        _well_formed(build_body(structure, message_global=message_global_flag))


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=600))
def test_any_input_builds(data: bytes) -> None:
    structure = parse_bytes(b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n" + data)
    _well_formed(build_bodystructure(structure))
    _well_formed(build_body(structure, message_global=True))


def test_corrupt_stored_children_are_not_followed() -> None:
    """A stored child index that does not point forward is skipped, so a
    corrupt row cannot loop."""
    structure = parse_bytes(pgp_encrypted())
    root = structure.parts[0]
    bad_root = dataclasses.replace(root, children=(0, 1, 99))
    broken = MessageStructure((bad_root, *structure.parts[1:]), structure.size)
    sent = plain(build_body(broken))
    assert sent[-1] == "encrypted"
    assert len(sent) == 2
