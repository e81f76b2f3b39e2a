"""Reading a message: the read page, its sandboxed body frame, parts and source.

The read page (ours, under the webmail's policy) shows the headers, the
attachments and an `<iframe sandbox>` without `allow-scripts` whose document
is the sanitised body under its own Content-Security-Policy
(`roost.control.mail_view.frame_csp`): no script, no form, images only from
our origin until the user chooses "Show images".

A sandboxed frame has an opaque origin, so the browser sends no
SameSite=Strict cookie with what it loads: its `cid:` images are capability
URLs (`/mail/inline`), signed with the session's secret CSRF token and good
only while the session lives. Every part response carries
`X-Content-Type-Options: nosniff` and `Content-Security-Policy: sandbox;
default-src 'none'`; only raster images and PDF files that their bytes show to
be so are ever inline, everything else is an `attachment` download.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, tzinfo
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from roost.control.compose import MODES
from roost.control.mail_list import Conversation, MailList
from roost.control.mail_view import MailView, content_disposition, frame_csp, sender_address
from roost.control.webmail_access import WebmailAccess
from roost.core.errors import RoostError
from roost.store.types import Flag
from roost.store.webmail_sessions import WebmailSession
from roost.web.forms import PageError
from roost.web.webmail.compose import compose_url
from roost.web.webmail.invitation import InvitationPages
from roost.web.webmail.messages import MAX_UID, Row, row_of, user_zone
from roost.web.webmail.pages import HOME, MailRequest, Webmail

PART_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox; default-src 'none'",
    "Cache-Control": "private, no-store",
    "Referrer-Policy": "no-referrer",
}
MAX_PART_INDEX = 100_000
MAX_SHOWN_DEPTH = 8
"""Replies deeper than this are indented no further."""


def _uid(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) <= MAX_UID:
        raise PageError(400, "That is not a message of this folder.")
    return int(text)


def _index(text: str) -> int:
    if not text.isdigit() or int(text) > MAX_PART_INDEX:
        raise PageError(400, "That is not a part of this message.")
    return int(text)


def sign(session: WebmailSession, folder: str, uid: int, index: int) -> str:
    message = f"{folder}\0{uid}\0{index}".encode("utf-8", "surrogatepass")
    return hmac.new(session.csrf_token.encode(), message, hashlib.sha256).hexdigest()[:40]


def inline_url(session: WebmailSession, folder: str, uid: int, index: int) -> str:
    query = {"s": session.id_hash, "f": folder, "u": uid, "p": index}
    return f"/mail/inline?{urlencode({**query, 't': sign(session, folder, uid, index)})}"


def part_response(data: bytes, media_type: str, disposition: str) -> Response:
    return Response(
        data,
        media_type=media_type,
        headers={**PART_HEADERS, "Content-Disposition": disposition},
    )


def reading_routes(
    mail: Webmail, view: MailView, messages: MailList, access: WebmailAccess
) -> list[BaseRoute]:
    invitations = InvitationPages(mail, view)

    def address(page: MailRequest) -> tuple[str, int]:
        query = page.request.query_params
        return query.get("folder", "INBOX"), _uid(query.get("uid", ""))

    async def read(page: MailRequest) -> Response:
        folder, uid = address(page)
        loaded = await view.load(page.session.account_id, folder, uid)
        sender = sender_address(loaded.structure)
        always = await view.images_allowed(page.session.account_id, sender)
        images = always or page.request.query_params.get("images") == "1"
        conversation = await messages.conversation(page.session.account_id, folder, uid)
        shown = view.view(
            loaded, lambda index: inline_url(page.session, folder, uid, index), images=images
        )
        if Flag.SEEN not in loaded.info.flags:
            await view.mark_seen(page.session.account_id, folder, uid)
        here = {"folder": folder, "uid": uid}
        zone = user_zone(page.request)
        now = mail.web.store.clock.now()
        return mail.render(
            "message.html",
            {
                "title": shown.subject or "(no subject)",
                "m": shown,
                "folder": folder,
                "back_url": f"{HOME}?{urlencode({'folder': folder})}",
                "frame_url": "/mail/message/body?"
                + urlencode({**here, **({"images": "1"} if images else {})}),
                "images_url": "/mail/message?" + urlencode({**here, "images": "1"}),
                "images": images,
                "sender": sender,
                "always": always,
                "conversation": _conversation_rows(conversation, folder, now, zone),
                "conversation_capped": conversation.capped,
                "conversation_complete": conversation.complete,
                "uid": uid,
                "compose_urls": {m: compose_url(m, folder, uid) for m in MODES},
                "source_url": "/mail/message/source?" + urlencode(here),
                "part_base": "/mail/message/part?" + urlencode(here),
                "headers": view.headers(loaded),
                "invitation": await invitations.panel(page, loaded, zone),
                "received": loaded.info.internal_date.astimezone(zone).strftime(
                    "%Y-%m-%d %H:%M %Z"
                ),
            },
            session=page.session,
        )

    async def body(page: MailRequest) -> Response:
        folder, uid = address(page)
        loaded = await view.load(page.session.account_id, folder, uid)
        images = page.request.query_params.get("images") == "1" or await view.images_allowed(
            page.session.account_id, sender_address(loaded.structure)
        )
        shown = view.view(
            loaded, lambda index: inline_url(page.session, folder, uid, index), images=images
        )
        html = mail.render_fragment("frame.html", {"m": shown})
        return Response(
            html,
            media_type="text/html; charset=utf-8",
            headers={
                "Content-Security-Policy": frame_csp(images=images),
                "X-Frame-Options": "SAMEORIGIN",
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
                "Cache-Control": "private, no-store",
            },
        )

    async def part(page: MailRequest) -> Response:
        folder, uid = address(page)
        index = _index(page.request.query_params.get("part", ""))
        loaded = await view.load(page.session.account_id, folder, uid)
        found = view.part(loaded, index)
        inline = page.request.query_params.get("inline") == "1" and found.inline_ok
        return part_response(
            found.data,
            found.media_type if inline else "application/octet-stream",
            content_disposition("inline" if inline else "attachment", found.filename),
        )

    async def source(page: MailRequest) -> Response:
        folder, uid = address(page)
        loaded = await view.load(page.session.account_id, folder, uid)
        data = loaded.info.trace + loaded.data
        return part_response(
            data,
            "text/plain; charset=utf-8" if _utf8(data) else "text/plain; charset=iso-8859-1",
            content_disposition("inline", f"message-{uid}.eml"),
        )

    async def inline(request: Request) -> Response:
        """A `cid:` image for the sandboxed frame (no cookie comes with it)."""
        query = request.query_params
        refused = Response("not found", status_code=404, media_type="text/plain")
        session = await access.session_for_hash(query.get("s", ""))
        if session is None:
            return refused
        try:
            folder, uid, index = (
                query.get("f", ""),
                _uid(query.get("u", "")),
                _index(query.get("p", "")),
            )
        except PageError:
            return refused
        if not hmac.compare_digest(
            query.get("t", "").encode(), sign(session, folder, uid, index).encode()
        ):
            return refused
        try:
            loaded = await view.load(session.account_id, folder, uid)
            found = view.part(loaded, index)
        except RoostError:
            return refused
        if not found.inline_ok or not found.media_type.startswith("image/"):
            return Response(
                "not an image", status_code=415, media_type="text/plain", headers=PART_HEADERS
            )
        return part_response(
            found.data, found.media_type, content_disposition("inline", found.filename)
        )

    async def image_sender(page: MailRequest) -> Response:
        """ "Always show images from this sender", and its undoing (a per-user setting)."""
        folder, uid = page.form.get("folder"), _uid(page.form.get("uid"))
        sender = page.form.get("sender")
        if page.form.get("allow") == "yes":
            await view.allow_images(page.session.account_id, sender)
        else:
            await view.forbid_images(page.session.account_id, sender)
        target = "/mail/message?" + urlencode({"folder": folder, "uid": uid})
        return RedirectResponse(target, status_code=303)

    return [
        Route("/mail/message", mail.page(read), methods=["GET"]),
        Route("/mail/images/sender", mail.page(image_sender), methods=["POST"]),
        Route("/mail/message/body", mail.page(body), methods=["GET"]),
        Route("/mail/message/part", mail.page(part), methods=["GET"]),
        Route("/mail/message/source", mail.page(source), methods=["GET"]),
        Route("/mail/inline", inline, methods=["GET"]),
        *invitations.routes(),
    ]


@dataclass(frozen=True, slots=True)
class ConversationRow:
    row: Row
    depth: int
    url: str


def _conversation_rows(
    conversation: Conversation, folder: str, now: datetime, zone: tzinfo
) -> list[ConversationRow]:
    """The conversation as the read pane lists it; nothing when the message is alone."""
    if len(conversation.entries) < 2:
        return []
    return [
        ConversationRow(
            row_of(e.message, now, zone),
            min(e.depth, MAX_SHOWN_DEPTH),
            "/mail/message?" + urlencode({"folder": folder, "uid": e.message.uid}),
        )
        for e in conversation.entries
    ]


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
