"""SCRAM-SHA-1 and SCRAM-SHA-256, server side (RFC 5802, RFC 7677).

scramp does the cryptography and the message grammar; this module fits its
synchronous ``auth_fn`` callback into our event flow, where the stored keys
arrive later from the service::

    client-first  ──► NeedScramKeys(authcid)
    scram_keys()  ──► Challenge(server-first)          r=…,s=…,i=…
    client-final  ──► Success(final_data=server-final)  v=…
                  or  Failure

To learn the user name before the keys exist, the client-first message is
parsed once by a throw-away scramp server whose ``auth_fn`` only records
the name; the real server parses it again once the keys are here.

Channel binding: we offer no ``-PLUS`` mechanism, so per RFC 5802 §6 a
client may send gs2 flag ``n`` or ``y``; ``p=`` is refused as malformed.

Authorization identity: scramp refuses any ``a=`` in the gs2 header (the
header enters the proof through ``c=``, so it cannot be rewritten), hence
a SCRAM client that names an authzid fails with AUTHZID_NOT_ALLOWED.

Unknown users: RFC 5802 §5.1 lets a server fail at once with
``e=unknown-user``, but that reveals which accounts exist. Instead the
exchange continues with fake credentials (see `fake_scram_credentials`)
and fails at the proof, like a wrong password.
"""

from __future__ import annotations

import contextlib
import enum
from typing import Final, Protocol

from scramp import ScramException, ScramMechanism

from roost.proto.sasl.config import SaslConfig
from roost.proto.sasl.credentials import ScramAlgorithm, ScramCredentials, fake_scram_credentials
from roost.proto.sasl.errors import SaslError
from roost.proto.sasl.events import (
    Challenge,
    Event,
    Failure,
    FailureReason,
    NeedScramKeys,
    Success,
)

_AuthInfo = tuple[bytes, bytes, bytes, int]
"""What scramp's ``auth_fn`` returns: salt, stored key, server key, i."""

_INVALID_PROOF: Final = "invalid-proof"
"""scramp's ``ServerError.INVALID_PROOF`` value (RFC 5802 §7 server-error)."""

_PROBE_NONCE: Final = "probe"


class _ScrampServer(Protocol):
    """The part of ``scramp.core.ScramServer`` used after server-first."""

    def set_client_final(self, client_final: str) -> None: ...

    def get_server_final(self) -> str: ...


class _Step(enum.Enum):
    CLIENT_FIRST = enum.auto()
    KEYS = enum.auto()
    CLIENT_FINAL = enum.auto()
    DONE = enum.auto()


def _decode(data: bytes) -> str | None:
    """SCRAM messages are UTF-8 (RFC 5802 §7); NUL is never valid in them."""
    if b"\x00" in data:
        return None
    try:
        return data.decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        return None


def _check_gs2_header(client_first: str) -> Failure | None:
    """Refuse channel binding and authzid before scramp sees them (RFC 5802 §7).

    ``gs2-header = gs2-cbind-flag "," [ authzid ] ","``
    """
    flag, sep, rest = client_first.partition(",")
    if not sep:
        return Failure(FailureReason.MALFORMED, "SCRAM gs2 header incomplete")
    if flag.startswith("p="):
        return Failure(FailureReason.MALFORMED, "SCRAM channel binding not supported")
    if flag not in ("n", "y"):
        return Failure(FailureReason.MALFORMED, "SCRAM gs2 flag is not n, y or p=")
    authzid, sep, _ = rest.partition(",")
    if not sep or (authzid and not authzid.startswith("a=")):
        return Failure(FailureReason.MALFORMED, "SCRAM gs2 authzid malformed")
    if authzid:
        return Failure(FailureReason.AUTHZID_NOT_ALLOWED, "SCRAM authzid not supported")
    return None


def _valid_nonce(nonce: str) -> bool:
    """RFC 5802 §7: ``printable = %x21-2B / %x2D-7E``."""
    return bool(nonce) and all(0x21 <= ord(c) <= 0x7E and c != "," for c in nonce)


class ScramEngine:
    """One SCRAM authentication attempt for one `ScramAlgorithm`."""

    def __init__(self, algorithm: ScramAlgorithm, config: SaslConfig) -> None:
        self._algorithm = algorithm
        self._config = config
        self._mechanism = ScramMechanism(algorithm.mechanism)
        self._step = _Step.CLIENT_FIRST
        self._client_first = ""
        self._authcid = ""
        self._fake = False
        self._server: _ScrampServer | None = None

    def start(self, initial_response: bytes | None) -> Event:
        """SCRAM is client-first: with no initial response, send an empty challenge."""
        if initial_response is None:
            return Challenge(b"")
        return self.respond(initial_response)

    def respond(self, data: bytes) -> Event:
        """Take client-first or client-final, whichever is due."""
        match self._step:
            case _Step.CLIENT_FIRST:
                return self._client_first_message(data)
            case _Step.CLIENT_FINAL:
                return self._client_final_message(data)
            case _:
                raise SaslError(f"SCRAM engine got a response at step {self._step.name}")

    def keys(self, credentials: ScramCredentials | None) -> Event:
        """Take the stored keys (None: unknown user) and send server-first."""
        if self._step is not _Step.KEYS:
            raise SaslError(f"SCRAM engine got keys at step {self._step.name}")
        if credentials is None:
            self._fake = True
            credentials = fake_scram_credentials(
                self._algorithm,
                self._authcid,
                server_secret=self._config.server_secret,
                iterations=self._config.fake_iterations,
            )
        elif (problem := credentials.problem(self._algorithm)) is not None:
            self._step = _Step.DONE
            return Failure(FailureReason.TEMPORARY, problem)
        nonce = self._config.nonce_source()
        if not _valid_nonce(nonce):
            raise SaslError("SASL nonce source returned an invalid SCRAM nonce")
        auth_info: _AuthInfo = (
            credentials.salt,
            credentials.stored_key,
            credentials.server_key,
            credentials.iterations,
        )
        authcid = self._authcid

        def auth_fn(username: str) -> _AuthInfo | None:
            return auth_info if username == authcid else None

        try:
            server = self._mechanism.make_server(auth_fn, s_nonce=nonce)
            server.set_client_first(self._client_first)
            server_first = server.get_server_first()
        except ScramException as e:
            self._step = _Step.DONE
            return Failure(FailureReason.TEMPORARY, f"scramp refused server-first: {e}")
        self._server = server
        self._step = _Step.CLIENT_FINAL
        return Challenge(str(server_first).encode("utf-8"))

    def _client_first_message(self, data: bytes) -> Event:
        """RFC 5802 §5.1: gs2 header, then ``n=user,r=c-nonce``."""
        self._step = _Step.DONE
        text = _decode(data)
        if text is None:
            return Failure(FailureReason.MALFORMED, "SCRAM client-first not UTF-8")
        if (refusal := _check_gs2_header(text)) is not None:
            return refusal
        seen: list[str] = []

        def record(username: str) -> None:
            seen.append(username)

        probe = self._mechanism.make_server(record, s_nonce=_PROBE_NONCE)
        # If scramp never called the recorder it stopped at the grammar; if it
        # did, it parsed everything and only refused the "no such user" answer.
        with contextlib.suppress(ScramException, ValueError):
            probe.set_client_first(text)
        if len(seen) != 1:
            return Failure(FailureReason.MALFORMED, "SCRAM client-first malformed")
        self._client_first = text
        self._authcid = seen[0]
        self._step = _Step.KEYS
        return NeedScramKeys(algorithm=self._algorithm, authcid=self._authcid)

    def _client_final_message(self, data: bytes) -> Event:
        """RFC 5802 §5.1: ``c=…,r=nonce,p=proof``; answer ``v=`` on success."""
        self._step = _Step.DONE
        text = _decode(data)
        if text is None:
            return Failure(FailureReason.MALFORMED, "SCRAM client-final not UTF-8")
        server = self._server
        if server is None:
            raise SaslError("SCRAM engine reached client-final without a server")
        try:
            server.set_client_final(text)
            server_final = server.get_server_final()
        except ScramException as e:
            error = getattr(e.server_error, "value", None)
            if error != _INVALID_PROOF:
                return Failure(FailureReason.MALFORMED, f"SCRAM client-final refused: {error}")
            return self._wrong_proof()
        except ValueError:
            return Failure(FailureReason.MALFORMED, "SCRAM client-final malformed")
        if self._fake:
            return self._wrong_proof()
        return Success(authzid="", authcid=self._authcid, final_data=server_final.encode())

    def _wrong_proof(self) -> Failure:
        if self._fake:
            return Failure(FailureReason.UNKNOWN_USER, "SCRAM user unknown")
        return Failure(FailureReason.BAD_CREDENTIALS, "SCRAM proof wrong")
