"""The IMAP connection core and the extensions it answers itself or keeps
state for: ENABLE QRESYNC, COMPRESS, and the limit on BAD commands in a row."""

from __future__ import annotations

from roost.proto.imap.connection import ImapServerConnection
from roost.proto.imap.events import CommandIssued, Event, TooManyErrors
from roost.proto.imap.responses import Condition
from tests.imap_transcript import drive, new_core, play


def test_enable_qresync_implies_condstore() -> None:
    core = new_core()
    play(
        core,
        """
        C: a1 LOGIN alice secret
        S: a1 OK <?>
        C: a2 ENABLE QRESYNC
        S: * ENABLED QRESYNC
        S: a2 OK ENABLE completed
        C: a3 ENABLE CONDSTORE QRESYNC
        S: * ENABLED
        S: a3 OK ENABLE completed
        """,
    )
    assert core.qresync
    assert core.enabled == {"QRESYNC", "CONDSTORE"}


def test_qresync_is_offered() -> None:
    core = new_core()
    assert "QRESYNC" in core.capabilities()


def test_too_many_bad_commands_in_a_row_close_the_connection() -> None:
    core = new_core(max_bad_commands=3)
    play(
        core,
        """
        C: a1 FROB
        S: a1 BAD <?>
        C: a2 SELECT INBOX
        S: a2 BAD SELECT is not allowed in the not authenticated state
        C: a3 NOOP
        S: a3 OK NOOP completed
        C: a4 FROB
        S: a4 BAD <?>
        C: )(
        S: * BAD <?>
        C: a6 LOGIN
        S: a6 BAD <?>
        S: * BYE Too many invalid commands
        """,
    )
    assert core.closing


def test_a_bad_answer_from_the_service_counts_too() -> None:
    core = new_core(max_bad_commands=2)

    def answer(core: ImapServerConnection, event: Event) -> None:
        if isinstance(event, CommandIssued):
            core.finish(Condition.BAD, "no")

    drive(core, b"a1 LOGIN a b\r\na2 LOGIN a b\r\na3 NOOP\r\n", answer)
    assert isinstance(core.next_event(), TooManyErrors)
    assert core.data_to_send() == b"a1 BAD no\r\na2 BAD no\r\n* BYE Too many invalid commands\r\n"
    assert core.closing
