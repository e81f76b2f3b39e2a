"""Helpers the retrieval tests share: remote mail put into the Dovecot peer's
Maildir under names that stay unique across fetches, and test messages."""

from __future__ import annotations

import asyncio
import itertools
import os
import pwd
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from roost.control.directory import Actor, DirectoryAdmin
from roost.control.intake import Intake
from roost.control.passwords import Passwords
from roost.control.retrieval import PasswordCipher, RetrievalAdmin
from roost.core.clock import ManualClock
from roost.core.config import Config
from roost.net.dns import Resolver
from roost.services.retrieval.scheduler import RetrievalService, retrieval_services
from roost.services.spool.service import SpoolService
from roost.store.retrieval import NewRetrieval, Retrieval, RetrievalProtocol
from roost.store.store import Store
from tests.conftest import make_config
from tests.dovecot_peer import MAIL_USER, DovecotPeer

ACTOR = Actor("test")
REMOTE_PASSWORD = "remote-secret"

_serial = itertools.count()


def put_remote(peer: DovecotPeer, user: str, messages: Sequence[bytes]) -> None:
    """Add messages to a remote mailbox, in order.

    `DovecotPeer.deliver` numbers names by what is in ``new/``, which Dovecot
    empties into ``cur/`` once a client has looked; a second delivery in the
    same second would then reuse a name. These names never repeat."""
    nobody = pwd.getpwnam(MAIL_USER)
    new = peer.mail / user / "Maildir" / "new"
    stamp = int(time.time())
    for data in messages:
        path = new / f"{stamp}.M{next(_serial):08d}P2.roost-retrieval-test"
        path.write_bytes(data)
        os.chown(path, nobody.pw_uid, nobody.pw_gid)


def message(n: int, size: int = 0) -> bytes:
    filler = b"x" * size + b"\r\n" if size else b""
    return (
        f"From: bob@example.net\r\nTo: remote@example.net\r\nMessage-ID: <m{n}@example.net>\r\n"
        f"Subject: message {n}\r\n\r\nbody {n}\r\n"
    ).encode() + filler


@dataclass
class RetrievalEnv:
    store: Store
    config: Config
    spool: SpoolService
    admin: RetrievalAdmin
    service: RetrievalService


async def make_env(
    store: Store,
    clock: ManualClock,
    tmp_path: Path,
    protocol: RetrievalProtocol,
    **retrieval: object,
) -> RetrievalEnv:
    """Two local users, a Spool to deliver with, and the retrieval service of `protocol`
    (`retrieval`: settings over the tests' own)."""
    config = make_config(
        tmp_path,
        retrieval={
            "jitter_s": 0,
            "interval_s": 5,
            "max_message_bytes": 40_000,
            "imap_part_bytes": 4096,
            **retrieval,
        },
    )
    directory = DirectoryAdmin(store, Passwords(config.directory), config.directory)
    await directory.add_domain(ACTOR, "example.org")
    for user in ("alice", "carol"):
        await directory.add_user(ACTOR, f"{user}@example.org", f"{user}-password")
    intake = Intake(store, config.spool, clock)
    resolver = Resolver(("127.0.0.1:9",), 0.2)
    spool = SpoolService(store, intake, config.spool, "+", resolver, clock, "node")
    cipher = PasswordCipher(config.data_dir)
    service = next(
        s
        for s in retrieval_services(config, store, intake, clock)
        if s.name == f"{protocol.value.rstrip('3')}-retrieval"
    )
    admin = RetrievalAdmin(store, config.retrieval, cipher)
    return RetrievalEnv(store, config, spool, admin, service)


async def add_account(
    env: RetrievalEnv,
    owner: str,
    spec: NewRetrieval,
    password: str,
) -> Retrieval:
    return await env.admin.add(ACTOR, owner, spec, password)


async def deliver_queue(env: RetrievalEnv) -> None:
    """What the Spool would do next: deliver everything queued."""
    for entry in await env.store.write(env.store.queue.claim_due, "test", 60, 10_000):
        await env.spool.attempt(entry)


async def inbox(env: RetrievalEnv, address: str, folder: str = "INBOX") -> list[bytes]:
    account = await env.store.read(env.store.directory.account, address)
    box = await env.store.read(env.store.mail.mailbox, account.id, folder)
    messages = await env.store.read(env.store.mail.messages, box.id)
    return [await env.store.message_bytes(m) for m in messages]


async def tried_all(env: RetrievalEnv, timeout_s: float = 20.0) -> None:
    """Wait (bounded) until the scheduler has tried every account once."""
    for _ in range(int(timeout_s / 0.05)):
        accounts = await env.store.read(env.store.retrieval.accounts)
        if all(a.status.last_attempt_at is not None for a in accounts):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not every account was tried within {timeout_s:g} s")
