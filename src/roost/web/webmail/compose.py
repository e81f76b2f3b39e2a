"""The compose page: write, reply, forward, save drafts, attach files, send.

`/mail/compose` opens a new message, or a reply (`?reply=<folder>/<uid>`,
`?reply_all=`), a forward (`?forward=`, `?forward_attached=`) or a draft
(`?draft=<uid>` of Drafts). The form posts to `/mail/compose/send`, or to
`/mail/compose/save` (the page's script does that every `compose_autosave_s`
seconds while the message changes, and once more when the page is left; the
draft's UID comes back and replaces the previous one). Files go to
`/mail/compose/upload` one by one as raw bodies, so the script can show their
progress; they wait in the compose area (`compose_attachments`) until the
message is sent or saved. Recipients complete from `/mail/compose/complete`.

Everything a send checks is `roost.control.compose`'s: the page turns its
`ComposeError` into the form again, with what was written kept and the reason
on top.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from roost.control.compose import (
    MODES,
    Compose,
    ComposeError,
    Composer,
    Origin,
    Prefill,
    Writer,
    compose_limits,
)
from roost.control.compose_mime import Attachment
from roost.control.recipients import CompletionLimits, Recipients
from roost.control.user_settings import UserSettings
from roost.control.webmail_access import WebmailAccess
from roost.core.errors import RoostError
from roost.web.context import WebContext
from roost.web.forms import (
    Form,
    PageError,
    read_form,
    same_origin,
    status_of,
    tokens_match,
    wants_json,
)
from roost.web.webmail.compose_attachments import ComposeAreas, Upload
from roost.web.webmail.pages import HOME, MailRequest, Webmail

COMPOSE = "/mail/compose"
CSRF_HEADER = "x-roost-csrf"
MAX_UID = 2**32 - 1
MAX_NAME_CHARS = 255


class ComposeFace(Webmail):
    """The webmail's pages with the compose form's larger size limit."""

    async def read_form(self, request: Request) -> Form:
        return await read_form(request, self.settings.compose_max_form_bytes)


def _uid(text: str) -> int | None:
    if text.isdigit() and 0 < int(text) <= MAX_UID:
        return int(text)
    return None


def _session_writer(page: MailRequest) -> Writer:
    """The user without their settings (enough to find their folders and uploads)."""
    session = page.session
    return Writer(session.account_id, session.address, session.display_name)


def _origin(query: dict[str, str]) -> Origin | None:
    for mode in MODES:
        value = query.get(mode)
        if value:
            folder, _, uid = value.rpartition("/")
            number = _uid(uid)
            if not folder or number is None:
                raise PageError(400, "That is not a message of yours.")
            return Origin(mode, folder, number)
    return None


def _compose_of(
    form: Form, files: tuple[Attachment, ...] = (), messages: tuple[bytes, ...] = ()
) -> Compose:
    rich = form.get("format") == "html"
    return Compose(
        from_address=form.get("from"),
        to=form.get("to"),
        cc=form.get("cc"),
        bcc=form.get("bcc"),
        subject=form.get("subject"),
        text=form.get("text"),
        html=form.get("html") if rich else None,
        message_id=form.get("message_id"),
        in_reply_to=form.get("in_reply_to"),
        references=form.get("references"),
        origin=Origin.parse(form.get("origin")),
        attachments=files,
        forwarded=messages,
    )


def compose_pages(web: WebContext, access: WebmailAccess) -> list[BaseRoute]:
    """The compose routes over the context's intake and submission policy (the ones
    SMTP submission uses)."""
    config, store = web.config, web.store
    clock = store.clock
    settings = access.settings
    limits = compose_limits(config)
    composer = Composer(store, *web.sending(), limits, clock)
    areas = ComposeAreas(
        config.data_dir,
        max_message_bytes=limits.max_message_bytes,
        max_files=settings.compose_max_attachments,
        max_open=settings.compose_max_open,
        max_age_s=settings.session_absolute_s,
    )
    recipients = Recipients(
        store,
        CompletionLimits(
            settings.completion_scan_messages,
            settings.completion_max_contacts,
            settings.completion_max_results,
        ),
    )
    profiles = UserSettings(store, config.vacation)
    return compose_routes(ComposeFace(web, access), composer, areas, recipients, profiles)


def compose_routes(
    mail: ComposeFace,
    composer: Composer,
    areas: ComposeAreas,
    recipients: Recipients,
    profiles: UserSettings | None = None,
) -> list[BaseRoute]:
    settings = mail.settings

    async def profile(page: MailRequest) -> Writer:
        """The user with their display name, signature and reply-to (their settings)."""
        writer = _session_writer(page)
        if profiles is None:
            return writer
        found = await profiles.get(writer.address)
        return Writer(
            writer.account_id,
            writer.address,
            found.display_name or writer.display_name,
            found.signature,
            found.reply_to,
        )

    async def render(
        page: MailRequest,
        compose: Compose,
        area: str,
        draft_uid: int | None,
        *,
        error: str = "",
        status: int = 200,
    ) -> Response:
        writer = await profile(page)
        uploads = await areas.uploads(writer.account_id, area)
        senders = await composer.senders(writer)
        if compose.from_address and compose.from_address not in senders:
            senders.append(compose.from_address)
        return mail.render(
            "compose.html",
            {
                "title": compose.subject or "New message",
                "c": compose,
                "rich": compose.html is not None,
                "origin": compose.origin.header() if compose.origin else "",
                "senders": senders,
                "display_name": writer.display_name,
                "area": area,
                "draft_uid": draft_uid or "",
                "uploads": uploads,
                "error": error,
                "autosave_s": settings.compose_autosave_s,
                "max_bytes": areas.max_message_bytes,
                "compose_js_url": mail.static_urls["compose.js"],
            },
            session=page.session,
            status=status,
        )

    async def open_page(page: MailRequest) -> Response:
        writer = await profile(page)
        query = dict(page.request.query_params)
        draft = query.get("draft")
        if draft is not None:
            uid = _uid(draft)
            if uid is None:
                raise PageError(400, "That is not a draft of yours.")
            prefill = await composer.reopen(writer, uid)
        else:
            origin = _origin(query)
            prefill = (
                await composer.prefill(writer, origin)
                if origin
                else Prefill(_with_to(composer.blank(writer), query.get("to", "")))
            )
        area = await areas.new_area(writer.account_id)
        compose = prefill.compose
        try:
            for item in compose.attachments:
                await areas.add(
                    writer.account_id, area, item.filename, item.content_type, item.data
                )
            for index, data in enumerate(compose.forwarded):
                await areas.add(
                    writer.account_id, area, f"forwarded-{index + 1}.eml", "message/rfc822", data
                )
            error = ""
        except ComposeError as exc:
            error = exc.message
        return await render(page, compose, area, prefill.draft_uid, error=error)

    async def with_files(page: MailRequest) -> Compose:
        writer = _session_writer(page)
        files, messages = await areas.read(writer.account_id, page.form.get("area"))
        return _compose_of(page.form, files, messages)

    async def send(page: MailRequest) -> Response:
        writer = await profile(page)
        area = page.form.get("area")
        draft_uid = _uid(page.form.get("draft_uid"))
        try:
            compose = await with_files(page)
            sent = await composer.send(writer, compose, draft_uid, page.source)
        except (ComposeError, RoostError) as exc:
            # The form again, with what was written kept and the reason on top.
            message, status = (
                (exc.message, exc.status)
                if isinstance(exc, ComposeError)
                else (str(exc), status_of(exc))
            )
            if wants_json(page.request):
                return JSONResponse({"error": message}, status_code=status)
            try:
                return await render(
                    page, _compose_of(page.form), area, draft_uid, error=message, status=status
                )
            except ComposeError:
                raise PageError(status, message) from None
        await areas.drop(writer.account_id, area)
        note = f"Your message is sent to {sent.recipients} recipient" + (
            "s." if sent.recipients != 1 else "."
        )
        return RedirectResponse(
            f"{HOME}?{urlencode({'folder': 'INBOX', 'note': note})}", status_code=303
        )

    async def save(page: MailRequest) -> Response:
        writer = await profile(page)
        # The script asks with ?json=1 rather than Accept: JSON, which would mark the
        # request as one the page makes by itself (writing is using the session).
        as_json = wants_json(page.request) or page.request.query_params.get("json") == "1"
        draft_uid = _uid(page.form.get("draft_uid"))
        try:
            compose = await with_files(page)
            uid = await composer.save_draft(writer, compose, draft_uid)
        except ComposeError as exc:
            if as_json:
                return JSONResponse({"error": exc.message}, status_code=exc.status)
            raise PageError(exc.status, exc.message) from None
        if as_json:
            return JSONResponse({"draft_uid": uid})
        return RedirectResponse(f"{COMPOSE}?{urlencode({'draft': uid})}", status_code=303)

    async def discard(page: MailRequest) -> Response:
        writer = _session_writer(page)
        uid = _uid(page.form.get("draft_uid"))
        if uid is not None:
            await composer.discard_draft(writer, uid)
        await areas.drop(writer.account_id, page.form.get("area"))
        return RedirectResponse(f"{HOME}?{urlencode({'folder': 'INBOX'})}", status_code=303)

    async def remove(page: MailRequest) -> Response:
        writer = _session_writer(page)
        try:
            await areas.remove(writer.account_id, page.form.get("area"), page.form.get("id"))
        except ComposeError as exc:
            return JSONResponse({"error": exc.message}, status_code=exc.status)
        return JSONResponse({"removed": page.form.get("id")})

    async def complete(page: MailRequest) -> Response:
        writer = _session_writer(page)
        found = await recipients.complete(
            writer.account_id, writer.address, page.request.query_params.get("q", "")
        )
        return JSONResponse(
            {"results": [{"name": s.name, "address": s.address, "source": s.source} for s in found]}
        )

    async def upload(request: Request) -> Response:
        """One file as the raw body; the CSRF token comes in a header (no form here)."""
        lookup = await mail.access.lookup(mail.current_cookie(request), activity=True)
        session = lookup.session
        if session is None:
            return JSONResponse({"error": "Your session has ended."}, status_code=401)
        if not same_origin(request) or not tokens_match(
            request.headers.get(CSRF_HEADER, ""), session.csrf_token
        ):
            return JSONResponse({"error": mail.csrf_message}, status_code=403)
        query = request.query_params
        declared = request.headers.get("content-length", "")
        try:
            upload = await areas.receive(
                session.account_id,
                query.get("area", ""),
                query.get("name", "")[:MAX_NAME_CHARS],
                request.headers.get("content-type", "application/octet-stream"),
                request.stream(),
                int(declared) if declared.isdigit() else None,
            )
        except ComposeError as exc:
            return JSONResponse({"error": exc.message}, status_code=exc.status)
        except RoostError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(_upload_json(upload))

    return [
        Route(COMPOSE, mail.page(open_page), methods=["GET"]),
        Route(f"{COMPOSE}/send", mail.page(send), methods=["POST"]),
        Route(f"{COMPOSE}/save", mail.page(save), methods=["POST"]),
        Route(f"{COMPOSE}/discard", mail.page(discard), methods=["POST"]),
        Route(f"{COMPOSE}/remove", mail.page(remove), methods=["POST"]),
        Route(f"{COMPOSE}/complete", mail.page(complete), methods=["GET"]),
        Route(f"{COMPOSE}/upload", upload, methods=["POST"]),
    ]


def _upload_json(upload: Upload) -> dict[str, object]:
    return {
        "id": upload.id,
        "filename": upload.filename,
        "size": upload.size,
        "content_type": upload.content_type,
    }


def _with_to(compose: Compose, to: str) -> Compose:
    """`?to=` (a mailto: link's address) fills To."""
    return replace(compose, to=to[:1000]) if to else compose


def compose_url(mode: str, folder: str, uid: int) -> str:
    """A link from the read page: reply, reply_all, forward or forward_attached."""
    return f"{COMPOSE}?{mode}={quote(folder, safe='')}/{uid}"
