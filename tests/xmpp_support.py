"""What the XMPP tests share: a running Roost with XMPP on free ports, a
test CA, slixmpp clients set up for it, and a raw-socket client."""

from __future__ import annotations

import asyncio
import base64
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import slixmpp
import trustme

from roost.app import Roost, start
from roost.control.directory import Actor
from roost.services.xmpp.service import XmppService
from tests.conftest import make_config
from tests.tls_support import client_context

ACTOR = Actor("test")
DOMAIN = "example.org"
ALICE = "alice@example.org"
ALICE_PASSWORD = "alice-password"
BOB = "bob@example.org"
BOB_PASSWORD = "bob-password"
TIMEOUT_S = 30.0


def certificate(ca: trustme.CA, folder: Path) -> tuple[Path, Path]:
    """A certificate for example.org (and loopback) and its key, as PEM files."""
    issued = ca.issue_cert(DOMAIN, "localhost", "127.0.0.1")
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / "xmpp-test.crt", folder / "xmpp-test.key"
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    return cert, key


@asynccontextmanager
async def xmpp_roost(
    tmp_path: Path, ca: trustme.CA, *, fresh: bool = True, **sections: dict[str, object]
) -> AsyncIterator[Roost]:
    """Roost with XMPP on free ports, the CA's certificate for example.org,
    and alice and bob (created unless ``fresh`` is False: a restart on the
    data of an earlier run in ``tmp_path``)."""
    cert, key = certificate(ca, tmp_path / "certs")
    base: dict[str, dict[str, object]] = {
        "web": {"listen": ["127.0.0.1:0"], "tls_listen": []},
        "smtp": {"mx_listen": [], "submission_listen": [], "submissions_listen": []},
        "tls": {"cert_file": str(cert), "key_file": str(key)},
        "pop": {"listen": [], "tls_listen": []},
        "imap": {"listen": [], "tls_listen": []},
        "dns": {"nameservers": ["127.0.0.1:9"], "timeout_s": 0.2},
    }
    for name, values in sections.items():
        base.setdefault(name, {}).update(values)
    roost = await start(make_config(tmp_path, **base), announce=False)
    try:
        if fresh:
            await roost.directory.add_domain(ACTOR, DOMAIN)
            await roost.directory.add_user(ACTOR, ALICE, ALICE_PASSWORD)
            await roost.directory.add_user(ACTOR, BOB, BOB_PASSWORD)
        yield roost
    finally:
        await roost.stop()


def xmpp_of(roost: Roost) -> XmppService:
    return next(s for s in roost.services if isinstance(s, XmppService))


def xmpp_port(roost: Roost, kind: str = "xmpp") -> int:
    (address,) = xmpp_of(roost).addresses[f"xmpp-{kind}"]
    return int(address.rpartition(":")[2])


class Client(slixmpp.ClientXMPP):  # type: ignore[misc]
    """slixmpp over STARTTLS with the test CA (NOTES.md: XMPP)."""

    def __init__(self, jid: str, password: str, ca: trustme.CA, mechanism: str | None) -> None:
        super().__init__(jid, password, sasl_mech=mechanism)
        self.enable_direct_tls = False
        self.enable_starttls = True
        self.enable_plaintext = False
        self.ssl_context = client_context(ca)
        self.messages: asyncio.Queue[slixmpp.Message] = asyncio.Queue()
        self.presences: asyncio.Queue[slixmpp.Presence] = asyncio.Queue()
        self.started = asyncio.Event()
        self.failed = asyncio.Event()
        self.register_plugin("xep_0030")
        self.register_plugin("xep_0092")
        self.register_plugin("xep_0199")
        for plugin in ("xep_0054", "xep_0191", "xep_0203", "xep_0280"):
            self.register_plugin(plugin)
        self.subscriptions: asyncio.Queue[slixmpp.Presence] = asyncio.Queue()
        self.carbons: asyncio.Queue[slixmpp.Message] = asyncio.Queue()
        self.add_event_handler("carbon_received", self.carbons.put_nowait)
        self.add_event_handler("carbon_sent", self.carbons.put_nowait)
        for kind in ("subscribe", "subscribed", "unsubscribe", "unsubscribed"):
            self.add_event_handler(f"presence_{kind}", self.subscriptions.put_nowait)
        self.add_event_handler("session_start", self._start)
        self.add_event_handler("failed_auth", lambda _: self.failed.set())
        self.add_event_handler("message", self.messages.put_nowait)
        self.add_event_handler("message_error", self.messages.put_nowait)
        self.add_event_handler("presence_available", self.presences.put_nowait)
        self.add_event_handler("presence_unavailable", self.presences.put_nowait)

    async def _start(self, _event: object) -> None:
        await self.get_roster(timeout=TIMEOUT_S)
        self.send_presence()
        self.started.set()

    @property
    def mechanism(self) -> str:
        return str(self.plugin["feature_mechanisms"].mech.name)


@asynccontextmanager
async def signed_in(
    roost: Roost,
    ca: trustme.CA,
    jid: str,
    password: str,
    mechanism: str | None = None,
    *,
    plugins: tuple[str, ...] = (),
    setup: Callable[[Client], None] | None = None,
) -> AsyncIterator[Client]:
    """*plugins*: slixmpp plugins to register beside the usual ones;
    *setup*: called before connecting (to add event handlers)."""
    port = xmpp_port(roost)
    async with signed_in_at(port, ca, jid, password, mechanism, plugins=plugins, setup=setup) as c:
        yield c


@asynccontextmanager
async def signed_in_at(
    port: int,
    ca: trustme.CA,
    jid: str,
    password: str,
    mechanism: str | None = None,
    *,
    plugins: tuple[str, ...] = (),
    setup: Callable[[Client], None] | None = None,
) -> AsyncIterator[Client]:
    """`signed_in` to any server on 127.0.0.1 (Roost or the Prosody peer)."""
    client = Client(jid, password, ca, mechanism)
    for plugin in plugins:
        client.register_plugin(plugin)
    if setup is not None:
        setup(client)
    client.connect("127.0.0.1", port)
    try:
        async with asyncio.timeout(TIMEOUT_S):
            await client.started.wait()
        yield client
    finally:
        await asyncio.wait_for(client.disconnect(), TIMEOUT_S)


async def next_of(queue: asyncio.Queue[object], what: str) -> object:
    try:
        return await asyncio.wait_for(queue.get(), TIMEOUT_S)
    except TimeoutError:
        raise AssertionError(f"no {what} within {TIMEOUT_S} s") from None


class RawClient:
    """A plaintext stream from loopback, where the development profile lets
    PLAIN through: for the tests that slixmpp cannot play (a client that
    stops reading, two streams racing for a resource)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.seen = b""

    @classmethod
    async def signed_in(cls, port: int, user: str, password: str, *, rcvbuf: int = 0) -> RawClient:
        """Connected, PLAIN done and the stream restarted; not yet bound."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        await asyncio.wait_for(
            asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port)), TIMEOUT_S
        )
        reader, writer = await asyncio.open_connection(sock=sock)
        client = cls(reader, writer)
        await client.open()
        await client.expect(b"PLAIN")
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        client.send(
            f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{token}</auth>"
        )
        await client.expect(b"<success")
        await client.open()
        await client.expect(b"urn:ietf:params:xml:ns:xmpp-bind")
        return client

    @classmethod
    async def bound(
        cls, port: int, user: str, password: str, resource: str, *, rcvbuf: int = 0
    ) -> RawClient:
        client = await cls.signed_in(port, user, password, rcvbuf=rcvbuf)
        assert b"</jid>" in await client.bind(resource)
        return client

    async def bind(self, resource: str) -> bytes:
        """Ask for ``resource``; the answer (a result or an error)."""
        self.seen = b""
        self.send(
            "<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
            f"<resource>{resource}</resource></bind></iq>"
        )
        return await self.expect(b"</iq>")

    async def open(self) -> None:
        self.seen = b""
        self.send(
            "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
            "xmlns:stream='http://etherx.jabber.org/streams' version='1.0' to='example.org'>"
        )
        await self.expect(b"</stream:features>")

    def send(self, text: str) -> None:
        self.writer.write(text.encode())

    async def expect(self, needle: bytes) -> bytes:
        """Read until ``needle`` has been seen; what was read so far."""
        async with asyncio.timeout(TIMEOUT_S):
            while needle not in self.seen:
                chunk = await self.reader.read(65536)
                if not chunk:
                    raise AssertionError(f"stream ended before {needle!r}: {self.seen[-300:]!r}")
                self.seen += chunk
        return self.seen

    async def read_to_end(self, timeout_s: float = TIMEOUT_S) -> bytes:
        """Everything until the server closes the connection (within ``timeout_s``)."""
        async with asyncio.timeout(timeout_s):
            while True:
                try:
                    chunk = await self.reader.read(65536)
                except ConnectionError:
                    return self.seen
                if not chunk:
                    return self.seen
                self.seen += chunk

    def close(self) -> None:
        self.writer.close()
