"""Transcript tests for the IMAP connection core: ``C:`` lines in, ``S:`` lines out.

`play` feeds the client lines of a script to an `ImapServerConnection`
(consecutive ``C:`` lines go in one write, so they are pipelined), answers
every event with a scripted service, and compares what the server wrote
with the ``S:`` lines that follow. ``<?>`` in an ``S:`` line is a hole that
matches anything (a value that varies).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from roost.proto.imap.commands.anystate import Noop
from roost.proto.imap.commands.auth import Examine, Idle, Select
from roost.proto.imap.commands.nonauth import Authenticate, Login, StartTls
from roost.proto.imap.connection import ImapServerConnection, Phase
from roost.proto.imap.events import (
    AuthCancelled,
    AuthResponse,
    CommandIssued,
    ConnectionLost,
    Event,
    IdleAborted,
    IdleDone,
    LoggedOut,
)
from roost.proto.imap.responses import ResponseCode
from roost.proto.imap.session_state import ImapSettings
from roost.proto.imap.values import Atom

Answer = Callable[[ImapServerConnection, Event], None]


def fake_service(core: ImapServerConnection, event: Event) -> None:
    """A service that says yes: LOGIN and AUTHENTICATE succeed, SELECT opens
    an empty mailbox, IDLE idles, STARTTLS starts; the rest completes OK."""
    match event:
        case CommandIssued(command=Login()):
            core.authenticated()
        case CommandIssued(command=Authenticate(initial_response=None)):
            core.auth_challenge(b"")
        case CommandIssued(command=Authenticate()) | AuthResponse():
            core.authenticated()
        case CommandIssued(command=Select() | Examine()):
            core.untagged(0, Atom("EXISTS"))
            core.selected()
            core.finish(code=ResponseCode("READ-WRITE"))
        case CommandIssued(command=Idle()):
            core.start_idle()
        case IdleDone():
            core.finish(text="IDLE terminated")
        case CommandIssued(command=StartTls()):
            core.start_tls()
        case CommandIssued(command=Noop()):
            core.finish()
        case CommandIssued():
            core.finish()
        case AuthCancelled() | IdleAborted() | LoggedOut() | ConnectionLost():
            pass


def new_core(
    *,
    plaintext: bool = True,
    starttls: bool = False,
    tls: bool = False,
    greeted: bool = True,
    **limits: int,
) -> ImapServerConnection:
    """A connection after its greeting; ``greeted=False`` leaves the greeting
    in the output for the test to check."""
    settings = ImapSettings(starttls_available=starttls, plaintext_auth_allowed=plaintext, **limits)
    core = ImapServerConnection(settings, tls=tls)
    core.greeting()
    if greeted:
        core.data_to_send()
    return core


def drive(core: ImapServerConnection, data: bytes, answer: Answer = fake_service) -> list[Event]:
    """Feed ``data`` and answer events until the core wants more input."""
    core.receive_data(data)
    seen: list[Event] = []
    while not core.closing and core.awaiting is None and core.phase is not Phase.TLS:
        event = core.next_event()
        if event is None:
            break
        seen.append(event)
        answer(core, event)
        if isinstance(event, ConnectionLost | LoggedOut):
            break
    return seen


def _matches(expected: str, actual: str) -> bool:
    pattern = ".*".join(re.escape(piece) for piece in expected.split("<?>"))
    return re.fullmatch(pattern, actual, re.DOTALL) is not None


def play(core: ImapServerConnection, script: str, answer: Answer = fake_service) -> None:
    """Run a transcript; the output before the first ``C:`` is checked too."""
    expected: list[str] = []
    pending: list[str] = []

    def check() -> None:
        actual = core.data_to_send().decode("utf-8").split("\r\n")
        assert actual[-1] == "", f"output does not end in CRLF: {actual!r}"
        actual = actual[:-1]
        assert len(actual) == len(expected), f"expected {expected!r}, got {actual!r}"
        for want, got in zip(expected, actual, strict=True):
            assert _matches(want, got), f"expected {want!r}, got {got!r}"
        expected.clear()

    for raw in script.strip("\n").splitlines():
        line = raw.strip()
        if not line:
            continue
        side, _, text = line.partition(" ")
        if side == "C:":
            if expected:
                check()
            pending.append(text)
        elif side == "S:":
            if pending:
                drive(core, "".join(p + "\r\n" for p in pending).encode(), answer)
                pending.clear()
            expected.append(text)
        else:
            raise AssertionError(f"a transcript line starts with C: or S:, not {raw!r}")
    if pending:
        drive(core, "".join(p + "\r\n" for p in pending).encode(), answer)
    check()
