"""MAIL and RCPT parameters: SIZE, BODY, SMTPUTF8, DSN (RFC 3461), AUTH=."""

from __future__ import annotations

import pytest

from roost.proto.smtp import (
    Body,
    MailFrom,
    MailParams,
    Notify,
    Orcpt,
    RcptParams,
    RcptTo,
    Ret,
    xtext_decode,
    xtext_encode,
)
from roost.proto.smtp.errors import ParameterSyntaxError
from tests.unit.test_smtp_harness import Peer, settings, transcript


def test_rfc3461_example_envelope() -> None:
    # RFC 3461 §9 style: RET/ENVID on MAIL, NOTIFY/ORCPT on each RCPT.
    peer = Peer()
    peer.ehlo()
    transcript(
        peer,
        """
        C: MAIL FROM:<Alice@Pure.Example> RET=HDRS ENVID=QQ314159
        C: RCPT TO:<Bob@Big-Box.Example> NOTIFY=SUCCESS ORCPT=rfc822;Bob@Big-Box.Example
        C: RCPT TO:<Carol@Ivory.Example> NOTIFY=FAILURE ORCPT=rfc822;Carol@Ivory.Example
        C: RCPT TO:<Dana@Ivory.Example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;Dana@Ivory.Example
        C: RCPT TO:<Fred@Bombs.Example> NOTIFY=NEVER ORCPT=RFC822;Fred@Bombs.Example
        C: RCPT TO:<George@Tax-ME.Example> notify=delay,success,failure
        S: 250 2.1.0 Sender ok
        S: 250 2.1.5 Recipient ok
        S: 250 2.1.5 Recipient ok
        S: 250 2.1.5 Recipient ok
        S: 250 2.1.5 Recipient ok
        S: 250 2.1.5 Recipient ok
        """,
    )
    assert peer.of(MailFrom)[0].params == MailParams(ret=Ret.HDRS, envid="QQ314159")
    rcpts = peer.of(RcptTo)
    assert rcpts[0].params == RcptParams(
        frozenset({Notify.SUCCESS}), Orcpt("rfc822", "Bob@Big-Box.Example")
    )
    assert rcpts[2].params.notify == {Notify.SUCCESS, Notify.FAILURE}
    assert rcpts[3].params == RcptParams(
        frozenset({Notify.NEVER}), Orcpt("rfc822", "Fred@Bombs.Example")
    )
    assert rcpts[4].params == RcptParams(frozenset({Notify.DELAY, Notify.SUCCESS, Notify.FAILURE}))


def test_xtext_in_dsn_parameters() -> None:
    peer = Peer()
    peer.ehlo()
    peer.say(
        "MAIL FROM:<a@b.example> ENVID=id+2Bone+3Dtwo",
        "RCPT TO:<c@d.example> ORCPT=rfc822;c+2Bd+40e@d.example",
    )
    assert peer.of(MailFrom)[0].params.envid == "id+one=two"
    assert peer.of(RcptTo)[0].params.orcpt == Orcpt("rfc822", "c+d@e@d.example")


def test_all_mail_parameters_together() -> None:
    peer = Peer(settings(binarymime=True, auth_mechanisms=("PLAIN",), tls_required_for_auth=False))
    peer.ehlo()
    peer.say(
        "MAIL FROM:<a@b.example> SIZE=1000 BODY=8bitmime SMTPUTF8 RET=full ENVID=x"
        " AUTH=a+2Bb@b.example"
    )
    assert peer.of(MailFrom)[0].params == MailParams(
        size=1000,
        body=Body.EIGHT_BIT_MIME,
        smtputf8=True,
        ret=Ret.FULL,
        envid="x",
        auth="a+b@b.example",
    )


@pytest.mark.parametrize(
    ("params", "reply"),
    [
        ("SIZE=abc", "501 5.5.4 Invalid parameter or value"),
        ("SIZE=" + "1" * 21, "501 5.5.4 Invalid parameter or value"),
        ("SIZE", "501 5.5.4 Invalid parameter or value"),
        ("SIZE=1 SIZE=2", "501 5.5.4 Invalid parameter or value"),
        ("BODY=9BIT", "501 5.5.4 Invalid parameter or value"),
        ("SMTPUTF8=yes", "501 5.5.4 Invalid parameter or value"),
        ("RET=ALL", "501 5.5.4 Invalid parameter or value"),
        ("ENVID=a+0D+0AX-Injected:+20yes", "501 5.5.4 Invalid parameter or value"),
        ("ENVID=" + "x" * 101, "501 5.5.4 Invalid parameter or value"),
        ("ENVID=+G0", "501 5.5.4 Invalid parameter or value"),
        ("ENVID=+2", "501 5.5.4 Invalid parameter or value"),
        ("ENVID=a=b", "501 5.5.4 Invalid parameter or value"),
        ("ENVID=", "501 5.5.4 Invalid parameter or value"),
        ("-BAD=1", "501 5.5.4 Invalid parameter or value"),
        ("ENVID=ab\u00e9", "501 5.5.4 Invalid parameter or value"),
        ("XFOO=1", "555 5.5.4 Parameter not recognized or not implemented"),
        ("AUTH=<>", "555 5.5.4 Parameter not recognized or not implemented"),
        ("REQUIRETLS", "555 5.5.4 Parameter not recognized or not implemented"),
        ("NOTIFY=NEVER", "555 5.5.4 Parameter not recognized or not implemented"),
    ],
)
def test_bad_mail_parameters(params: str, reply: str) -> None:
    peer = Peer()
    peer.ehlo()
    assert peer.say(f"MAIL FROM:<a@b.example> {params}") == [reply]
    assert not peer.conn.in_transaction


@pytest.mark.parametrize(
    ("params", "reply"),
    [
        ("NOTIFY=NEVER,SUCCESS", "501 5.5.4 Invalid parameter or value"),
        ("NOTIFY=SOMETIMES", "501 5.5.4 Invalid parameter or value"),
        ("NOTIFY=", "501 5.5.4 Invalid parameter or value"),
        ("NOTIFY=SUCCESS,", "501 5.5.4 Invalid parameter or value"),
        ("NOTIFY", "501 5.5.4 Invalid parameter or value"),
        ("ORCPT=c@d.example", "501 5.5.4 Invalid parameter or value"),
        ("ORCPT=rfc822;", "501 5.5.4 Invalid parameter or value"),
        ("ORCPT=;c@d.example", "501 5.5.4 Invalid parameter or value"),
        ("ORCPT=rfc822;c+0A@d.example", "501 5.5.4 Invalid parameter or value"),
        ("RET=FULL", "555 5.5.4 Parameter not recognized or not implemented"),
        ("SIZE=1", "555 5.5.4 Parameter not recognized or not implemented"),
    ],
)
def test_bad_rcpt_parameters(params: str, reply: str) -> None:
    peer = Peer()
    peer.ehlo()
    peer.say("MAIL FROM:<a@b.example>")
    assert peer.say(f"RCPT TO:<c@d.example> {params}") == [reply]


def test_dsn_parameters_need_the_dsn_offer() -> None:
    peer = Peer(settings(dsn=False, eight_bit_mime=False))
    assert "250-DSN" not in peer.ehlo()
    assert peer.say(
        "MAIL FROM:<a@b.example> RET=HDRS", "MAIL FROM:<a@b.example> BODY=8BITMIME"
    ) == [
        "555 5.5.4 Parameter not recognized or not implemented",
        "555 5.5.4 Parameter not recognized or not implemented",
    ]


def test_utf8_orcpt_with_embedded_unicode() -> None:
    # RFC 6533 §3: utf-8-addr-xtext escapes with \x{HEX}.
    peer = Peer()
    peer.ehlo()
    peer.say(
        "MAIL FROM:<a@b.example> SMTPUTF8",
        "RCPT TO:<j\u00f6@b\u00fccher.de> ORCPT=utf-8;j\\x{F6}@b\u00fccher.de",
    )
    assert peer.of(RcptTo)[0].params.orcpt == Orcpt("utf-8", "j\u00f6@b\u00fccher.de")


def test_utf8_values_need_smtputf8() -> None:
    peer = Peer(settings(auth_mechanisms=("PLAIN",), tls_required_for_auth=False))
    peer.ehlo()
    assert peer.say(
        "MAIL FROM:<a@b.example> ENVID=\u00e9",
        "MAIL FROM:<a@b.example> AUTH=\u00e9@b.example",
        "MAIL FROM:<a@b.example> AUTH=\u00e9@b.example SMTPUTF8",
    ) == [
        "501 5.5.4 Invalid parameter or value",
        "501 5.5.4 Invalid parameter or value",
        "250 2.1.0 Sender ok",
    ]


def test_bad_embedded_unicode_in_orcpt() -> None:
    peer = Peer()
    peer.ehlo()
    peer.say("MAIL FROM:<a@b.example> SMTPUTF8")
    assert (
        peer.say(
            "RCPT TO:<c@d.example> ORCPT=utf-8;a\\x{110000}@d.example",
            "RCPT TO:<c@d.example> ORCPT=utf-8;a\\x{D800}@d.example",
        )
        == ["501 5.5.4 Invalid parameter or value"] * 2
    )


def test_parameters_need_a_space_after_the_path() -> None:
    peer = Peer()
    peer.ehlo()
    assert peer.say("MAIL FROM:<a@b.example>SIZE=1", "MAIL FROM:<a@b.example>   SIZE=1") == [
        "501 5.1.7 Bad sender address syntax",
        "250 2.1.0 Sender ok",
    ]


@pytest.mark.parametrize(
    ("text", "encoded"),
    [
        ("plain", "plain"),
        ("a+b=c", "a+2Bb+3Dc"),
        ("two words", "two+20words"),
        ("tab\there", "tab+09here"),
        ("~!", "~!"),
        ("", ""),
    ],
)
def test_xtext_round_trip(text: str, encoded: str) -> None:
    assert xtext_encode(text) == encoded
    assert xtext_decode(encoded) == text


def test_xtext_rules() -> None:
    assert xtext_decode("a+2bb") == "a+b"
    for bad in ("a b", "a=b", "+", "+1", "+ZZ", "\u00e9"):
        with pytest.raises(ParameterSyntaxError):
            xtext_decode(bad)
    assert xtext_decode("\u00e9+2B", utf8=True) == "\u00e9+"
    with pytest.raises(ValueError, match="ASCII"):
        xtext_encode("\u00e9")
