"""DKIM keys of the directory's domains, as the admin console changes them, audited.

The keys themselves are files under `data/dkim` (see
`roost.control.mailauth.keys`), where the signer reads them; this wraps
making and activating them for a face: the domain must be one of ours, the
key work runs in a thread (an RSA key takes a noticeable moment), and each
change is written to the audit log.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from roost.control.directory import Actor
from roost.control.mailauth import keys
from roost.store.db import Tx
from roost.store.store import Store
from roost.store.types import NewEvent


class DomainDkim:
    def __init__(self, store: Store, data_dir: Path) -> None:
        self._store = store
        self._data_dir = data_dir

    async def keys_of(self, domain: str) -> keys.DomainKeys | None:
        """The domain's selectors and their records; None when it has no key yet."""
        name = await self._domain(domain)
        folder = keys.domain_folder(self._data_dir, name)
        if not keys.selectors_in(folder):
            return None
        return await asyncio.to_thread(keys.show, self._data_dir, name)

    async def generate(self, actor: Actor, domain: str) -> tuple[keys.TxtRecord, ...]:
        """A new selector with an RSA and an Ed25519 key; the first one is active at once."""
        name = await self._domain(domain)
        records = await asyncio.to_thread(keys.generate, self._data_dir, name)
        selector = records[0].selector
        await self._audit(actor, name, "dkim-generate", f"selector {selector}")
        return records

    async def activate(self, actor: Actor, domain: str, selector: str) -> None:
        name = await self._domain(domain)
        await asyncio.to_thread(keys.activate, self._data_dir, name, selector)
        await self._audit(actor, name, "dkim-activate", f"selector {selector.strip().lower()}")

    async def _domain(self, domain: str) -> str:
        found = await self._store.read(self._store.directory.domain, domain)
        return found.name

    async def _audit(self, actor: Actor, domain: str, action: str, reason: str) -> None:
        async def work(tx: Tx) -> None:
            await self._store.events.add(
                tx,
                NewEvent(
                    object=f"domain:{domain}",
                    action=action,
                    actor=actor.name,
                    source_address=actor.source_address,
                    reason=reason,
                ),
            )

        await self._store.write(work)
