"""Web chat tokens: single-use credentials a webmail session gets for XMPP.

A row is keyed by the SHA-256 of the token (the token itself is never
stored), names the account and the webmail session it was issued to (the
session's end takes its tokens with it) and carries its expiry. Redeeming
is one `DELETE ... RETURNING`: of two nodes that try the same token at
once, one gets the row and the other nothing, so a token serves once on
any number of nodes. The policy (lifetime, which transport may redeem)
lives in `roost.control.chat_tokens`, whose clock says what "now" is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from roost.core.clock import Clock
from roost.store.db import Tx
from roost.store.schema import accounts, chat_tokens


@dataclass(frozen=True, slots=True)
class RedeemedToken:
    account_id: int
    address: str
    enabled: bool
    """The account's state now (a disabled account's token signs no one in)."""
    session_hash: str
    """The webmail session the token was issued to."""


class ChatTokenStore:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def add_token(
        self, tx: Tx, token_hash: str, account_id: int, session_hash: str, expires_at: datetime
    ) -> None:
        """Keep a new token's hash until *expires_at*."""
        await tx.execute(
            chat_tokens.insert().values(
                token_hash=token_hash,
                account_id=account_id,
                session_hash=session_hash,
                created_at=self._clock.now(),
                expires_at=expires_at,
            )
        )

    async def redeem_token(self, tx: Tx, token_hash: str, now: datetime) -> RedeemedToken | None:
        """Consume a live token: its account, or None when it is unknown, used or expired.

        The row goes whether or not the caller then accepts it (the wrong
        account named, say): a token is tried once."""
        row = (
            await tx.execute(
                chat_tokens.delete()
                .where(
                    chat_tokens.c.token_hash == token_hash,
                    chat_tokens.c.expires_at > now,
                )
                .returning(chat_tokens.c.account_id, chat_tokens.c.session_hash)
            )
        ).one_or_none()
        if row is None:
            return None
        account = (
            await tx.execute(
                sa.select(accounts.c.id, accounts.c.address, accounts.c.enabled).where(
                    accounts.c.id == row.account_id
                )
            )
        ).one_or_none()
        if account is None:
            return None
        return RedeemedToken(
            int(account.id), str(account.address), bool(account.enabled), str(row.session_hash)
        )

    async def remove_expired_tokens(self, tx: Tx, now: datetime) -> int:
        done = await tx.execute(chat_tokens.delete().where(chat_tokens.c.expires_at <= now))
        return int(done.rowcount)

    async def token_count(self, tx: Tx, session_hash: str) -> int:
        """Tokens of a webmail session not yet used or removed (expired ones included)."""
        found = await tx.execute(
            sa.select(sa.func.count()).where(chat_tokens.c.session_hash == session_hash)
        )
        return int(found.scalar_one())
