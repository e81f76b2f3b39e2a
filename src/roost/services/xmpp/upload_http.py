"""HTTP file upload (XEP-0363 §6, §7): the PUT and GET of a slot on the web listener.

Routes (registered through `roost.net.web_routes.WebRoutes` with the XMPP
service's, so they answer 503 while XMPP is stopped):

- ``PUT /upload/{slot}/{filename}`` with ``Authorization: Bearer
  <secret>`` from the slot: the body is streamed to a file, never held
  whole. A slot takes one PUT: a second, or one while the first runs,
  gets 409. A ``Content-Length`` other than the slot's size, or a body
  longer (413) or shorter (400) than it, stores nothing and leaves the
  slot open for a retry in its time. 201 when stored.
- ``GET`` (and ``HEAD``) of the same URL: the file, with
  ``X-Content-Type-Options: nosniff``, ``Content-Security-Policy:
  sandbox; default-src 'none'`` and ``Content-Disposition: attachment;
  filename*=UTF-8''…`` (RFC 6266 §4.3, RFC 8187). Only a raster image
  whose first bytes say so (PNG, JPEG, GIF, WebP) is ``inline``, with the
  type its bytes name, whatever the client claimed. Types a browser runs
  (HTML, XML and SVG, scripts) go out as ``application/octet-stream``.
- ``OPTIONS``: CORS, so that web clients of other origins upload (§7).
"""

from __future__ import annotations

import hmac
import logging
from datetime import timedelta
from urllib.parse import quote

from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from roost.control.mail_view import sniff
from roost.core.errors import RoostError
from roost.services.xmpp.upload import ROUTE_PREFIX, Uploads, secret_hash
from roost.store.store import Store
from roost.store.xmpp_upload import BodyTooLarge, BodyTooShort, UploadState

log = logging.getLogger(__name__)

SNIFF_OCTETS = 12
"""Octets read to sniff a type: the longest magic number `sniff` tests (WebP's RIFF header)."""
CSP = "sandbox; default-src 'none'"
_RFC8187_SAFE = "!#$&+-.^_`|~"
"""attr-char of RFC 8187 §3.2.1 besides letters and digits."""
_ACTIVE_MARKERS = ("html", "xml", "javascript", "ecmascript")
_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, HEAD, PUT, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type",
}


RASTER_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
"""What a browser shows inline and runs nothing in."""


def raster_type(head: bytes) -> str | None:
    """The image type the first bytes of a file name, for the four raster
    formats browsers show inline (by the webmail's own sniffing); None for
    anything else."""
    found = sniff(head)
    return found if found in RASTER_TYPES else None


def served_type(claimed: str) -> str:
    """A downloaded file's type: the claim, unless a browser would run it."""
    if any(marker in claimed for marker in _ACTIVE_MARKERS):
        return "application/octet-stream"
    return claimed


def content_disposition(kind: str, filename: str) -> str:
    """``attachment`` or ``inline`` with the name as RFC 8187 ``filename*``."""
    return f"{kind}; filename*=UTF-8''{quote(filename, safe=_RFC8187_SAFE)}"


class UploadRoutes:
    """The Starlette endpoints of the upload component."""

    def __init__(self, store: Store, uploads: Uploads, counters: dict[str, int]) -> None:
        self._store = store
        self._uploads = uploads
        self._counters = counters

    def routes(self) -> list[Route]:
        path = f"{ROUTE_PREFIX}/{{slot}}/{{filename}}"
        return [
            Route(path, self._get, methods=["GET"]),
            Route(path, self._put, methods=["PUT"]),
            Route(path, self._options, methods=["OPTIONS"]),
        ]

    def _count(self, name: str) -> None:
        self._counters[name] = self._counters.get(name, 0) + 1

    async def _put(self, request: Request) -> Response:
        slot_id = request.path_params["slot"]
        slot = await self._store.read(self._store.uploads.upload_slot, slot_id)
        if slot is None or slot.filename != request.path_params["filename"]:
            return _plain(404, "no such upload slot")
        scheme, _, secret = (request.headers.get("authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not secret:
            return _plain(401, "the slot's Authorization header is missing", www="Bearer")
        if not hmac.compare_digest(secret_hash(secret.strip()), slot.secret_hash):
            return _plain(403, "wrong secret for this slot")
        if slot.state is not UploadState.OPEN:
            self._count("upload_reused")
            return _plain(409, "this slot has been used")
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                return _plain(400, "bad Content-Length")
            if int(declared) != slot.size:
                self._count("upload_refused")
                status = 413 if int(declared) > slot.size else 400
                return _plain(status, f"the slot is for {slot.size} bytes")
        if not await self._store.write(self._store.uploads.claim_slot, slot_id):
            fresh = await self._store.read(self._store.uploads.upload_slot, slot_id)
            if fresh is not None and fresh.state is UploadState.OPEN:
                return _plain(410, "the slot's time has run out")
            self._count("upload_reused")
            return _plain(409, "this slot has been used")
        try:
            await self._uploads.files.receive(slot_id, request.stream(), slot.size)
        except (BodyTooLarge, BodyTooShort, ClientDisconnect, OSError) as exc:
            await self._store.write(self._store.uploads.release_slot, slot_id)
            self._count("upload_refused")
            if isinstance(exc, OSError):
                log.error("cannot store upload %s: %s", slot_id, exc)
                return _plain(500, "the file could not be stored")
            if isinstance(exc, BodyTooLarge):
                return _plain(413, f"the slot is for {slot.size} bytes")
            return _plain(400, f"the slot is for {slot.size} bytes")
        except BaseException:
            await self._store.write(self._store.uploads.release_slot, slot_id)
            raise
        days = self._uploads.expiry_days
        expires = self._store.clock.now() + timedelta(days=days) if days else None
        try:
            await self._store.write(self._store.uploads.mark_stored, slot_id, expires)
        except RoostError:
            await self._uploads.files.remove(slot_id)
            raise
        self._count("uploads_stored")
        return Response(status_code=201, headers=_CORS)

    async def _get(self, request: Request) -> Response:
        slot_id = request.path_params["slot"]
        slot = await self._store.read(self._store.uploads.upload_slot, slot_id)
        now = self._store.clock.now()
        if (
            slot is None
            or slot.state is not UploadState.STORED
            or slot.filename != request.path_params["filename"]
        ):
            return _plain(404, "no such file")
        if slot.expires_at is not None and slot.expires_at <= now:
            return _plain(404, "no such file")
        path = self._uploads.files.path(slot_id)
        try:
            head = await self._uploads.files.head(slot_id, SNIFF_OCTETS)
        except FileNotFoundError:
            return _plain(404, "no such file")
        image = raster_type(head)
        kind = "inline" if image is not None else "attachment"
        headers = {
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": CSP,
            "Content-Disposition": content_disposition(kind, slot.filename),
            "Cache-Control": "private, max-age=86400",
            "Access-Control-Allow-Origin": "*",
        }
        media_type = image or served_type(slot.content_type)
        return FileResponse(path, media_type=media_type, headers=headers)

    async def _options(self, request: Request) -> Response:
        return Response(status_code=204, headers=_CORS)


def _plain(status: int, text: str, *, www: str | None = None) -> Response:
    headers = {"X-Content-Type-Options": "nosniff", **_CORS}
    if www is not None:
        headers["WWW-Authenticate"] = www
    return Response(text + "\n", status_code=status, media_type="text/plain", headers=headers)
