"""Notices parsed back with the stdlib `email` package: structure, fields,
variants (RFC 3464, RFC 6522, RFC 6533, RFC 3834)."""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage, Message
from email.utils import parsedate_to_datetime
from typing import cast

import pytest

from roost.proto.dsn import (
    Action,
    DsnError,
    Notice,
    NoticeKind,
    ReportedRecipient,
    Ret,
    Returned,
    build_notice,
    write_notice,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HEADER = (
    b"Received: from client.example.org by mx.example.org; Sun, 1 Mar 2026 11:00:00 +0000\r\n"
    b"From: Alice <alice@example.org>\r\n"
    b"To: bob@example.com\r\n"
    b"Subject: Lunch\r\n"
    b"Message-ID: <m1@example.org>\r\n"
    b"\r\n"
)
BODY = b"Shall we meet at noon?\r\nThe secret body line.\r\n"
ORIGINAL = HEADER + BODY


def rcpt(final: str = "bob@example.com", **kw: object) -> ReportedRecipient:
    values: dict[str, object] = {
        "action": Action.FAILED,
        "status": "5.1.1",
        "remote_mta": "mx.example.com",
        "diagnostic": "550 5.1.1 <bob@example.com>: no such user",
        "last_attempt": NOW,
    }
    values.update(kw)
    return ReportedRecipient(final, **values)  # type: ignore[arg-type]


def notice(*recipients: ReportedRecipient, **kw: object) -> Notice:
    values: dict[str, object] = {
        "kind": NoticeKind.FAILURE,
        "reporting_mta": "mx.example.org",
        "original_sender": "alice@example.org",
        "recipients": recipients or (rcpt(),),
        "arrival_date": NOW - timedelta(hours=1),
        "now": NOW,
        "postmaster_from": "MAILER-DAEMON@mx.example.org",
        "message_id_domain": "mx.example.org",
    }
    values.update(kw)
    return Notice(**values)  # type: ignore[arg-type]


def build(n: Notice, original: bytes | None = ORIGINAL, **kw: object) -> bytes:
    raw = build_notice(n, original, len(HEADER), **kw)  # type: ignore[arg-type]
    check_wellformed(raw)
    return raw


def parse(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    for part in msg.walk():
        assert not part.defects, part.defects
    return msg


def check_wellformed(raw: bytes) -> None:
    """CRLF only; no line over 998 octets (RFC 5322 §2.1.1); boundary in
    no part's content."""
    assert re.search(rb"(?<!\r)\n", raw) is None, "bare LF"
    assert re.search(rb"\r(?!\n)", raw) is None, "bare CR"
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    m = re.search(rb'boundary="([^"]+)"', raw)
    assert m is not None
    marker = b"--" + m.group(1)
    lines = raw.split(b"\r\n")
    assert [i for i, line in enumerate(lines) if line.startswith(marker)] == [
        i for i, line in enumerate(lines) if line in (marker, marker + b"--")
    ]
    assert raw.count(marker) == raw.count(b"\r\n" + marker)


def parts(msg: Message) -> list[EmailMessage]:
    payload = msg.get_payload()
    assert isinstance(payload, list)
    assert all(isinstance(p, EmailMessage) for p in payload)
    return cast("list[EmailMessage]", payload)


def blocks(part: Message) -> list[EmailMessage]:
    """The field blocks of a (global-)delivery-status part."""
    found = parts(part)
    if part.get_content_type() == "message/delivery-status":
        return found
    first = found[0]  # email reads message/global-* as one message
    body = first.get_payload(decode=True)
    assert isinstance(body, bytes)
    more = [
        email.message_from_string(b, policy=email.policy.default)
        for b in body.decode("utf-8").split("\n\n")
    ]
    return [first, *(b for b in more if b.keys())]


def raw_field_lines(raw: bytes, name: bytes) -> list[bytes]:
    start = raw.index(b"\r\n" + name + b":") + 2
    end = re.compile(rb"\r\n(?![ \t])").search(raw, start)
    assert end is not None
    return raw[start : end.start()].split(b"\r\n")


def test_failure_notice_structure() -> None:
    msg = parse(build(notice(), nonce="t1"))
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    assert [p.get_content_type() for p in parts(msg)] == [
        "text/plain",
        "message/delivery-status",
        "message/rfc822",
    ]
    assert msg["From"].addresses[0].display_name == "Mail Delivery System"
    assert msg["From"].addresses[0].addr_spec == "MAILER-DAEMON@mx.example.org"
    assert msg["To"].addresses[0].addr_spec == "alice@example.org"
    assert msg["Subject"] == "Undelivered Mail Returned to Sender"
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["MIME-Version"] == "1.0"
    assert parsedate_to_datetime(msg["Date"]) == NOW
    assert msg["Message-ID"] == "<20260301120000.t1@mx.example.org>"


def test_per_message_and_per_recipient_fields() -> None:
    late = rcpt(
        "carol@example.net",
        action="delayed",
        status="4.4.1",
        remote_mta=None,
        diagnostic="connect to mx.example.net: timed out",
        will_retry_until=NOW + timedelta(days=4),
    )
    first = rcpt(original_recipient=("rfc822", "Bob@example.com"))
    n = notice(first, late, envid="QQ314159", received_from_mta="client.example.org")
    per_message, bob, carol = blocks(parts(parse(build(n)))[1])
    assert per_message["Original-Envelope-Id"] == "QQ314159"
    assert per_message["Reporting-MTA"] == "dns; mx.example.org"
    assert per_message["Received-From-MTA"] == "dns; client.example.org"
    assert parsedate_to_datetime(per_message["Arrival-Date"]) == NOW - timedelta(hours=1)
    assert bob.keys() == [
        "Original-Recipient",
        "Final-Recipient",
        "Action",
        "Status",
        "Remote-MTA",
        "Diagnostic-Code",
        "Last-Attempt-Date",
    ]
    assert bob["Original-Recipient"] == "rfc822; Bob@example.com"
    assert bob["Final-Recipient"] == "rfc822; bob@example.com"
    assert bob["Action"] == "failed"
    assert bob["Status"] == "5.1.1"
    assert bob["Remote-MTA"] == "dns; mx.example.com"
    assert bob["Diagnostic-Code"] == "smtp; 550 5.1.1 <bob@example.com>: no such user"
    assert parsedate_to_datetime(bob["Last-Attempt-Date"]) == NOW
    assert carol["Action"] == "delayed"
    assert "Remote-MTA" not in carol
    assert parsedate_to_datetime(carol["Will-Retry-Until"]) == NOW + timedelta(days=4)


def test_text_part_explains_in_plain_words() -> None:
    text_part = parts(parse(build(notice())))[0]
    assert text_part.get_content_charset() == "us-ascii"
    text = text_part.get_content()
    assert all(len(line) <= 76 for line in text.splitlines())
    text = " ".join(text.split())
    assert "could not be delivered" in text
    assert "<bob@example.com>" in text
    assert "Bad destination mailbox address (5.1.1)" in text
    assert "550 5.1.1 <bob@example.com>: no such user" in text
    assert "typing mistakes" in text


def test_full_return_is_the_original() -> None:
    returned = parts(parse(build(notice(ret=Ret.FULL))))[2]
    inner = parts(returned)[0]
    assert inner["Subject"] == "Lunch"
    assert inner["Message-ID"] == "<m1@example.org>"
    assert "The secret body line." in inner.get_content()


def test_headers_only_return() -> None:
    raw = build(notice(ret=Ret.HDRS))
    returned = parts(parse(raw))[2]
    assert returned.get_content_type() == "text/rfc822-headers"
    content = returned.get_content()
    assert "Subject: Lunch" in content
    assert "Message-ID: <m1@example.org>" in content
    assert b"secret body" not in raw


@pytest.mark.parametrize(
    ("kind", "action", "status", "subject"),
    [
        (NoticeKind.DELAY, "delayed", "4.4.1", "Delayed Mail (still being retried)"),
        (NoticeKind.SUCCESS, "delivered", "2.0.0", "Successful Mail Delivery Report"),
        (NoticeKind.SUCCESS, "relayed", "2.0.0", "Successful Mail Delivery Report"),
        (NoticeKind.SUCCESS, "expanded", "2.0.0", "Successful Mail Delivery Report"),
    ],
)
def test_delay_and_success_notices_return_headers_only(
    kind: NoticeKind, action: str, status: str, subject: str
) -> None:
    r = rcpt(action=action, status=status, will_retry_until=NOW + timedelta(days=1))
    raw = build(notice(r, kind=kind, ret=Ret.FULL))
    msg = parse(raw)
    assert msg["Subject"] == subject
    text_part, status_part, returned = parts(msg)
    assert returned.get_content_type() == "text/rfc822-headers"
    assert b"secret body" not in raw
    block = blocks(status_part)[1]
    assert block["Action"] == action
    assert ("Will-Retry-Until" in block) == (action == "delayed")
    text = text_part.get_content()
    if action == "delayed":
        assert "still trying" in text and "keeps trying until" in text
    if action == "relayed":
        assert "sends no delivery reports" in text and "mx.example.com" in text


def test_default_return_honours_the_size_cap() -> None:
    small = build(notice(), max_full_octets=len(ORIGINAL))
    assert parts(parse(small))[2].get_content_type() == "message/rfc822"
    for size in (len(ORIGINAL), None):
        big = build(notice(), max_full_octets=len(ORIGINAL) - 1, original_size=size)
        assert parts(parse(big))[2].get_content_type() == "text/rfc822-headers"


def test_no_original_gives_two_parts() -> None:
    msg = parse(build(notice(), original=None))
    assert [p.get_content_type() for p in parts(msg)] == ["text/plain", "message/delivery-status"]


def test_ascii_notice_is_seven_bit() -> None:
    out: list[bytes] = []
    result = write_notice(notice(), ORIGINAL, len(HEADER), out.append, nonce="n")
    raw = b"".join(out)
    assert raw.isascii()
    assert not result.eight_bit and not result.smtputf8
    assert result.returned is Returned.FULL
    assert result.octets == len(raw)
    assert result.message_id == "<20260301120000.n@mx.example.org>"
    assert b"Content-Transfer-Encoding" not in raw


def test_eight_bit_original_is_labelled() -> None:
    original = HEADER + "Grüße\r\n".encode()
    raw = build(replace(notice(), original_8bit=True), original)
    msg = parse(raw)
    assert msg["Content-Transfer-Encoding"] == "8bit"
    assert parts(msg)[2]["Content-Transfer-Encoding"] == "8bit"


def test_smtputf8_notice_uses_global_types() -> None:
    r = rcpt(
        "用户@example.net",
        original_recipient=("utf-8", "用户@example.net"),
        diagnostic="550 5.1.1 用户不存在",
    )
    original = "From: jürgen@example.org\r\nSubject: Grüße\r\n\r\nHallo\r\n".encode()
    n = notice(r, smtputf8=True, original_sender="jürgen@example.org", ret=Ret.HDRS)
    out: list[bytes] = []
    result = write_notice(n, original, original.index(b"\r\n\r\n") + 4, out.append)
    raw = b"".join(out)
    check_wellformed(raw)
    msg = parse(raw)
    assert result.smtputf8 and result.eight_bit
    assert msg.get_param("report-type") == "global-delivery-status"
    assert msg["To"] == "jürgen@example.org"
    text_part, status_part, returned = parts(msg)
    assert status_part.get_content_type() == "message/global-delivery-status"
    assert returned.get_content_type() == "message/global-headers"
    assert "Subject: Grüße" in raw.decode().split("message/global-headers")[1]
    block = blocks(status_part)[1]
    assert block["Final-Recipient"] == "utf-8; 用户@example.net"
    assert block["Original-Recipient"] == "utf-8; 用户@example.net"
    assert block["Diagnostic-Code"] == "smtp; 550 5.1.1 用户不存在"
    assert "<用户@example.net>" in text_part.get_content()


def test_smtputf8_full_return_is_message_global() -> None:
    n = notice(smtputf8=True, ret=Ret.FULL)
    assert parts(parse(build(n)))[2].get_content_type() == "message/global"


def test_non_ascii_values_in_an_ascii_notice_stay_seven_bit() -> None:
    r = rcpt(
        "用户@example.net",
        original_recipient=("rfc822", "a+b@example.com"),
        diagnostic="550 5.1.1 Benutzer unbekannt: Müller",
    )
    raw = build(notice(r))
    assert raw.isascii()
    text_part, status_part, _ = parts(parse(raw))
    block = blocks(status_part)[1]
    assert block["Final-Recipient"] == "utf-8; \\x{7528}\\x{6237}@example.net"
    assert block["Original-Recipient"] == "rfc822; a+b@example.com"
    assert block["Diagnostic-Code"] == "smtp; 550 5.1.1 Benutzer unbekannt: M?ller"
    assert text_part["Content-Transfer-Encoding"] == "quoted-printable"
    text = text_part.get_content()
    assert "<用户@example.net>" in text and "Müller" in text


def test_unprintable_envelope_values_are_written_as_xtext() -> None:
    r = rcpt(original_recipient=("x-local", "odd\tname"))
    n = notice(r, envid="id\x01with+plus")
    per_message, block = blocks(parts(parse(build(n)))[1])
    assert per_message["Original-Envelope-Id"] == "id+01with+2Bplus"
    assert block["Original-Recipient"] == "x-local; odd+09name"
    printable = notice(envid="a+b c")
    assert blocks(parts(parse(build(printable)))[1])[0]["Original-Envelope-Id"] == "a+b c"


def test_long_diagnostic_is_folded() -> None:
    reply = "550-5.7.1 [192.0.2.1] Our system has detected that this message is\r\n" + (
        "550 5.7.1 likely unsolicited mail. To reduce the amount of spam sent to "
        "this domain, it has been blocked. See https://support.example.com/mail/answer"
    )
    raw = build(notice(rcpt(status="5.7.1", diagnostic=reply)))
    lines = raw_field_lines(raw, b"Diagnostic-Code")
    assert len(lines) > 2
    assert all(len(line) <= 78 for line in lines)
    assert all(line.startswith(b" ") for line in lines[1:])
    block = blocks(parts(parse(raw))[1])[1]
    assert block["Diagnostic-Code"] == "smtp; " + " ".join(reply.split())


def test_absurd_diagnostic_is_cut_and_split() -> None:
    raw = build(notice(rcpt(diagnostic="550 " + "x" * 5000)))
    lines = raw_field_lines(raw, b"Diagnostic-Code")
    assert all(len(line) <= 998 for line in lines)
    value = blocks(parts(parse(raw))[1])[1]["Diagnostic-Code"]
    assert value.endswith("...") and len(value) < 2100


def test_boundary_is_not_in_the_content() -> None:
    hostile = rcpt(diagnostic="550 --=_roost.fixed is here")
    raw = build(notice(hostile), nonce="fixed")
    m = re.search(rb'boundary="([^"]+)"', raw)
    assert m is not None and m.group(1) != b"=_roost.fixed"
    assert len(parts(parse(raw))) == 3
    first, second = build(notice()), build(notice())
    assert first != second  # a fresh random boundary each time


def test_original_with_bare_line_ends_is_made_crlf() -> None:
    original = b"From: a@example.org\nSubject: x\r\rbody\nline\r"
    raw = build(notice(ret=Ret.FULL), original)  # check_wellformed: no bare CR or LF
    assert b"\r\nbody\r\nline\r\n" in raw


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"original_sender": ""}, "null reverse path"),
        ({"recipients": ()}, "at least one recipient"),
        ({"now": datetime(2026, 3, 1)}, "timezone-aware"),
        ({"original_sender": "jürgen@example.org"}, "SMTPUTF8"),
        ({"reporting_mta": "mx\r\nBcc: x"}, "CR, LF"),
        ({"kind": "bounce"}, "kind"),
    ],
)
def test_notice_rejects_bad_values(change: dict[str, object], message: str) -> None:
    with pytest.raises(DsnError, match=message):
        notice(**change)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"status": "5.1"}, "RFC 3463"),
        ({"action": "bounced"}, "action"),
        ({"remote_mta": "mx\nx"}, "CR, LF"),
        ({"last_attempt": datetime(2026, 1, 1)}, "timezone-aware"),
        ({"original_recipient": ("rfc 822", "x@y")}, "original recipient"),
    ],
)
def test_recipient_rejects_bad_values(change: dict[str, object], message: str) -> None:
    with pytest.raises(DsnError, match=message):
        rcpt("bob@example.com", **change)


# RFC 3464 Appendix B: the shapes of its example notifications.
EDT = timezone(timedelta(hours=-4))


def test_rfc3464_simple_dsn_shape() -> None:
    r = ReportedRecipient(
        "louisl@larry.slip.umd.edu",
        Action.FAILED,
        "4.0.0",
        original_recipient=("rfc822", "louisl@larry.slip.umd.edu"),
        diagnostic="426 connection timed out",
        last_attempt=datetime(1994, 7, 7, 17, 15, 49, tzinfo=EDT),
    )
    n = notice(r, reporting_mta="cs.utk.edu")
    per_message, block = blocks(parts(parse(build(n)))[1])
    assert per_message["Reporting-MTA"] == "dns; cs.utk.edu"
    assert dict(block.items()) == {
        "Original-Recipient": "rfc822; louisl@larry.slip.umd.edu",
        "Final-Recipient": "rfc822; louisl@larry.slip.umd.edu",
        "Action": "failed",
        "Status": "4.0.0",
        "Diagnostic-Code": "smtp; 426 connection timed out",
        "Last-Attempt-Date": "Thu, 07 Jul 1994 17:15:49 -0400",
    }


def test_rfc3464_multi_recipient_dsn_shape() -> None:
    rs = (
        ReportedRecipient(
            "arathib@vnet.ibm.com",
            "failed",  # type: ignore[arg-type]
            "5.0.0",
            original_recipient=("rfc822", "arathib@vnet.ibm.com"),
            remote_mta="vnet.ibm.com",
            diagnostic="550 'arathib@vnet.IBM.COM' is not a registered gateway user",
        ),
        ReportedRecipient(
            "johnh@hpnjld.njd.hp.com",
            "delayed",  # type: ignore[arg-type]
            "4.0.0",
            original_recipient=("rfc822", "johnh@hpnjld.njd.hp.com"),
        ),
        ReportedRecipient(
            "wsnell@sdcc13.ucsd.edu",
            "failed",  # type: ignore[arg-type]
            "5.0.0",
            original_recipient=("rfc822", "wsnell@sdcc13.ucsd.edu"),
            remote_mta="sdcc13.ucsd.edu",
            diagnostic="550 user unknown",
        ),
    )
    found = blocks(parts(parse(build(notice(*rs, reporting_mta="cs.utk.edu"))))[1])
    assert len(found) == 4
    assert [b["Action"] for b in found[1:]] == ["failed", "delayed", "failed"]
    assert [b.keys() for b in found[1:]] == [
        [
            "Original-Recipient",
            "Final-Recipient",
            "Action",
            "Status",
            "Remote-MTA",
            "Diagnostic-Code",
        ],
        ["Original-Recipient", "Final-Recipient", "Action", "Status"],
        [
            "Original-Recipient",
            "Final-Recipient",
            "Action",
            "Status",
            "Remote-MTA",
            "Diagnostic-Code",
        ],
    ]
    assert found[1]["Diagnostic-Code"] == (
        "smtp; 550 'arathib@vnet.IBM.COM' is not a registered gateway user"
    )


def test_rfc3464_delayed_dsn_shape() -> None:
    r = ReportedRecipient(
        "thomas@de-montfort.ac.uk",
        Action.DELAYED,
        "4.0.0",
        will_retry_until=datetime(1994, 7, 10, 12, 0, tzinfo=UTC),
    )
    n = notice(r, kind=NoticeKind.DELAY, reporting_mta="sun2.nsfnet-relay.ac.uk")
    msg = parse(build(n))
    per_message, block = blocks(parts(msg)[1])
    assert per_message["Reporting-MTA"] == "dns; sun2.nsfnet-relay.ac.uk"
    assert block.keys() == ["Final-Recipient", "Action", "Status", "Will-Retry-Until"]
    assert block["Action"] == "delayed"
