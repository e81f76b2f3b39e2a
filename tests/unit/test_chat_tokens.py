"""The chat token policy (`roost.control.chat_tokens`) with a manual clock: once,
only on the WebSocket from our own origin, only until it expires."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import sqlalchemy as sa

from roost.control.auth import Authenticator
from roost.control.chat_tokens import (
    TOKEN_PREFIX,
    WEBSOCKET,
    ChatChannel,
    ChatTokens,
    is_token,
)
from roost.control.passwords import Passwords
from roost.control.web_sessions import new_session_keys
from roost.core.clock import ManualClock
from roost.core.errors import AuthenticationFailed, Throttled
from roost.store.schema import chat_tokens
from roost.store.store import Store
from roost.store.webmail_sessions import WebmailSession, password_stamp
from tests.conftest import make_config

ADDRESS = "ann@example.test"
OWN = ChatChannel(WEBSOCKET, origin="http://127.0.0.1:8080", host="127.0.0.1:8080")


@pytest.mark.parametrize(
    ("channel", "own"),
    [
        (OWN, True),
        (ChatChannel(WEBSOCKET, origin="HTTP://Mail.Example:443", host="mail.example:443"), True),
        (
            ChatChannel(WEBSOCKET, origin="https://mail.example", host="mail.example", tls=True),
            True,
        ),
        (
            ChatChannel(WEBSOCKET, origin="http://mail.example", host="mail.example", tls=True),
            False,
        ),
        (ChatChannel(WEBSOCKET, origin="https://mail.example", host="mail.example"), False),
        (ChatChannel(WEBSOCKET, origin="http://evil.example", host="127.0.0.1:8080"), False),
        (ChatChannel(WEBSOCKET, origin="http://127.0.0.1:8081", host="127.0.0.1:8080"), False),
        (ChatChannel(WEBSOCKET, origin="null", host="127.0.0.1:8080"), False),
        (ChatChannel(WEBSOCKET, origin=None, host="127.0.0.1:8080"), False),
        (ChatChannel(WEBSOCKET, origin="http://127.0.0.1:8080", host=None), False),
        (ChatChannel("starttls", origin="http://127.0.0.1:8080", host="127.0.0.1:8080"), False),
    ],
)
def test_own_origin(channel: ChatChannel, own: bool) -> None:
    assert channel.own_origin is own


def test_tokens_are_told_from_passwords() -> None:
    assert is_token(TOKEN_PREFIX + "x" * 43)
    assert not is_token("correct horse battery staple")
    assert not is_token(TOKEN_PREFIX + "x" * 200)


async def _setup(
    store: Store, clock: ManualClock, tmp_path: Path
) -> tuple[ChatTokens, WebmailSession]:
    # No delays: the throttle's lock-out is what a test can count.
    config = make_config(
        tmp_path, webmail={"chat_token_ttl_s": 30}, auth={"delay_initial_s": 0, "delay_max_s": 0}
    )
    await store.write(store.directory.add_domain, "example.test")
    account = await store.write(
        store.directory.add_account, ADDRESS, display_name="Ann", password_hash="h", scram=""
    )
    keys = new_session_keys()
    await store.write(
        store.webmail_sessions.add_session,
        keys.id_hash,
        account.id,
        password_stamp("h"),
        keys.csrf_token,
        None,
    )
    session = await store.read(store.webmail_sessions.session, keys.id_hash)
    assert session is not None
    auth = Authenticator(store, Passwords(config.directory), config.auth, config.directory, clock)
    return ChatTokens(store, auth, config.webmail, clock), session


async def test_a_token_serves_once(sqlite_store: Store, clock: ManualClock, tmp_path: Path) -> None:
    tokens, session = await _setup(sqlite_store, clock, tmp_path)
    issued = await tokens.issue(session)
    assert is_token(issued.token)
    kept = await sqlite_store.read(lambda tx: tx.execute(sa.select(chat_tokens.c.token_hash)))
    (stored,) = [row.token_hash for row in kept]
    assert stored == hashlib.sha256(issued.token.encode()).hexdigest(), "kept hashed only"
    signed = await tokens.sign_in(ADDRESS.upper(), issued.token, OWN, client="127.0.0.1")
    assert signed.address == ADDRESS
    with pytest.raises(AuthenticationFailed):
        await tokens.sign_in(ADDRESS, issued.token, OWN, client="127.0.0.1")


async def test_a_token_expires(sqlite_store: Store, clock: ManualClock, tmp_path: Path) -> None:
    tokens, session = await _setup(sqlite_store, clock, tmp_path)
    early = await tokens.issue(session)
    late = await tokens.issue(session)
    clock.advance(29)
    signed = await tokens.sign_in(ADDRESS, early.token, OWN, client="127.0.0.1")
    assert signed.address == ADDRESS
    clock.advance(1)
    with pytest.raises(AuthenticationFailed):
        await tokens.sign_in(ADDRESS, late.token, OWN, client="127.0.0.1")


async def test_elsewhere_a_token_is_not_even_tried(
    sqlite_store: Store, clock: ManualClock, tmp_path: Path
) -> None:
    tokens, session = await _setup(sqlite_store, clock, tmp_path)
    issued = await tokens.issue(session)
    foreign = ChatChannel(WEBSOCKET, origin="http://evil.example", host="127.0.0.1:8080")
    for channel in (ChatChannel("starttls"), foreign):
        with pytest.raises(AuthenticationFailed):
            await tokens.sign_in(ADDRESS, issued.token, channel, client="127.0.0.1")
    # Refused there, it was not spent: the webmail's own page may still use it.
    signed = await tokens.sign_in(ADDRESS, issued.token, OWN, client="127.0.0.1")
    assert signed.address == ADDRESS


async def test_failures_count_toward_the_throttle(
    sqlite_store: Store, clock: ManualClock, tmp_path: Path
) -> None:
    tokens, _ = await _setup(sqlite_store, clock, tmp_path)
    with pytest.raises(Throttled):
        for _ in range(100):
            with pytest.raises(AuthenticationFailed) as refused:
                await tokens.sign_in(ADDRESS, TOKEN_PREFIX + "guess", OWN, client="192.0.2.1")
            if isinstance(refused.value, Throttled):
                raise refused.value
