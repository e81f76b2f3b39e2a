"""The IMAP connection core: AUTHENTICATE with the shared SASL exchange, STARTTLS, IDLE."""

from __future__ import annotations

from base64 import b64decode, b64encode

from scramp import ScramClient

from roost.proto.imap.commands.auth import Idle
from roost.proto.imap.commands.nonauth import Authenticate
from roost.proto.imap.connection import ImapServerConnection, Phase
from roost.proto.imap.events import (
    AuthCancelled,
    AuthResponse,
    CommandIssued,
    Event,
    IdleAborted,
    IdleDone,
)
from roost.proto.imap.responses import Condition, ResponseCode
from roost.proto.imap.session_state import State
from roost.proto.imap.values import Atom
from roost.proto.sasl import (
    Challenge,
    Failure,
    NeedPassword,
    NeedScramKeys,
    SaslConfig,
    SaslExchange,
    Success,
    derive_scram_credentials,
)
from roost.proto.sasl import Event as SaslEvent
from tests.imap_transcript import drive, fake_service, new_core, play

CONFIG = SaslConfig(server_secret=b"imap-test-secret-0123456789abcdef", fake_iterations=4096)
PASSWORD = "pencil"
AUTHENTICATIONFAILED = ResponseCode("AUTHENTICATIONFAILED")


class SaslService:
    """Runs AUTHENTICATE through `SaslExchange` as the service does."""

    def __init__(self) -> None:
        self.exchange: SaslExchange | None = None
        self.user: str | None = None

    def __call__(self, core: ImapServerConnection, event: Event) -> None:
        match event:
            case CommandIssued(command=Authenticate(mechanism=mechanism, initial_response=ir)):
                self.exchange, first = SaslExchange.start(
                    mechanism, ir, config=CONFIG, tls=core.tls, allow_plaintext=True
                )
                self.step(core, first)
            case AuthResponse(data=data):
                assert self.exchange is not None
                self.step(core, self.exchange.receive_response(data))
            case AuthCancelled():
                self.exchange = None
            case _:
                fake_service(core, event)

    def step(self, core: ImapServerConnection, event: SaslEvent) -> None:
        exchange = self.exchange
        assert exchange is not None
        while True:
            match event:
                case Challenge(data=data):
                    core.auth_challenge(data)
                    return
                case NeedPassword(authcid=user, password=password):
                    self.user = user
                    event = exchange.password_result(password == PASSWORD)
                case NeedScramKeys(algorithm=algorithm, authcid=user):
                    self.user = user
                    keys = derive_scram_credentials(PASSWORD, algorithm, iterations=4096)
                    event = exchange.scram_keys(keys if user == "user" else None)
                case Success():
                    core.authenticated()
                    return
                case Failure():
                    core.finish(Condition.NO, "Authentication failed", AUTHENTICATIONFAILED)
                    return


def _plain(user: str, password: str) -> str:
    return b64encode(f"\0{user}\0{password}".encode()).decode()


def test_authenticate_plain_with_sasl_ir() -> None:
    core = new_core()
    play(
        core,
        f"""
        C: a1 AUTHENTICATE PLAIN {_plain("user", PASSWORD)}
        S: a1 OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ <?>] Logged in
        """,
        SaslService(),
    )
    assert core.state is State.AUTHENTICATED


def test_authenticate_plain_after_an_empty_challenge_and_a_wrong_password() -> None:
    core = new_core()
    service = SaslService()
    play(
        core,
        f"""
        C: a1 AUTHENTICATE PLAIN
        S: +<?>
        C: {_plain("user", "wrong")}
        S: a1 NO [AUTHENTICATIONFAILED] Authentication failed
        C: a2 AUTHENTICATE plain
        S: +<?>
        C: {_plain("user", PASSWORD)}
        S: a2 OK [CAPABILITY <?>] Logged in
        """,
        service,
    )
    assert service.user == "user"


def test_authenticate_scram_sha_256_with_sasl_ir() -> None:
    core = new_core()
    service = SaslService()
    client = ScramClient(["SCRAM-SHA-256"], "user", PASSWORD)
    first = b64encode(client.get_client_first().encode()).decode()
    drive(core, f"a1 AUTHENTICATE SCRAM-SHA-256 {first}\r\n".encode(), service)
    line = core.data_to_send()
    assert line.startswith(b"+ ") and line.endswith(b"\r\n")
    client.set_server_first(b64decode(line[2:-2]).decode())
    final = b64encode(client.get_client_final().encode())
    drive(core, final + b"\r\n", service)
    line = core.data_to_send()
    assert line.startswith(b"+ ")
    client.set_server_final(b64decode(line[2:-2]).decode())
    drive(core, b"\r\n", service)  # the empty answer to the server's final message
    assert core.data_to_send().startswith(b"a1 OK [CAPABILITY ")
    assert core.state is State.AUTHENTICATED


def test_authenticate_cancelled_or_malformed_is_bad() -> None:
    core = new_core()
    play(
        core,
        """
        C: a1 AUTHENTICATE PLAIN
        S: +<?>
        C: *
        S: a1 BAD AUTHENTICATE cancelled
        C: a2 AUTHENTICATE PLAIN
        S: +<?>
        C: not base64!
        S: a2 BAD AUTHENTICATE response is not base64
        C: a3 AUTHENTICATE PLAIN !!!
        S: a3 BAD not valid base64
        C: a4 AUTHENTICATE X-UNKNOWN
        S: a4 NO [AUTHENTICATIONFAILED] Authentication failed
        """,
        SaslService(),
    )
    assert core.state is State.NOT_AUTHENTICATED


def test_starttls_discards_what_was_pipelined_behind_it() -> None:
    core = new_core(plaintext=False, starttls=True)
    events = drive(core, b"a1 STARTTLS\r\na2 LOGIN alice secret\r\n")
    assert [type(e) for e in events] == [CommandIssued]
    assert core.data_to_send() == b"a1 OK Begin TLS negotiation now\r\n"
    assert core.phase is Phase.TLS
    core.receive_data(b"\x16\x03\x01 handshake bytes go to TLS, not here")
    core.tls_established()
    assert core.next_event() is None  # a2 was dropped, not run under TLS
    caps = core.capabilities()
    assert "STARTTLS" not in caps and "LOGINDISABLED" not in caps and "AUTH=PLAIN" in caps
    play(
        core,
        """
        C: a3 LOGIN alice secret
        S: a3 OK <?>
        C: a4 LOGOUT
        S: * BYE Logging out
        S: a4 OK LOGOUT completed
        """,
    )


def test_starttls_where_it_cannot_run() -> None:
    play(
        new_core(starttls=False),
        """
        C: a1 STARTTLS
        S: a1 BAD STARTTLS is not available here
        """,
    )
    play(
        new_core(starttls=True, tls=True),
        """
        C: a1 STARTTLS
        S: a1 BAD TLS is active already
        """,
    )


def test_idle_updates_then_done() -> None:
    core = new_core()
    drive(core, b"a1 LOGIN alice secret\r\na2 SELECT INBOX\r\n")
    core.data_to_send()
    events = drive(core, b"a3 IDLE\r\n")
    assert isinstance(events[0], CommandIssued) and isinstance(events[0].command, Idle)
    assert core.phase is Phase.IDLE
    core.untagged(1, Atom("EXISTS"))  # a new message while idling
    assert core.data_to_send() == b"+ idling\r\n* 1 EXISTS\r\n"
    events = drive(core, b"DONE\r\na4 NOOP\r\n")
    assert isinstance(events[0], IdleDone)
    assert core.data_to_send() == b"a3 OK IDLE terminated\r\na4 OK NOOP completed\r\n"


def test_idle_ended_by_something_else_than_done() -> None:
    core = new_core()
    drive(core, b"a1 LOGIN alice secret\r\na2 IDLE\r\n")
    core.data_to_send()
    events = drive(core, b"a3 NOOP\r\n")
    assert isinstance(events[0], IdleAborted)
    assert core.data_to_send() == b"a2 BAD IDLE ends with DONE (RFC 2177)\r\n"
    assert core.phase is Phase.COMMAND


def test_done_is_case_insensitive_and_idle_survives_split_input() -> None:
    core = new_core()
    drive(core, b"a1 LOGIN alice secret\r\na2 IDLE\r\n")
    core.data_to_send()
    assert drive(core, b"do") == []
    assert isinstance(drive(core, b"ne\r\n")[0], IdleDone)


def test_scram_keys_unknown_user_fails_like_a_wrong_password() -> None:
    core = new_core()
    service = SaslService()
    client = ScramClient(["SCRAM-SHA-256"], "nobody", PASSWORD)
    first = b64encode(client.get_client_first().encode()).decode()
    drive(core, f"a1 AUTHENTICATE SCRAM-SHA-256 {first}\r\n".encode(), service)
    line = core.data_to_send()
    client.set_server_first(b64decode(line[2:-2]).decode())
    drive(core, b64encode(client.get_client_final().encode()) + b"\r\n", service)
    assert core.data_to_send() == b"a1 NO [AUTHENTICATIONFAILED] Authentication failed\r\n"
