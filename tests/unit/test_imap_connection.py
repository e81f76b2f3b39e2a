"""The IMAP connection core: states, pipelining, literals, CAPABILITY, ENABLE, LOGOUT."""

from __future__ import annotations

import pytest

from roost.proto.imap.commands.auth import Select
from roost.proto.imap.commands.selected import Fetch
from roost.proto.imap.connection import ImapServerConnection, Phase
from roost.proto.imap.errors import ImapUsageError
from roost.proto.imap.events import CommandIssued, ConnectionLost, Event, LoggedOut
from roost.proto.imap.session_state import State
from tests.imap_transcript import drive, fake_service, new_core, play

EXTENSIONS = (
    "LITERAL+ ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE CHILDREN "
    "LIST-EXTENDED LIST-STATUS SPECIAL-USE CREATE-SPECIAL-USE CONDSTORE QRESYNC ESEARCH "
    "SEARCHRES QUOTA QUOTA=RES-STORAGE QUOTA=RES-MESSAGE STATUS=SIZE UTF8=ACCEPT BINARY SORT "
    "SORT=DISPLAY ESORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES OBJECTID SAVEDATE COMPRESS=DEFLATE "
    "APPENDLIMIT=<?>"
)
CAPS = "IMAP4rev1 IMAP4rev2 " + EXTENSIONS
PRE_TLS = "IMAP4rev1 IMAP4rev2 STARTTLS LOGINDISABLED AUTH=SCRAM-SHA-256 SASL-IR"
LOOPBACK = "IMAP4rev1 IMAP4rev2 AUTH=SCRAM-SHA-256 AUTH=PLAIN SASL-IR"


def test_greeting_and_capability_before_tls_in_production() -> None:
    core = new_core(plaintext=False, starttls=True, greeted=False)
    play(
        core,
        f"""
        S: * OK [CAPABILITY {PRE_TLS} <?>] Roost IMAP ready
        C: a1 CAPABILITY
        S: * CAPABILITY {PRE_TLS} LITERAL+ <?>
        S: a1 OK CAPABILITY completed
        C: a2 LOGIN alice secret
        S: a2 NO [PRIVACYREQUIRED] LOGIN needs TLS first
        """,
    )


def test_capability_where_plaintext_is_allowed_and_after_login() -> None:
    core = new_core(plaintext=True, greeted=False)
    play(
        core,
        f"""
        S: * OK [CAPABILITY {LOOPBACK} {EXTENSIONS}] Roost IMAP ready
        C: a1 LOGIN alice secret
        S: a1 OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ <?>] Logged in
        C: a2 CAPABILITY
        S: * CAPABILITY {CAPS}
        S: a2 OK CAPABILITY completed
        """,
    )
    assert "AUTH=PLAIN" not in core.capabilities()
    assert core.state is State.AUTHENTICATED


def test_commands_in_the_wrong_state_are_bad() -> None:
    core = new_core()
    play(
        core,
        """
        C: a1 SELECT INBOX
        S: a1 BAD SELECT is not allowed in the not authenticated state
        C: a2 FETCH 1 FLAGS
        S: a2 BAD FETCH is not allowed in the not authenticated state
        C: a3 LOGIN alice secret
        S: a3 OK <?>
        C: a4 FETCH 1 FLAGS
        S: a4 BAD FETCH is not allowed in the authenticated state
        C: a5 LOGIN alice secret
        S: a5 BAD LOGIN is not allowed in the authenticated state
        C: a6 SELECT INBOX
        S: * 0 EXISTS
        S: a6 OK [READ-WRITE] SELECT completed
        C: a7 ENABLE CONDSTORE
        S: a7 BAD ENABLE is not allowed in the selected state
        C: a8 STARTTLS
        S: a8 BAD STARTTLS is not allowed in the selected state
        """,
    )
    assert core.state is State.SELECTED
    core.unselected()
    assert core.state is State.AUTHENTICATED


def test_unknown_commands_and_garbage() -> None:
    play(
        new_core(),
        """
        C: a1 FROB
        S: a1 BAD unknown command FROB
        C: (((
        S: * BAD <?>
        C: a2 UID FROB 1
        S: a2 BAD unknown command UID FROB
        C: a3 NOOP
        S: a3 OK NOOP completed
        """,
    )


def test_pipelined_commands_are_answered_in_order() -> None:
    core = new_core()
    seen: list[str] = []

    def answer(core: ImapServerConnection, event: Event) -> None:
        if isinstance(event, CommandIssued):
            seen.append(event.command.tag)
        fake_service(core, event)

    drive(
        core,
        b"a1 NOOP\r\na2 LOGIN alice secret\r\na3 CAPABILITY\r\na4 SELECT INBOX\r\n"
        b"a5 FETCH 1:* (FLAGS)\r\na6 LOGOUT\r\n",
        answer,
    )
    lines = core.data_to_send().decode().split("\r\n")
    tags = [line.split(" ")[0] for line in lines if line and not line.startswith("*")]
    assert tags == ["a1", "a2", "a3", "a4", "a5", "a6"]
    assert seen == ["a2", "a4", "a5"]
    assert core.closing


def test_nothing_is_parsed_while_an_answer_is_owed() -> None:
    core = new_core()
    core.receive_data(b"a1 LOGIN alice secret\r\na2 NOOP\r\n")
    event = core.next_event()
    assert isinstance(event, CommandIssued)
    assert core.data_to_send() == b""  # a2 waits behind a1
    with pytest.raises(ImapUsageError):
        core.next_event()
    core.authenticated()
    assert core.next_event() is None
    out = core.data_to_send()
    assert out.startswith(b"a1 OK [CAPABILITY ") and out.endswith(b"a2 OK NOOP completed\r\n")


def test_synchronising_literal_gets_a_continuation() -> None:
    core = new_core()
    play(
        core,
        """
        C: a1 LOGIN {5}
        S: + Ready for literal data
        C: alice {6}
        S: + Ready for literal data
        C: secret
        S: a1 OK [CAPABILITY <?>] Logged in
        """,
    )


def test_non_synchronising_literal_needs_no_continuation() -> None:
    core = new_core()
    events = drive(core, b"a1 LOGIN {5+}\r\nalice {6+}\r\nsecret\r\n")
    (issued,) = events
    assert isinstance(issued, CommandIssued)
    assert issued.command.NAME == "LOGIN"
    assert b"+ Ready" not in core.data_to_send()


def test_a_literal_over_the_limit_is_refused_and_the_session_goes_on() -> None:
    core = new_core(append_limit_octets=100)
    play(
        core,
        """
        C: a1 LOGIN alice secret
        S: a1 OK <?>
        C: a2 APPEND INBOX {1000}
        S: a2 NO [TOOBIG] literal too big
        C: a3 NOOP
        S: a3 OK NOOP completed
        """,
    )
    drive(core, b"a4 APPEND INBOX {1000+}\r\n" + b"x" * 1000 + b"\r\na5 NOOP\r\n")
    assert core.data_to_send() == (b"a4 NO [TOOBIG] literal too big\r\na5 OK NOOP completed\r\n")


def test_enable_lists_what_it_switched_on() -> None:
    core = new_core()
    play(
        core,
        """
        C: a1 LOGIN alice secret
        S: a1 OK <?>
        C: a2 ENABLE CONDSTORE X-UNKNOWN UTF8=ACCEPT
        S: * ENABLED CONDSTORE UTF8=ACCEPT
        S: a2 OK ENABLE completed
        C: a3 ENABLE CONDSTORE IMAP4rev2
        S: * ENABLED IMAP4rev2
        S: a3 OK ENABLE completed
        """,
    )
    assert core.utf8 and core.rev2 and "CONDSTORE" in core.enabled


def test_utf8_mailbox_names_after_enable() -> None:
    core = new_core()
    drive(core, b"a1 LOGIN alice secret\r\n")
    names: list[str] = []

    def answer(core: ImapServerConnection, event: Event) -> None:
        if isinstance(event, CommandIssued) and isinstance(event.command, Select):
            names.append(event.command.mailbox)
        fake_service(core, event)

    drive(core, b"a2 SELECT &AOk-t&AOk-\r\n", answer)
    drive(core, b"a3 UNSELECT\r\na4 ENABLE UTF8=ACCEPT\r\n", answer)
    core.unselected()
    drive(core, 'a5 ENABLE UTF8=ACCEPT\r\na6 SELECT "été"\r\n'.encode(), answer)
    assert names == ["été", "été"]


def test_id_and_logout() -> None:
    core = new_core()
    play(
        core,
        """
        C: a1 ID ("name" "imaplib")
        S: * ID ("name" "Roost" "vendor" "Roost")
        S: a1 OK ID completed
        C: a2 LOGOUT
        S: * BYE Logging out
        S: a2 OK LOGOUT completed
        """,
    )
    assert core.closing and core.state is State.LOGOUT


def test_logout_ends_pipelined_input() -> None:
    core = new_core()
    events = drive(core, b"a1 LOGOUT\r\na2 NOOP\r\n")
    assert isinstance(events[-1], LoggedOut)
    assert b"a2" not in core.data_to_send()
    core.receive_data(b"a3 NOOP\r\n")  # ignored once closed
    core.receive_data(b"")
    assert isinstance(core.next_event(), ConnectionLost)


def test_end_of_input_mid_command() -> None:
    core = new_core()
    core.receive_data(b"a1 LOGIN {5}\r\nali")
    assert core.next_event() is None
    core.receive_data(b"")
    assert isinstance(core.next_event(), ConnectionLost)
    assert core.phase is Phase.CLOSED


def test_usage_errors() -> None:
    core = ImapServerConnection(new_core().settings)
    with pytest.raises(ImapUsageError):
        core.next_event()
    core.greeting()
    with pytest.raises(ImapUsageError):
        core.greeting()
    with pytest.raises(ImapUsageError):
        core.finish()
    drive(core, b"a1 NOOP\r\n")
    with pytest.raises(ImapUsageError):
        core.start_idle()


def test_bye_closes() -> None:
    core = new_core()
    core.receive_data(b"a1 LOGIN alice secret\r\n")
    assert isinstance(core.next_event(), CommandIssued)
    core.bye("Server shutting down")
    assert core.data_to_send() == b"* BYE Server shutting down\r\n"
    assert core.closing


def test_fetch_is_handed_over_as_a_typed_command() -> None:
    core = new_core()
    drive(core, b"a1 LOGIN alice secret\r\na2 SELECT INBOX\r\n")
    core.data_to_send()
    core.receive_data(b"a3 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER])\r\n")
    event = core.next_event()
    assert isinstance(event, CommandIssued)
    assert isinstance(event.command, Fetch) and event.command.uid
    assert core.pending_output == 0
