"""Every error condition the core produces: stream, SASL and stanza errors."""

from __future__ import annotations

from dataclasses import replace

import pytest

from roost.proto.sasl import FailureReason
from roost.proto.xmpp import (
    AuthFailed,
    Event,
    Iq,
    Message,
    PasswordLogin,
    Phase,
    SaslCondition,
    ScramKeysRequested,
    StreamErrorCondition,
    StreamFailed,
    TlsPolicy,
)
from tests.unit.test_xmpp_harness import (
    CLIENT_HEADER,
    SETTINGS,
    Peer,
    b64,
    plain_auth,
    scram_login,
    serve,
    server_header,
)

HEADER = CLIENT_HEADER.decode()
SASL_NS = "urn:ietf:params:xml:ns:xmpp-sasl"
STREAMS_NS = "urn:ietf:params:xml:ns:xmpp-streams"


def stream_error(peer: Peer, data: str | bytes) -> tuple[StreamErrorCondition | None, str]:
    out = peer.say(data)
    failed = peer.of(StreamFailed)
    assert failed, f"no stream error for {data!r}: {out}"
    assert out.endswith("</stream:stream>"), out
    return failed[-1].condition, out


def opened() -> Peer:
    """A stream under TLS, open and ready for SASL."""
    peer = Peer(tls=True)
    peer.open()
    return peer


# Stream errors (RFC 6120 §4.9.3).


def test_doctype_before_the_header_gets_our_header_then_the_error() -> None:
    """RFC 6120 §4.9.1.2: the error follows a header even when the client's
    never came."""
    peer = Peer()
    condition, out = stream_error(peer, "<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]>")
    assert condition is StreamErrorCondition.RESTRICTED_XML
    assert out == (
        f"{server_header('s1')}<stream:error><restricted-xml xmlns='{STREAMS_NS}'/>"
        f"<text xmlns='{STREAMS_NS}' xml:lang='en'>document type declarations are not allowed "
        "(RFC 6120 §11.1)</text></stream:error></stream:stream>"
    )
    assert peer.conn.phase is Phase.CLOSED  # a broken parser reads no further


@pytest.mark.parametrize(
    ("data", "condition"),
    [
        ("<!-- hello -->", StreamErrorCondition.RESTRICTED_XML),
        ("<?target data?>", StreamErrorCondition.RESTRICTED_XML),
        ("<message><body>&lol;</body></message>", StreamErrorCondition.RESTRICTED_XML),
        ("<message></iq>", StreamErrorCondition.NOT_WELL_FORMED),
        (b"<message><body>\xc3\x28</body></message>", StreamErrorCondition.UNSUPPORTED_ENCODING),
        ("<message>" + "<x>" * 64, StreamErrorCondition.POLICY_VIOLATION),
        ("<message><body>" + "x" * 270_000, StreamErrorCondition.POLICY_VIOLATION),
        ("loose text", StreamErrorCondition.BAD_FORMAT),
        ("<c:iq xmlns:c='jabber:client'/>", StreamErrorCondition.BAD_NAMESPACE_PREFIX),
        ("<foo xmlns='urn:example'/>", StreamErrorCondition.UNSUPPORTED_STANZA_TYPE),
        ("<query xmlns='jabber:client'/>", StreamErrorCondition.UNSUPPORTED_STANZA_TYPE),
        ("<presence/>", StreamErrorCondition.NOT_AUTHORIZED),
        (
            "<iq type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>",
            StreamErrorCondition.NOT_AUTHORIZED,
        ),
    ],
    ids=lambda v: v.value if isinstance(v, StreamErrorCondition) else None,
)
def test_stream_errors_in_an_open_stream(
    data: str | bytes, condition: StreamErrorCondition
) -> None:
    peer = opened()
    got, out = stream_error(peer, data)
    assert got is condition
    assert f"<{condition.value} xmlns='{STREAMS_NS}'/>" in out


@pytest.mark.parametrize(
    ("header", "condition"),
    [
        (
            HEADER.replace("com' version='1.0'", "com' version='2.0'"),
            StreamErrorCondition.UNSUPPORTED_VERSION,
        ),
        (HEADER.replace("com' version='1.0'", "com'"), StreamErrorCondition.UNSUPPORTED_VERSION),
        (HEADER.replace("im.example.com", "elsewhere.example"), StreamErrorCondition.HOST_UNKNOWN),
        (HEADER.replace(" to='im.example.com'", ""), StreamErrorCondition.HOST_UNKNOWN),
        (HEADER.replace("to='im.example.com'", "to='a b'"), StreamErrorCondition.HOST_UNKNOWN),
        (HEADER.replace("jabber:client", "jabber:server"), StreamErrorCondition.INVALID_NAMESPACE),
        (
            HEADER.replace("'1.0'?>", "'1.0' encoding='UTF-16'?>"),
            StreamErrorCondition.UNSUPPORTED_ENCODING,
        ),
    ],
    ids=lambda v: v.value if isinstance(v, StreamErrorCondition) else None,
)
def test_stream_errors_in_the_header(header: str, condition: StreamErrorCondition) -> None:
    peer = Peer()
    got, out = stream_error(peer, header)
    assert got is condition
    assert out.startswith(server_header("s1") + "<stream:error>")


def test_host_matching_prepares_the_domain() -> None:
    peer = Peer()
    assert peer.say(HEADER.replace("im.example.com", "IM.Example.COM.")).startswith(
        server_header("s1") + "<stream:features>"
    )


def test_a_restarted_stream_may_not_change_its_domain() -> None:
    settings = replace(SETTINGS, domains=("im.example.com", "other.example"))
    peer = Peer(settings, tls=True)
    peer.open()
    peer.say(plain_auth())
    condition, _ = stream_error(peer, HEADER.replace("im.example.com", "other.example"))
    assert condition is StreamErrorCondition.HOST_UNKNOWN


def test_stanzas_before_binding_are_not_authorized() -> None:
    peer = Peer(tls=True)
    peer.open()
    peer.say(plain_auth())
    peer.open()
    condition, _ = stream_error(peer, "<message to='romeo@example.net'><body>hi</body></message>")
    assert condition is StreamErrorCondition.NOT_AUTHORIZED
    assert peer.of(Message) == []


@pytest.mark.parametrize(
    "claimed", ["romeo@example.net", "juliet@im.example.com/other", "not a jid@@", "im.example.com"]
)
def test_a_from_that_lies_is_invalid_from(claimed: str) -> None:
    peer = Peer()
    peer.bind()
    condition, _ = stream_error(peer, f"<message from='{claimed}' to='romeo@example.net'/>")
    assert condition is StreamErrorCondition.INVALID_FROM
    assert peer.of(Message) == []


def test_too_many_failed_logins_end_the_stream() -> None:
    """RFC 6120 §6.4.5: a few retries, then ``policy-violation``."""
    peer = opened()
    wrong = plain_auth(password="wrong")
    failure = f"<failure xmlns='{SASL_NS}'><not-authorized/></failure>"
    assert peer.say(wrong) == failure
    assert peer.say(f"<auth xmlns='{SASL_NS}' mechanism='PLAIN'/><abort xmlns='{SASL_NS}'/>") == (
        f"<challenge xmlns='{SASL_NS}'/><failure xmlns='{SASL_NS}'><aborted/></failure>"
    )
    assert peer.say(wrong) == failure  # an abort does not count
    condition, out = stream_error(peer, wrong)
    assert condition is StreamErrorCondition.POLICY_VIOLATION
    assert out.startswith(failure + "<stream:error><policy-violation ")


def test_starttls_where_it_is_not_offered() -> None:
    """RFC 6120 §5.4.2.2: the TLS ``<failure/>`` and the stream closes."""
    peer = opened()
    out = peer.say("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
    assert out == "<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:stream>"
    assert peer.of(StreamFailed)[0].condition is None


def test_service_refuses_starttls() -> None:
    def refuse(peer: Peer, event: Event) -> None:
        peer.conn.reject()

    peer = Peer(policy=refuse)
    peer.open()
    out = peer.say("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
    assert out == "<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:stream>"
    assert peer.conn.closing


# SASL failures (RFC 6120 §6.5).


def sasl_failure(peer: Peer, data: str) -> str:
    out = peer.say(data)
    assert out.startswith(f"<failure xmlns='{SASL_NS}'>"), out
    return out[len(f"<failure xmlns='{SASL_NS}'><") :].split("/>")[0]


@pytest.mark.parametrize(
    ("data", "condition"),
    [
        (f"<auth xmlns='{SASL_NS}' mechanism='X-UNKNOWN'/>", SaslCondition.INVALID_MECHANISM),
        (f"<auth xmlns='{SASL_NS}' mechanism='LOGIN'/>", SaslCondition.INVALID_MECHANISM),
        (f"<auth xmlns='{SASL_NS}'/>", SaslCondition.INVALID_MECHANISM),
        (
            f"<auth xmlns='{SASL_NS}' mechanism='PLAIN'>!!not base64!!</auth>",
            SaslCondition.INCORRECT_ENCODING,
        ),
        (
            f"<auth xmlns='{SASL_NS}' mechanism='PLAIN'>{b64('no nuls')}</auth>",
            SaslCondition.MALFORMED_REQUEST,
        ),
        (f"<auth xmlns='{SASL_NS}' mechanism='PLAIN'>=</auth>", SaslCondition.MALFORMED_REQUEST),
        (f"<response xmlns='{SASL_NS}'/>", SaslCondition.MALFORMED_REQUEST),
        (f"<abort xmlns='{SASL_NS}'/>", SaslCondition.ABORTED),
        (plain_auth(password="wrong"), SaslCondition.NOT_AUTHORIZED),
        (plain_auth(user="nobody"), SaslCondition.NOT_AUTHORIZED),
        (plain_auth(authzid="romeo@example.net"), SaslCondition.INVALID_AUTHZID),
        (
            f"<auth xmlns='{SASL_NS}' mechanism='SCRAM-SHA-1'>"
            f"{b64('p=tls-unique,,n=juliet,r=abc')}</auth>",
            SaslCondition.MALFORMED_REQUEST,
        ),
    ],
    ids=lambda v: v.value if isinstance(v, SaslCondition) else None,
)
def test_sasl_failures(data: str, condition: SaslCondition) -> None:
    peer = opened()
    assert sasl_failure(peer, data) == condition.value
    assert peer.conn.phase is Phase.STREAM  # the client may try again


def test_scram_response_that_is_not_base64() -> None:
    peer = opened()
    first = b64("n,,n=juliet,r=abcdef")
    assert peer.say(f"<auth xmlns='{SASL_NS}' mechanism='SCRAM-SHA-256'>{first}</auth>").startswith(
        "<challenge"
    )
    assert sasl_failure(peer, f"<response xmlns='{SASL_NS}'>%%%</response>") == "incorrect-encoding"
    assert peer.of(AuthFailed)[-1].reason is FailureReason.MALFORMED


def test_a_second_auth_during_an_exchange_is_malformed() -> None:
    peer = opened()
    first = b64("n,,n=juliet,r=abcdef")
    peer.say(f"<auth xmlns='{SASL_NS}' mechanism='SCRAM-SHA-256'>{first}</auth>")
    assert sasl_failure(peer, plain_auth()) == "malformed-request"


def test_plain_needs_tls() -> None:
    peer = Peer(replace(SETTINGS, starttls=TlsPolicy.OFFERED))
    peer.open()
    assert sasl_failure(peer, plain_auth()) == "encryption-required"
    assert peer.of(PasswordLogin) == []


def test_nothing_but_starttls_while_it_is_required() -> None:
    peer = Peer()
    peer.open()
    assert sasl_failure(peer, plain_auth()) == "encryption-required"
    first = b64("n,,n=juliet,r=abcdef")
    scram = f"<auth xmlns='{SASL_NS}' mechanism='SCRAM-SHA-256'>{first}</auth>"
    assert sasl_failure(peer, scram) == "encryption-required"


@pytest.mark.parametrize(
    "condition",
    [
        SaslCondition.ACCOUNT_DISABLED,
        SaslCondition.TEMPORARY_AUTH_FAILURE,
        SaslCondition.CREDENTIALS_EXPIRED,
    ],
)
def test_service_refusals(condition: SaslCondition) -> None:
    def refusing(peer: Peer, event: Event) -> None:
        if isinstance(event, PasswordLogin | ScramKeysRequested):
            peer.conn.reject(condition)
        else:
            serve(peer, event)

    peer = Peer(policy=refusing, tls=True)
    peer.open()
    assert sasl_failure(peer, plain_auth()) == condition.value
    assert (
        scram_login(peer, "SCRAM-SHA-256")
        == f"<failure xmlns='{SASL_NS}'><{condition.value}/></failure>"
    )


# Stanza errors (RFC 6120 §8.3).


@pytest.mark.parametrize(
    ("stanza", "reply"),
    [
        (
            "<iq type='get'><ping xmlns='urn:xmpp:ping'/></iq>",
            "<iq type='error' to='juliet@im.example.com/balcony'><error type='modify'>"
            "<bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
            "<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas' xml:lang='en'>IQ without id</text>"
            "</error></iq>",
        ),
        ("<iq type='fetch' id='1'><ping xmlns='urn:xmpp:ping'/></iq>", "unknown IQ type"),
        ("<iq type='get' id='1'/>", "get and set need one child"),
        (
            "<iq type='set' id='1'><a xmlns='urn:a'/><b xmlns='urn:b'/></iq>",
            "get and set need one child",
        ),
        (
            "<iq type='result' id='1'><a xmlns='urn:a'/><b xmlns='urn:b'/></iq>",
            "a result has one child at most",
        ),
        ("<message to='a@b@c'/>", "jid-malformed"),
        ("<presence to='romeo@example.net/'/>", "jid-malformed"),
    ],
)
def test_stanza_errors(stanza: str, reply: str) -> None:
    peer = Peer()
    peer.bind()
    out = peer.say(stanza)
    assert reply in out, out
    assert "type='error'" in out
    assert peer.conn.phase is Phase.STREAM  # a stanza error does not end the stream
    assert peer.of(Iq) == [] and peer.of(Message) == []


def test_jid_malformed_reply_comes_from_the_server() -> None:
    peer = Peer()
    peer.bind()
    assert peer.say("<message id='m1' to='@example.net'/>") == (
        "<message id='m1' type='error' from='im.example.com' to='juliet@im.example.com/balcony'>"
        "<error type='modify'><jid-malformed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
        "<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas' xml:lang='en'>the localpart is empty"
        "</text></error></message>"
    )


def test_error_stanzas_are_never_answered() -> None:
    peer = Peer()
    peer.bind()
    assert peer.say("<message type='error' to='@bad'/><iq type='error'/>") == ""
    # A well-formed error IQ goes to the service like any other.
    peer.say("<iq type='error' id='x'><error type='cancel'/></iq>")
    assert [iq.type for iq in peer.of(Iq)] == ["error"]


def test_a_stream_header_sent_ahead_of_a_failed_login() -> None:
    """A client may send its next stream header before it reads
    ``<success/>``; if the login fails, that header is an error at once."""
    peer = opened()
    header = HEADER.removeprefix("<?xml version='1.0'?>")  # with it: not-well-formed
    condition, out = stream_error(peer, plain_auth(password="wrong") + header)
    assert condition is StreamErrorCondition.BAD_FORMAT
    assert out.startswith(f"<failure xmlns='{SASL_NS}'><not-authorized/></failure><stream:error>")
