"""XEP-0363 uploads expire: with the clock injected, the upload component
and its HTTP routes (over ASGI, no sockets) keep a file for
``upload_expiry_days`` and its slot for ``upload_slot_ttl_s``; the pruner
then removes the file and the row."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import httpx
from starlette.applications import Starlette

from roost.core.clock import ManualClock
from roost.proto.xmpp import Element, Iq, Jid
from roost.services.xmpp.sessions import Outlet
from roost.services.xmpp.upload import UPLOAD, Uploads
from roost.services.xmpp.upload_http import UploadRoutes
from roost.store.store import Store, open_store
from roost.store.xmpp_upload import UploadFiles, UploadUsage
from tests.conftest import make_config

BASE = "http://uploads.test"
DAY_S = 86_400.0


@dataclass
class Sender:
    """The bound session that asks for slots: what the component uses of one."""

    jid: Jid
    replies: list[Element] = field(default_factory=list)

    def reply(self, stanza: Element) -> None:
        self.replies.append(stanza)


@dataclass
class Rig:
    store: Store
    uploads: Uploads
    http: httpx.AsyncClient
    files: Path


@asynccontextmanager
async def rig(tmp_path: Path, clock: ManualClock) -> AsyncIterator[Rig]:
    xmpp = {"upload_url": BASE, "upload_expiry_days": 2, "upload_slot_ttl_s": 60}
    config = make_config(tmp_path, xmpp=xmpp)
    store = await open_store(config, clock)
    counters: dict[str, int] = {}
    folder = tmp_path / "uploads"
    uploads = Uploads(store, config.xmpp, UploadFiles(folder), None, counters)
    app = Starlette(routes=UploadRoutes(store, uploads, counters).routes())
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
            yield Rig(store, uploads, http, folder)
    finally:
        await store.close()


async def ask_slot(uploads: Uploads, name: str, size: int) -> tuple[str, dict[str, str]]:
    sender = Sender(Jid.parse("alice@example.org/desk"))
    request = Element.of("request", UPLOAD, {"filename": name, "size": str(size)})
    attributes = {"type": "get", "id": "s1", "to": "upload.example.org", "from": str(sender.jid)}
    stanza = Element.of("iq", "jabber:client", attributes, [request])
    iq = Iq(stanza, Jid.parse("upload.example.org"), "s1", "get", request)
    await uploads.receive(cast(Outlet, sender), iq)
    (answer,) = sender.replies
    assert answer.get("type") == "result", answer
    given = answer.find("slot", UPLOAD)
    assert given is not None
    put = given.find("put", UPLOAD)
    assert put is not None
    header = put.find("header", UPLOAD)
    assert header is not None and header.get("name") == "Authorization"
    return put.get("url") or "", {"Authorization": header.text}


async def test_expired_files_and_unused_slots_are_pruned(tmp_path: Path) -> None:
    clock = ManualClock()
    async with rig(tmp_path, clock) as r:
        url, headers = await ask_slot(r.uploads, "old.txt", 5)
        assert url.startswith(f"{BASE}/upload/")
        assert (await r.http.put(url, content=b"hello", headers=headers)).status_code == 201
        unused, _ = await ask_slot(r.uploads, "never.txt", 5)
        assert len([p for p in r.files.rglob("*") if p.is_file()]) == 1
        assert await r.uploads.refresh_usage() == UploadUsage(1, 5)

        assert await r.uploads.prune() == 0
        clock.advance(61)  # the unused slot's time is over; the file stays
        assert await r.uploads.prune() == 1
        assert (await r.http.put(unused, content=b"late!", headers=headers)).status_code == 404
        assert (await r.http.get(url)).content == b"hello"

        clock.advance(2 * DAY_S)  # the file's days are over
        assert (await r.http.get(url)).status_code == 404, "expired, even before the pruner"
        assert await r.uploads.prune() == 1
        assert [p for p in r.files.rglob("*") if p.is_file()] == []
        assert await r.uploads.refresh_usage() == UploadUsage(0, 0)
        assert await r.store.read(r.store.uploads.expired_uploads, 10) == []
