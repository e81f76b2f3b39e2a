"""JIDs prepared per RFC 7622, with the examples of its §3.5."""

from __future__ import annotations

import pytest

from roost.proto.xmpp import Jid, JidMalformed, random_resource
from roost.proto.xmpp.jid import prepare_domain
from roost.proto.xmpp.precis import bidi_rule_ok, prepare_localpart, prepare_resourcepart


@pytest.mark.parametrize(
    ("text", "local", "domain", "resource"),
    [
        # RFC 7622 §3.5, "valid" examples.
        ("juliet@example.com", "juliet", "example.com", None),
        ("juliet@example.com/foo", "juliet", "example.com", "foo"),
        ("juliet@example.com/foo bar", "juliet", "example.com", "foo bar"),
        ("juliet@example.com/foo@bar", "juliet", "example.com", "foo@bar"),
        ("foo\\20bar@example.com", "foo\\20bar", "example.com", None),
        ("fussball@example.com", "fussball", "example.com", None),
        ("fußball@example.com", "fußball", "example.com", None),
        ("π@example.com", "π", "example.com", None),
        ("Σ@example.com/foo", "σ", "example.com", "foo"),
        ("σ@example.com/foo", "σ", "example.com", "foo"),
        ("ς@example.com/foo", "ς", "example.com", "foo"),
        ("king@example.com/♚", "king", "example.com", "♚"),
        ("example.com", None, "example.com", None),
        ("example.com/foobar", None, "example.com", "foobar"),
        ("a.example.com/b@example.net", None, "a.example.com", "b@example.net"),
        # Preparation: case, width, full stops, IDNA, literals.
        ("Juliet@Example.COM/Balcony", "juliet", "example.com", "Balcony"),
        ("ｊｕｌｉｅｔ@ｅｘａｍｐｌｅ．com", "juliet", "example.com", None),
        ("juliet@example.com./x/y", "juliet", "example.com", "x/y"),
        ("juliet@例子。测试", "juliet", "例子.测试", None),
        ("juliet@xn--fsqu00a.xn--0zwm56d", "juliet", "例子.测试", None),
        ("juliet@[::1]", "juliet", "[::1]", None),
        ("juliet@[0:0::0:1]/r", "juliet", "[::1]", "r"),
        ("juliet@127.0.0.1", "juliet", "127.0.0.1", None),
        ("juliet@example.com/\u3000x", "juliet", "example.com", " x"),
        ("شيماء@example.com", "شيماء", "example.com", None),
    ],
)
def test_valid(text: str, local: str | None, domain: str, resource: str | None) -> None:
    jid = Jid.parse(text)
    assert (jid.local, jid.domain, jid.resource) == (local, domain, resource)
    assert Jid.parse(str(jid)) == jid


@pytest.mark.parametrize(
    "text",
    [
        # RFC 7622 §3.5, "invalid" examples.
        '"juliet"@example.com',
        "foo bar@example.com",
        "juliet@example.com/",
        "@example.com/",
        "henry\u2163@example.com",
        "♚@example.com",
        "juliet@",
        "/foobar",
        # More.
        "",
        "a&b@example.com",
        "a:b@example.com",
        "x@-example.com",
        "x@example-.com",
        "x@exa_mple.com",
        "x@example..com",
        "x@" + "a" * 64 + ".com",
        "x@[::1",
        "x@[not-an-address]",
        "x@xn--zz",
        "x@xn--abc",
        "x@example.com/\x07",
        "x@example.com/a\u200bb",
        "zero\u200dwidth@example.com",
        "x@example.com/\ue000",
        "a" * 1024 + "@example.com",
        "x@example.com/" + "r" * 1024,
        "\u0627a@example.com",
    ],
)
def test_invalid(text: str) -> None:
    with pytest.raises(JidMalformed):
        Jid.parse(text)


def test_equal_after_preparation() -> None:
    assert Jid.parse("JULIET@EXAMPLE.com/balcony") == Jid.parse("juliet@example.com/balcony")
    assert Jid.parse("juliet@example.com/Balcony") != Jid.parse("juliet@example.com/balcony")


def test_bare_and_full() -> None:
    full = Jid.parse("juliet@example.com/balcony")
    assert full.bare == Jid.parse("juliet@example.com")
    assert full.bare.is_bare and not full.is_bare
    assert full.bare.with_resource("chamber") == Jid.parse("juliet@example.com/chamber")
    assert Jid.of("Juliet", "Example.com", "x") == Jid("juliet", "example.com", "x")
    with pytest.raises(JidMalformed):
        full.with_resource("")


def test_parts_alone() -> None:
    assert prepare_localpart("ΣΑΣ") == "σας"  # toLowerCase applies Final_Sigma
    assert prepare_resourcepart("Ｆｕｌｌ") == "Ｆｕｌｌ"  # OpaqueString keeps widths
    assert prepare_domain("EXAMPLE.COM.") == "example.com"
    assert bidi_rule_ok("abc") and bidi_rule_ok("שלום") and not bidi_rule_ok("שa")


def test_random_resources_are_valid_and_distinct() -> None:
    made = {random_resource() for _ in range(100)}
    assert len(made) == 100
    for resource in made:
        assert prepare_resourcepart(resource) == resource
