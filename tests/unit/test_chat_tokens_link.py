"""A chat token names the webmail session it was issued to (`ChatSignIn`), so
that the end of that session can end the chat it signed in."""

from __future__ import annotations

from pathlib import Path

import pytest

from roost.control.chat_tokens import ChatTokens
from roost.core.clock import ManualClock
from roost.core.errors import AuthenticationFailed
from roost.store.store import Store
from tests.conftest import make_config
from tests.unit.test_chat_tokens import ADDRESS, OWN, _setup


async def test_a_sign_in_names_the_webmail_session(
    sqlite_store: Store, clock: ManualClock, tmp_path: Path
) -> None:
    tokens, session = await _setup(sqlite_store, clock, tmp_path)
    first, second = await tokens.issue(session), await tokens.issue(session)
    signed = await tokens.sign_in(ADDRESS, first.token, OWN, client="127.0.0.1")
    assert (signed.address, signed.web_session) == (ADDRESS, session.id_hash)
    # A token tried where tokens are refused is spent, link and all.
    with pytest.raises(AuthenticationFailed):
        await tokens.sign_in("other@example.test", second.token, OWN, client="127.0.0.1")
    with pytest.raises(AuthenticationFailed):
        await tokens.sign_in(ADDRESS, second.token, OWN, client="127.0.0.1")


async def test_another_node_redeeming_the_token_finds_the_same_session(
    sqlite_store: Store, clock: ManualClock, tmp_path: Path
) -> None:
    """The link is the token's row in the store, not this process's memory."""
    issuer, session = await _setup(sqlite_store, clock, tmp_path)
    issued = await issuer.issue(session)
    settings = make_config(tmp_path, webmail={"chat_token_ttl_s": 30}).webmail
    other_node = ChatTokens(sqlite_store, issuer._auth, settings, clock)
    signed = await other_node.sign_in(ADDRESS, issued.token, OWN, client="127.0.0.1")
    assert signed.web_session == session.id_hash
