"""The vacation reply's rules without a store: who gets a reply (RFC 3834 §2),
what it looks like (§3.1), and what a user may save."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roost.control.user_settings import (
    SettingsRefused,
    check_address,
    check_time_zone,
    contains_html,
    settings_of,
    today_in,
)
from roost.core.config import VacationSettings
from roost.services.spool.vacation import compose_reply, read_original, refusal
from roost.store.user_settings import StoredSettings

USER = "alice@example.org"
OWN = {USER, "sales@example.org"}


def header(*lines: str) -> bytes:
    base = [
        "From: Bob <bob@example.net>",
        "To: Alice <alice@example.org>",
        "Subject: =?utf-8?q?Caf=C3=A9?= tomorrow",
        "Message-ID: <m1@example.net>",
    ]
    return ("\r\n".join([*base, *lines]) + "\r\n").encode()


def why(data: bytes, sender: str = "bob@example.net") -> str | None:
    return refusal(read_original(data), sender, OWN, "+")


def test_a_person_writing_to_the_user_gets_a_reply() -> None:
    assert why(header()) is None
    assert why(header("Auto-Submitted: no")) is None
    assert why(header("Precedence: first-class")) is None


@pytest.mark.parametrize(
    ("extra", "sender", "reason"),
    [
        ("List-Id: <friends.lists.example.net>", "bob@example.net", "mailing list"),
        ("List-Unsubscribe: <mailto:x@example.net>", "bob@example.net", "mailing list"),
        ("Precedence: bulk", "bob@example.net", "Precedence"),
        ("Precedence: JUNK", "bob@example.net", "Precedence"),
        ("Precedence: list", "bob@example.net", "Precedence"),
        ("Auto-Submitted: auto-generated", "bob@example.net", "Auto-Submitted"),
        ("Auto-Submitted: auto-replied (vacation)", "bob@example.net", "Auto-Submitted"),
        ("X-Auto-Response-Suppress: OOF, DR", "bob@example.net", "Suppress"),
        ("X-Other: 1", "", "null sender"),
        ("X-Other: 1", "MAILER-DAEMON@example.net", "machine"),
        ("X-Other: 1", "owner-friends@example.net", "machine"),
        ("X-Other: 1", "friends-request@example.net", "machine"),
        ("X-Other: 1", "alice@example.org", "from the user"),
        ("X-Other: 1", "Alice+x@Example.org", "from the user"),
        ("X-Other: 1", "sales@example.org", "from the user"),
    ],
)
def test_no_reply_to_lists_robots_bounces_or_oneself(extra: str, sender: str, reason: str) -> None:
    found = why(header(extra), sender)
    assert found is not None and reason in found


def test_only_a_user_in_to_or_cc_gets_a_reply() -> None:
    bcc_only = (
        b"From: bob@example.net\r\nTo: team@example.net\r\nBcc: alice@example.org\r\nSubject: x\r\n"
    )
    assert "not in To or Cc" in (why(bcc_only) or "")
    cc = b"From: bob@example.net\r\nTo: team@example.net\r\nCc: ALICE+work@example.org\r\n"
    assert why(cc) is None
    alias = b"From: bob@example.net\r\nTo: Sales <sales@example.org>\r\n"
    assert why(alias) is None
    group = b"From: bob@example.net\r\nTo: Friends: alice@example.org, c@example.net;\r\n"
    assert why(group) is None


def test_the_reply_has_rfc_3834_headers() -> None:
    stored = StoredSettings(
        display_name="Alice Émile",
        vacation_enabled=True,
        vacation_text="I am away until Monday.\nAsk <carol@example.org>.",
    )
    settings = settings_of(USER, "Alice", stored, VacationSettings())
    original = read_original(header("References: <r0@example.net> <r1@example.net>"))
    now = datetime(2026, 7, 1, 12, tzinfo=UTC)
    data = compose_reply(settings, original, "bob@example.net", now, "mx.example.org")
    assert b"\r\n" in data and b"\n\n" not in data.replace(b"\r\n", b"")
    reply = email.message_from_bytes(data, policy=email.policy.default)
    assert reply["Auto-Submitted"] == "auto-replied"
    assert reply["To"] == "bob@example.net"
    assert reply["From"].addresses[0].addr_spec == USER
    assert reply["From"].addresses[0].display_name == "Alice Émile"
    assert reply["Subject"] == "Auto: Café tomorrow"
    assert reply["In-Reply-To"] == "<m1@example.net>"
    assert reply["References"] == "<r0@example.net> <r1@example.net> <m1@example.net>"
    assert reply["Message-ID"].endswith("@mx.example.org>")
    assert reply.get_content_type() == "text/plain"
    text = reply.get_content().replace("\r\n", "\n")
    assert text == "I am away until Monday.\nAsk <carol@example.org>.\n"


def test_the_users_subject_wins_and_a_malformed_references_is_cut_to_ids() -> None:
    stored = StoredSettings(vacation_enabled=True, vacation_subject="Away", vacation_text="x")
    settings = settings_of(USER, "Alice", stored, VacationSettings())
    original = read_original(header("References: junk <ok@x> <<bad <also@y> " + "z" * 3000))
    data = compose_reply(settings, original, "bob@example.net", datetime.now(UTC), "h")
    reply = email.message_from_bytes(data, policy=email.policy.default)
    assert reply["Subject"] == "Away"
    assert reply["References"] == "<ok@x> <also@y> <m1@example.net>"


def test_dates_are_the_users_days() -> None:
    stored = StoredSettings(
        time_zone="Pacific/Auckland",
        vacation_enabled=True,
        vacation_start=date(2026, 7, 2),
        vacation_end=date(2026, 7, 3),
        vacation_text="away",
    )
    settings = settings_of(USER, "Alice", stored, VacationSettings())
    # 1 July 13:00 UTC is already 2 July in Auckland: the first day.
    assert today_in(settings, datetime(2026, 7, 1, 13, tzinfo=UTC)) == date(2026, 7, 2)
    assert settings.vacation.active_on(date(2026, 7, 2))
    assert settings.vacation.active_on(date(2026, 7, 3))
    assert not settings.vacation.active_on(date(2026, 7, 1))
    assert not settings.vacation.active_on(date(2026, 7, 4))
    assert settings.vacation.period_days == VacationSettings().default_period_days


def test_what_a_user_may_save() -> None:
    assert check_time_zone("Europe/Paris") == "Europe/Paris"
    assert check_time_zone("") == "UTC"
    for bad in ("Mars/Olympus", "../etc/passwd", "Europe/Paris\n"):
        with pytest.raises(SettingsRefused, match="not a time zone"):
            check_time_zone(bad + "x" if bad.endswith("\n") else bad)
    assert check_address("bob@example.net", "reply-to") == "bob@example.net"
    for bad in ("bob", "Bob <bob@example.net>", "a@b.c, d@e.f", "bob@localhost"):
        with pytest.raises(SettingsRefused, match="not one e-mail address"):
            check_address(bad, "reply-to")
    assert contains_html("<p>Away</p>")
    assert contains_html("Hi<br/>there")
    assert contains_html("<!-- x -->")
    assert not contains_html("Write to <carol@example.org> or call 1 < 2 > 0.")


@given(st.binary(max_size=2000), st.text(max_size=40))
def test_any_header_is_read_without_crashing(data: bytes, sender: str) -> None:
    refusal(read_original(data), sender, OWN, "+")
