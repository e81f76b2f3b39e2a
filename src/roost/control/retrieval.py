"""External accounts as users and admins manage them, for the API, the CLI
and the retrieval services.

The password of an external account is the one secret Roost must be able
to read back (it logs in with it), so it cannot be hashed: it is sealed
with AES-256-GCM under a key kept in the data folder
(`secrets/retrieval.key`, made on first use) and never shown again. The
remote user and server are bound into the seal as associated data, so a
sealed password copied onto another external account does not open.
"""

from __future__ import annotations

import base64
import ipaddress
import secrets
from dataclasses import replace
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from roost.control.directory import Actor
from roost.control.secrets import load_or_create
from roost.control.views import when
from roost.core.config import RetrievalSettings
from roost.core.errors import RoostError
from roost.store.db import Tx
from roost.store.retrieval import (
    FolderLayout,
    NewRetrieval,
    Retrieval,
    RetrievalProtocol,
    TlsMode,
)
from roost.store.settings import JsonValue
from roost.store.store import Store
from roost.store.types import NewEvent

KEY_NAME = "retrieval"
NONCE_OCTETS = 12
SEAL_PREFIX = "v1:"
MAX_DELETE_AFTER_DAYS = 3650
DEFAULT_PORTS = {
    (RetrievalProtocol.IMAP, TlsMode.IMPLICIT): 993,
    (RetrievalProtocol.IMAP, TlsMode.STARTTLS): 143,
    (RetrievalProtocol.IMAP, TlsMode.NONE): 143,
    (RetrievalProtocol.POP3, TlsMode.IMPLICIT): 995,
    (RetrievalProtocol.POP3, TlsMode.STARTTLS): 110,
    (RetrievalProtocol.POP3, TlsMode.NONE): 110,
}


class RetrievalRefused(RoostError):
    """An external account that may not be added as given (the reason in words)."""


class PasswordCipher:
    """Seals and opens external accounts' passwords with the data folder's key."""

    def __init__(self, data_dir: Path) -> None:
        self._data_dir = data_dir
        self._aead: AESGCM | None = None

    def _cipher(self) -> AESGCM:
        if self._aead is None:
            self._aead = AESGCM(load_or_create(self._data_dir, KEY_NAME)[:32])
        return self._aead

    def seal(self, password: str, owner: str) -> str:
        nonce = secrets.token_bytes(NONCE_OCTETS)
        sealed = self._cipher().encrypt(nonce, password.encode(), owner.encode())
        return SEAL_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, sealed: str, owner: str) -> str:
        if not sealed.startswith(SEAL_PREFIX):
            raise RetrievalRefused("the stored password is not in a known form")
        raw = base64.urlsafe_b64decode(sealed[len(SEAL_PREFIX) :])
        try:
            plain = self._cipher().decrypt(raw[:NONCE_OCTETS], raw[NONCE_OCTETS:], owner.encode())
        except InvalidTag:
            raise RetrievalRefused(
                "the stored password cannot be opened (was the key in the data folder replaced?)"
            ) from None
        return plain.decode()


def seal_context(spec: NewRetrieval) -> str:
    """What a sealed password is bound to: the remote user and server."""
    return spec.username + "@" + spec.host


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class RetrievalAdmin:
    """Add, list, show and remove a user's external accounts, with audit events."""

    def __init__(self, store: Store, settings: RetrievalSettings, cipher: PasswordCipher) -> None:
        self._store = store
        self._settings = settings
        self._cipher = cipher

    async def add(self, actor: Actor, address: str, spec: NewRetrieval, password: str) -> Retrieval:
        """Add an external account for `address`; `spec.password_encrypted` is ignored."""
        self.check(spec)
        store = self._store
        owner = seal_context(spec)

        async def work(tx: Tx) -> Retrieval:
            account = await store.directory.account(tx, address)
            sealed = self._cipher.seal(password, owner)
            added = await store.retrieval.add(
                tx, account.id, replace(spec, password_encrypted=sealed)
            )
            await _audit(tx, store, actor, f"retrieval:{added.id}", "add", address)
            return added

        return await store.write(work)

    def check(self, spec: NewRetrieval) -> None:
        if not spec.host or not spec.username:
            raise RetrievalRefused("an external account needs a server and a user name")
        if not 0 < spec.port < 65536:
            raise RetrievalRefused(f"port {spec.port} is not a TCP port")
        if spec.tls is TlsMode.NONE and not (
            is_loopback(spec.host) or self._settings.allow_plaintext
        ):
            raise RetrievalRefused(
                "an account without TLS is allowed only to loopback "
                "(or with [retrieval] allow_plaintext)"
            )
        if spec.protocol is RetrievalProtocol.IMAP and not spec.remote_folders:
            raise RetrievalRefused("name at least one remote folder")
        imap_only = {
            "a folder map": bool(spec.folder_map),
            "the mirror folder layout": spec.folder_layout is FolderLayout.MIRROR,
            "marking messages seen": spec.mark_seen,
        }
        pop_only = {"delete after N days": spec.delete_after_days is not None, "APOP": spec.apop}
        for what, wanted in imap_only.items():
            if wanted and spec.protocol is not RetrievalProtocol.IMAP:
                raise RetrievalRefused(f"{what} applies to IMAP accounts only")
        for what, wanted in pop_only.items():
            if wanted and spec.protocol is not RetrievalProtocol.POP3:
                raise RetrievalRefused(f"{what} applies to POP3 accounts only")
        if spec.mark_seen and not spec.leave_on_server:
            raise RetrievalRefused("marking messages seen needs leave_on_server")
        if spec.delete_after_days is not None:
            if not spec.leave_on_server:
                raise RetrievalRefused("delete after N days needs leave_on_server")
            if not 0 < spec.delete_after_days <= MAX_DELETE_AFTER_DAYS:
                raise RetrievalRefused(
                    f"delete_after_days must be between 1 and {MAX_DELETE_AFTER_DAYS}"
                )
        for remote, local in spec.folder_map:
            if not remote or not local or any(c in remote + local for c in "\t\r\n"):
                raise RetrievalRefused(
                    f"folder map entry {remote!r} -> {local!r}: both names are needed, "
                    "without tabs or line breaks"
                )

    async def edit(
        self,
        actor: Actor,
        address: str,
        retrieval_id: int,
        spec: NewRetrieval,
        password: str | None = None,
    ) -> Retrieval:
        """Replace an external account's settings (`spec.password_encrypted` is
        ignored); the password changes only when given.

        Another server or remote user is another mailbox, whose UIDLs and
        UIDs may well repeat the old one's: the fetched keys are forgotten
        then, and everything there is new. Another port, TLS mode, folder or
        option keeps them. The protocol cannot change (remove the account and
        add it again)."""
        current = await self._owned(address, retrieval_id)
        if spec.protocol is not current.spec.protocol:
            raise RetrievalRefused(
                "the protocol of an external account cannot change: remove it and add it again"
            )
        self.check(spec)
        context = seal_context(spec)
        if password is not None:
            sealed = self._cipher.seal(password, context)
        elif context != seal_context(current.spec):
            # The seal is bound to the remote user and server: seal it anew.
            old = self._cipher.open(current.spec.password_encrypted, seal_context(current.spec))
            sealed = self._cipher.seal(old, context)
        else:
            sealed = current.spec.password_encrypted
        store = self._store

        async def work(tx: Tx) -> Retrieval:
            await store.retrieval.update(tx, retrieval_id, replace(spec, password_encrypted=sealed))
            if (spec.host.lower(), spec.username) != (
                current.spec.host.lower(),
                current.spec.username,
            ):
                await store.retrieval.forget_keys(tx, retrieval_id)
            await _audit(tx, store, actor, f"retrieval:{retrieval_id}", "edit", address)
            return await store.retrieval.get(tx, retrieval_id)

        return await store.write(work)

    async def list(self, address: str | None = None) -> list[Retrieval]:
        store = self._store

        async def work(tx: Tx) -> list[Retrieval]:
            if address is None:
                return await store.retrieval.accounts(tx)
            account = await store.directory.account(tx, address)
            return await store.retrieval.accounts(tx, account_id=account.id)

        return await store.read(work)

    async def show(self, address: str, retrieval_id: int) -> Retrieval:
        return await self._owned(address, retrieval_id)

    async def remove(self, actor: Actor, address: str, retrieval_id: int) -> None:
        await self._owned(address, retrieval_id)
        store = self._store

        async def work(tx: Tx) -> None:
            await store.retrieval.remove(tx, retrieval_id)
            await _audit(tx, store, actor, f"retrieval:{retrieval_id}", "remove", address)

        await store.write(work)

    async def request_run(self, actor: Actor, address: str, retrieval_id: int) -> None:
        """Ask the retrieval service to fetch this account at its next tick."""
        await self._owned(address, retrieval_id)
        store = self._store

        async def work(tx: Tx) -> None:
            await store.retrieval.request_run(tx, retrieval_id)
            await _audit(tx, store, actor, f"retrieval:{retrieval_id}", "run", address)

        await store.write(work)

    async def _owned(self, address: str, retrieval_id: int) -> Retrieval:
        store = self._store

        async def work(tx: Tx) -> Retrieval:
            account = await store.directory.account(tx, address)
            found = await store.retrieval.get(tx, retrieval_id)
            if found.account_id != account.id:
                raise RetrievalRefused(f"{address} has no external account {retrieval_id}")
            return found

        return await store.read(work)


async def _audit(tx: Tx, store: Store, actor: Actor, obj: str, action: str, owner: str) -> None:
    await store.events.add(
        tx,
        NewEvent(
            object=obj,
            action=action,
            actor=actor.name,
            source_address=actor.source_address,
            reason=f"external account of {owner}",
        ),
    )


def view(r: Retrieval) -> dict[str, JsonValue]:
    """An external account as the API shows it: never its password."""
    spec, status = r.spec, r.status
    return {
        "id": r.id,
        "protocol": spec.protocol.value,
        "host": spec.host,
        "port": spec.port,
        "tls": spec.tls.value,
        "username": spec.username,
        "folder": spec.folder,
        "enabled": spec.enabled,
        "leave_on_server": spec.leave_on_server,
        "remote_folders": list(spec.remote_folders),
        "interval_s": spec.interval_s,
        "folder_layout": spec.folder_layout.value,
        "folder_map": {remote: local for remote, local in spec.folder_map},
        "mark_seen": spec.mark_seen,
        "delete_after_days": spec.delete_after_days,
        "manual": spec.manual,
        "apop": spec.apop,
        "created_at": when(r.created_at),
        "last_attempt_at": when(status.last_attempt_at),
        "last_success_at": when(status.last_success_at),
        "last_error": status.last_error,
        "last_fetched": status.last_fetched,
        "total_fetched": status.total_fetched,
        "failures": status.failures,
        "run_requested": status.run_requested_at is not None,
    }


def default_port(protocol: RetrievalProtocol, tls: TlsMode) -> int:
    return DEFAULT_PORTS[(protocol, tls)]
