"""HTTP file upload (XEP-0363): the component at ``upload.<domain>``.

Every hosted domain lists ``upload.<domain>`` in its disco#items; its
disco#info names the ``store/file`` identity, the feature
``urn:xmpp:http:upload:0`` and the largest file it takes (§3, the
``max-file-size`` field of a XEP-0128 form). A slot request (§4)
``<request filename size content-type/>`` is answered with a PUT URL
(and the ``Authorization`` header that PUT must carry) and a GET URL, or
refused (§5):

- a file over ``[xmpp] upload_max_file_bytes``: ``not-acceptable`` with
  ``<file-too-large><max-file-size/>``;
- past the user's ``[xmpp] upload_quota_bytes``: ``resource-constraint``;
- a filename that is empty, too long, names a folder or holds a control
  character, or a size that is not a number: ``bad-request``.

The HTTP side (`roost.services.xmpp.upload_http`) serves the URLs on the
web listener. The URLs start with ``[xmpp] upload_url``, or else with the
web listener's first HTTPS address (its plaintext one when it has none),
the user's domain standing in for a listener on all addresses. Files
live ``[xmpp] upload_expiry_days``; a pruner removes them, and slots
never used, every ``[xmpp] upload_prune_interval_s``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import secrets
import unicodedata
from datetime import timedelta
from urllib.parse import quote

from roost.core.config import XmppServiceSettings
from roost.core.errors import RoostError
from roost.core.settings import parse_listen
from roost.net.web_routes import WebRoutes
from roost.proto.xmpp import (
    Element,
    Iq,
    Message,
    Presence,
    StanzaErrorCondition,
    error_reply,
    iq_result,
)
from roost.services.xmpp.sessions import Outlet
from roost.store.store import Store
from roost.store.xmpp_upload import UploadFiles, UploadSlot, UploadState, UploadUsage

log = logging.getLogger(__name__)

UPLOAD = "urn:xmpp:http:upload:0"
LABEL = "upload"
"""The component's address under each hosted domain: ``upload.<domain>``."""
DISCO_INFO = "http://jabber.org/protocol/disco#info"
DISCO_ITEMS = "http://jabber.org/protocol/disco#items"
DATA_FORMS = "jabber:x:data"
ROUTE_PREFIX = "/upload"
MAX_FILENAME_CHARS = 255
"""The filename column's size, and most file systems' name limit."""
MAX_CONTENT_TYPE_CHARS = 255
DEFAULT_CONTENT_TYPE = "application/octet-stream"
PRUNE_BATCH = 500
"""Rows the pruner removes per unit of work."""
_TCHARS = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_MEDIA_TYPE = re.compile(rf"{_TCHARS}/{_TCHARS}")
_WILDCARD_HOSTS = ("0.0.0.0", "::", "")  # noqa: S104 (compared with, not bound)
_BIDI_CONTROLS = frozenset(
    "\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


class FilenameError(ValueError):
    """A filename no upload may have."""


def check_filename(name: str) -> str:
    """The filename as stored; raises `FilenameError` if it is not one.

    A file's name must be one path segment: no ``/`` or ``\\``, not ``.``
    or ``..``, no control character nor bidirectional override (which
    could disguise ``exe.png`` as ``gnp.exe``), at most `MAX_FILENAME_CHARS`."""
    if not name or not name.strip():
        raise FilenameError("empty filename")
    if len(name) > MAX_FILENAME_CHARS:
        raise FilenameError("filename too long")
    if "/" in name or "\\" in name or name in (".", ".."):
        raise FilenameError("a filename cannot name a folder")
    if any(unicodedata.category(c) in ("Cc", "Cs") or c in _BIDI_CONTROLS for c in name):
        raise FilenameError("control character in the filename")
    return name


def content_type_of(claimed: str | None) -> str:
    """The client's content type, kept if well-formed (RFC 9110 §8.3.1)."""
    if claimed is None:
        return DEFAULT_CONTENT_TYPE
    value = claimed.strip().lower()
    if len(value) > MAX_CONTENT_TYPE_CHARS or not _MEDIA_TYPE.fullmatch(value):
        return DEFAULT_CONTENT_TYPE
    return value


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Uploads:
    """The ``upload.<domain>`` component (a `roost.services.xmpp.router.Component`)."""

    def __init__(
        self,
        store: Store,
        config: XmppServiceSettings,
        files: UploadFiles,
        web: WebRoutes | None,
        counters: dict[str, int],
    ) -> None:
        self._store = store
        self._config = config
        self.files = files
        self._web = web
        self._counters = counters
        self.usage: UploadUsage | None = None
        """Stored files and bytes, as last read (the Services page's counters)."""

    @property
    def expiry_days(self) -> int:
        return self._config.upload_expiry_days

    def _count(self, name: str) -> None:
        self._counters[name] = self._counters.get(name, 0) + 1

    async def receive(self, sender: Outlet, event: Message | Presence | Iq) -> None:
        match event:
            case Iq(type="get" | "set"):
                sender.reply(await self._answer(sender, event))
            case Message() if event.stanza.get("type") != "error":
                sender.reply(error_reply(event.stanza, StanzaErrorCondition.SERVICE_UNAVAILABLE))
            case _:
                pass  # presence, IQ results and errors: nothing to answer

    async def _answer(self, sender: Outlet, iq: Iq) -> Element:
        payload = iq.payload
        assert payload is not None
        if iq.to is not None and iq.to.local is not None:
            return error_reply(iq.stanza, StanzaErrorCondition.SERVICE_UNAVAILABLE)
        match (payload.namespace, payload.name, iq.type):
            case (ns, "query", "get") if ns == DISCO_INFO:
                if payload.get("node") is not None:
                    return error_reply(iq.stanza, StanzaErrorCondition.ITEM_NOT_FOUND)
                return iq_result(iq.stanza, self.info())
            case (ns, "query", "get") if ns == DISCO_ITEMS:
                return iq_result(iq.stanza, Element("query", DISCO_ITEMS))
            case (ns, "request", "get") if ns == UPLOAD:
                return await self._slot(sender, iq, payload)
            case _:
                return error_reply(iq.stanza, StanzaErrorCondition.SERVICE_UNAVAILABLE)

    def info(self) -> Element:
        """disco#info (XEP-0363 §3) with the size limit as a XEP-0128 form."""
        identity = Element.of(
            "identity", DISCO_INFO, {"category": "store", "type": "file", "name": "HTTP upload"}
        )
        features = [Element.of("feature", DISCO_INFO, {"var": v}) for v in (DISCO_INFO, UPLOAD)]
        form = Element.of(
            "x",
            DATA_FORMS,
            {"type": "result"},
            [
                _field("FORM_TYPE", UPLOAD, "hidden"),
                _field("max-file-size", str(self._config.upload_max_file_bytes)),
            ],
        )
        return Element.of("query", DISCO_INFO, (), [identity, *features, form])

    async def _slot(self, sender: Outlet, iq: Iq, request: Element) -> Element:
        assert sender.jid is not None and iq.to is not None
        config = self._config
        try:
            filename = check_filename(request.get("filename") or "")
        except FilenameError as exc:
            self._count("upload_refused")
            return error_reply(iq.stanza, StanzaErrorCondition.BAD_REQUEST, text=str(exc))
        size_text = request.get("size") or ""
        if not size_text.isascii() or not size_text.isdigit() or len(size_text) > 20:
            self._count("upload_refused")
            return error_reply(iq.stanza, StanzaErrorCondition.BAD_REQUEST, text="bad size")
        size = int(size_text)
        if size > config.upload_max_file_bytes:
            self._count("upload_refused")
            return _too_large(iq, config.upload_max_file_bytes)
        domain = iq.to.domain.partition(".")[2]
        base = self.base_url(domain)
        if base is None:
            return error_reply(
                iq.stanza, StanzaErrorCondition.SERVICE_UNAVAILABLE, text="no web listener"
            )
        now = self._store.clock.now()
        secret = secrets.token_urlsafe(32)
        slot = UploadSlot(
            slot=secrets.token_urlsafe(18),
            owner=str(sender.jid.bare),
            filename=filename,
            size=size,
            content_type=content_type_of(request.get("content-type")),
            secret_hash=secret_hash(secret),
            state=UploadState.OPEN,
            created_at=now,
            slot_expires_at=now + timedelta(seconds=config.upload_slot_ttl_s),
        )
        added = await self._store.write(
            self._store.uploads.add_slot, slot, quota=config.upload_quota_bytes
        )
        if not added:
            self._count("upload_refused")
            return error_reply(
                iq.stanza,
                StanzaErrorCondition.RESOURCE_CONSTRAINT,
                text="upload quota reached",
            )
        self._count("upload_slots")
        url = f"{base}{ROUTE_PREFIX}/{slot.slot}/{quote(filename, safe='')}"
        header = Element.of("header", UPLOAD, {"name": "Authorization"}, [f"Bearer {secret}"])
        put = Element.of("put", UPLOAD, {"url": url}, [header])
        get = Element.of("get", UPLOAD, {"url": url})
        return iq_result(iq.stanza, Element.of("slot", UPLOAD, (), [put, get]))

    def base_url(self, domain: str) -> str | None:
        """Where the upload routes are reached, without a trailing ``/``."""
        if self._config.upload_url:
            return self._config.upload_url.rstrip("/")
        if self._web is None:
            return None
        for scheme, addresses, default in (
            ("https", self._web.https_addresses, 443),
            ("http", self._web.http_addresses, 80),
        ):
            if not addresses:
                continue
            host, port = parse_listen(addresses[0])
            if host in _WILDCARD_HOSTS:
                host = domain
            elif ":" in host:
                host = f"[{host}]"
            return f"{scheme}://{host}" + ("" if port == default else f":{port}")
        return None

    async def prune(self) -> int:
        """Remove expired files and unused slots (files first, then rows)."""
        removed = 0
        while True:
            due = await self._store.read(self._store.uploads.expired_uploads, PRUNE_BATCH)
            if not due:
                return removed
            for slot in due:
                await self.files.remove(slot.slot)
            removed += await self._store.write(
                self._store.uploads.delete_uploads, [s.slot for s in due]
            )
            if len(due) < PRUNE_BATCH:
                return removed

    async def refresh_usage(self) -> UploadUsage:
        self.usage = await self._store.read(self._store.uploads.upload_usage)
        return self.usage

    async def prune_forever(self) -> None:
        """The pruner: every ``[xmpp] upload_prune_interval_s`` while XMPP runs."""
        while True:
            try:
                removed = await self.prune()
                await self.refresh_usage()
            except (RoostError, OSError) as exc:
                log.error("cannot prune XMPP uploads: %s", exc)
            else:
                if removed:
                    log.info("removed %d expired XMPP uploads and unused slots", removed)
            await asyncio.sleep(self._config.upload_prune_interval_s)


def _field(var: str, value: str, kind: str | None = None) -> Element:
    value_element = Element.of("value", DATA_FORMS, (), [value])
    return Element.of("field", DATA_FORMS, {"var": var, "type": kind}, [value_element])


def _too_large(iq: Iq, limit: int) -> Element:
    """§5: ``not-acceptable`` with the limit inside ``<file-too-large/>``."""
    reply = error_reply(iq.stanza, StanzaErrorCondition.NOT_ACCEPTABLE, text="file too large")
    (error,) = reply.elements()
    limit_element = Element.of("max-file-size", UPLOAD, (), [str(limit)])
    extra = Element.of("file-too-large", UPLOAD, (), [limit_element])
    return reply.with_children([error.with_children([*error.children, extra])])
