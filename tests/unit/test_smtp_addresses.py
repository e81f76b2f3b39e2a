"""Paths of MAIL and RCPT (RFC 5321 §4.1.2), with SMTPUTF8 (RFC 6531)."""

from __future__ import annotations

import pytest

from roost.proto.smtp import MailFrom, RcptTo
from roost.proto.smtp.addresses import (
    hello_name_ok,
    is_address_literal,
    is_domain,
    parse_mailbox,
    parse_path,
)
from roost.proto.smtp.errors import NonAsciiPathError, PathSyntaxError
from tests.unit.test_smtp_harness import Peer


@pytest.mark.parametrize(
    ("path", "address"),
    [
        ("<a@b.example>", "a@b.example"),
        ("<>", ""),
        ("<First.Last@Example.COM>", "First.Last@Example.COM"),
        ("<user+tag@example.com>", "user+tag@example.com"),
        ("<!#$%&'*+-/=?^_`{|}~@example.com>", "!#$%&'*+-/=?^_`{|}~@example.com"),
        ('<"john.doe"@example.com>', "john.doe@example.com"),
        ('<"john doe"@example.com>', '"john doe"@example.com'),
        ('<"a\\"b\\\\c"@example.com>', '"a\\"b\\\\c"@example.com'),
        ('<"\\x"@example.com>', "x@example.com"),
        ('<"a>b"@example.com>', '"a>b"@example.com'),
        ('<""@example.com>', '""@example.com'),
        ("<a@[192.0.2.1]>", "a@[192.0.2.1]"),
        ("<a@[IPv6:2001:db8::1]>", "a@[IPv6:2001:db8::1]"),
        ("<a@[ipv6:::ffff:192.0.2.1]>", "a@[ipv6:::ffff:192.0.2.1]"),
        ("<@relay1.example,@relay2.example:user@example.com>", "user@example.com"),
        ("<a@x-y.example>", "a@x-y.example"),
        ("<a@1.example>", "a@1.example"),
    ],
)
def test_valid_paths(path: str, address: str) -> None:
    assert parse_path(path, null_ok=True, postmaster_ok=False, utf8=False) == (address, "")


@pytest.mark.parametrize(
    "path",
    [
        "a@b.example",
        "<a@b.example",
        "<a..b@c.example>",
        "<.a@c.example>",
        "<a.@c.example>",
        "<a b@c.example>",
        "<a@b>junk",
        "<@relay.example:>",
        "<@relay.example user@example.com>",
        "<@relay..example:user@example.com>",
        "<a@-b.example>",
        "<a@b-.example>",
        "<a@b..example>",
        "<a@.example>",
        "<a@b.example.>",
        "<a@>",
        "<@b.example>",
        "<a>",
        '<"unterminated@b.example>',
        '<"\\\u00e9"@b.example>',
        '<"a"b@c.example>',
        "<a@[300.1.1.1]>",
        "<a@[1.2.3]>",
        "<a@[IPv6:xyz]>",
        "<a@[IPv6:fe80::1%eth0]>",
        "<a@[tag:foo]>",
        "<a@b_c.example>",
        "<a@" + "x" * 64 + ".example>",
        "<a@" + ".".join(["abcdefghi"] * 26) + ">",
    ],
)
def test_invalid_paths(path: str) -> None:
    with pytest.raises(PathSyntaxError):
        _, rest = parse_path(path, null_ok=True, postmaster_ok=False, utf8=True)
        if rest:
            raise PathSyntaxError(rest)


def test_null_path_and_postmaster_where_allowed() -> None:
    with pytest.raises(PathSyntaxError):
        parse_path("<>", null_ok=False, postmaster_ok=True, utf8=False)
    assert parse_path("<PostMaster>", null_ok=False, postmaster_ok=True, utf8=False) == (
        "PostMaster",
        "",
    )
    with pytest.raises(PathSyntaxError):
        parse_path("<postmaster>", null_ok=True, postmaster_ok=False, utf8=False)


def test_utf8_paths_need_smtputf8() -> None:
    path = "<用户@例子.广告>"
    assert parse_path(path, null_ok=False, postmaster_ok=False, utf8=True) == ("用户@例子.广告", "")
    with pytest.raises(NonAsciiPathError):
        parse_path(path, null_ok=False, postmaster_ok=False, utf8=False)
    assert parse_mailbox('"jöhn doe"@exämple.de') == '"jöhn doe"@exämple.de'


def test_domains_and_literals() -> None:
    assert is_domain("mail.example.org")
    assert not is_domain("bücher.de")
    assert is_domain("bücher.de", utf8=True)
    assert not is_domain("")
    assert is_address_literal("[127.0.0.1]")
    assert not is_address_literal("127.0.0.1")
    assert not is_address_literal("[256.0.0.1]")
    assert hello_name_ok("[IPv6:::1]")
    assert not hello_name_ok("localhost_")


def test_mail_and_rcpt_through_the_core() -> None:
    peer = Peer()
    peer.ehlo()
    out = peer.say(
        "MAIL FROM:<>",
        "RCPT TO:<>",
        "RCPT TO:<Postmaster>",
        "RCPT TO:bare@example.com",
        "RCPT TO:<用户@例子.广告>",
        'RCPT TO:<"x y"@example.com>',
        "RCPT TO:",
        "RCPT FROM:<a@b.example>",
    )
    assert out == [
        "250 2.1.0 Sender ok",
        "501 5.1.3 Bad recipient address syntax",
        "250 2.1.5 Recipient ok",
        "501 5.1.3 Bad recipient address syntax",
        "553 5.6.7 Non-ASCII addresses need the SMTPUTF8 parameter",
        "250 2.1.5 Recipient ok",
        "501 5.1.3 Bad recipient address syntax",
        "501 5.5.4 Syntax: RCPT TO:<address>",
    ]
    assert [e.address for e in peer.of(RcptTo)] == ["Postmaster", '"x y"@example.com']


def test_bad_sender_syntax_and_lenient_space() -> None:
    peer = Peer()
    peer.ehlo()
    assert peer.say(
        "MAIL FROM:a@b.example", "MAIL TO:<a@b.example>", "MAIL FROM: <a@b.example>"
    ) == [
        "501 5.1.7 Bad sender address syntax",
        "501 5.5.4 Syntax: MAIL FROM:<address>",
        "250 2.1.0 Sender ok",
    ]


def test_smtputf8_transaction() -> None:
    peer = Peer()
    peer.ehlo()
    assert peer.say(
        "MAIL FROM:<jöran@bücher.de> SMTPUTF8",
        "RCPT TO:<用户@例子.广告>",
    ) == ["250 2.1.0 Sender ok", "250 2.1.5 Recipient ok"]
    assert peer.of(MailFrom)[0].address == "jöran@bücher.de"
    assert peer.of(MailFrom)[0].params.smtputf8
    plain = Peer()
    plain.ehlo()
    assert plain.say("MAIL FROM:<jöran@bücher.de>") == [
        "553 5.6.7 Non-ASCII addresses need the SMTPUTF8 parameter"
    ]
    off = Peer(peer.conn.settings.__class__("mx.example.org", smtputf8=False))
    off.ehlo()
    assert off.say("MAIL FROM:<jöran@bücher.de> SMTPUTF8") == [
        "555 5.5.4 Parameter not recognized or not implemented"
    ]
