"""Who may do what over SMTP: listener kinds, relaying, recipients.

The checks happen at the step RFC 5321 expects: unknown local recipients at
RCPT (550 5.1.1), relaying only for authenticated users and trusted networks
(never an open relay), a full mailbox at RCPT (452 4.2.2).
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from roost.proto.smtp.replies import Reply
from roost.store.db import Tx
from roost.store.store import Store


class ListenerKind(enum.Enum):
    MX = "mx"
    """Mail from other servers: no AUTH, STARTTLS offered but never required."""
    SUBMISSION = "submission"
    """Users' mail on 587: STARTTLS, then AUTH required."""
    SUBMISSIONS = "submissions"
    """Users' mail on 465: implicit TLS, AUTH required."""


@dataclass(frozen=True, slots=True)
class RecipientCheck:
    reply: Reply | None
    """None: accept."""
    local: bool


def ascii_text(text: str) -> str:
    """Reply text is printable ASCII (RFC 5321 §4.2): anything else becomes '?'."""
    return "".join(c if " " <= c <= "~" else "?" for c in text)[:300]


class RelayPolicy:
    def __init__(self, store: Store, trusted: Sequence[str], delimiter: str) -> None:
        self._store = store
        self._trusted = [ipaddress.ip_network(n, strict=False) for n in trusted]
        self._delimiter = delimiter

    def trusted(self, client: str) -> bool:
        try:
            address = ipaddress.ip_address(client.split("%", 1)[0])
        except ValueError:
            return False
        return any(address in network for network in self._trusted)

    async def check_recipient(self, address: str, *, may_relay: bool) -> RecipientCheck:
        """All the look-ups for one RCPT in one read of the store."""
        return await self._store.read(self._check, address, may_relay)

    async def _check(self, tx: Tx, address: str, may_relay: bool) -> RecipientCheck:
        directory = self._store.directory
        domain = address.rpartition("@")[2]
        local = await directory.local_domain(tx, domain) if domain else None
        if local is None:
            if may_relay:
                return RecipientCheck(None, local=False)
            return RecipientCheck(Reply(554, "5.7.1", "Relay access denied"), local=False)
        resolution = await directory.resolve(tx, address, self._delimiter)
        if resolution is None:
            return RecipientCheck(
                Reply(550, "5.1.1", ascii_text(f"<{address}>: no such user here")), local=True
            )
        if resolution.loop:
            return RecipientCheck(
                Reply(554, "5.4.6", ascii_text(f"<{address}>: the aliases form a loop")), local=True
            )
        for target in resolution.accounts:
            account = await directory.find_account(tx, target)
            if account is None:
                continue
            full = (account.quota_bytes and account.used_bytes >= account.quota_bytes) or (
                account.quota_messages and account.used_messages >= account.quota_messages
            )
            if full:
                return RecipientCheck(
                    Reply(452, "4.2.2", ascii_text(f"<{address}>: mailbox full")), local=True
                )
        return RecipientCheck(None, local=True)
