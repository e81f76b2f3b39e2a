"""What every webmail page shares: templates, the session guard, CSRF, forms and errors.

Every page but the sign-in page runs behind `Webmail.page`: it finds the
session the webmail cookie names (server-side, see
`roost.control.webmail_access`), sends a browser without one to the sign-in
page, and for a POST checks that the request comes from this origin and
carries the session's CSRF token before the handler sees anything.

The webmail's cookie is not the admin console's (`roost_mail`, not
`roost_admin`) and names a row in a table of its own, so neither opens the
other. Templates are Jinja2 with autoescaping on; pages carry their own
Content-Security-Policy: our stylesheet and script only, nothing inline, no
framing of these pages.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from roost.control.webmail_access import WebmailAccess
from roost.store.webmail_sessions import WebmailSession
from roost.web.context import WebContext
from roost.web.forms import (
    Endpoint,
    Form,
    PageFace,
    wants_json,
)

__all__ = ["HOME", "SIGN_IN", "MailRequest", "Webmail"]

HERE = Path(__file__).parent
# connect-src 'self' covers the chat's WebSocket too: CSP Level 3 §6.7.2.8 lets
# 'self' match ws: and wss: of the page's own host (the chat runs in the page, no
# worker: see `roost.web.webmail.chat`).
WEBMAIL_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; frame-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": WEBMAIL_CSP,
    # Our own forms keep their Origin header, so the origin check can refuse others.
    "Referrer-Policy": "same-origin",
}
SESSION_COOKIE = "roost_mail"
SIGNIN_COOKIE = "roost_mail_signin"
STATIC = {
    "webmail.css": "text/css; charset=utf-8",
    "webmail.js": "text/javascript; charset=utf-8",
    "chat.css": "text/css; charset=utf-8",
    "chat.js": "text/javascript; charset=utf-8",
    "compose.js": "text/javascript; charset=utf-8",
    "calendar.css": "text/css; charset=utf-8",
    "contacts.css": "text/css; charset=utf-8",
    "notes.css": "text/css; charset=utf-8",
}
BACKGROUND_HEADER = "x-roost-background"
HOME = "/mail"
SIGN_IN = "/mail/sign-in"
CSRF_MESSAGE = (
    "This form is out of date or did not come from this webmail (its CSRF token does not "
    "match). Nothing was changed: reload the page and try again."
)


@dataclass(frozen=True, slots=True)
class MailRequest:
    request: Request
    session: WebmailSession
    form: Form

    @property
    def source(self) -> str | None:
        return self.request.client.host if self.request.client else None


Handler = Callable[[MailRequest], Awaitable[Response]]


class Webmail(PageFace[WebmailSession]):
    session_cookie = SESSION_COOKIE
    signin_cookie = SIGNIN_COOKIE
    sign_in_url = SIGN_IN
    csrf_message = CSRF_MESSAGE
    expired_json = "Your session has ended."
    keep_query = True
    home = HOME

    def __init__(self, web: WebContext, access: WebmailAccess) -> None:
        super().__init__(
            HERE,
            STATIC,
            "/mail/static",
            max_form_bytes=access.settings.max_form_bytes,
            session_absolute_s=access.settings.session_absolute_s,
        )
        self.web = web
        self.access = access
        self.settings = access.settings

    # --- rendering

    def render(
        self,
        template: str,
        context: dict[str, object],
        *,
        session: WebmailSession | None,
        status: int = 200,
    ) -> HTMLResponse:
        html = self.env.get_template(template).render(
            user=session.address if session else None,
            csrf=session.csrf_token if session else context.pop("csrf", ""),
            css_url=self.static_urls["webmail.css"],
            js_url=self.static_urls["webmail.js"],
            chat=self.web.chat_tokens is not None,
            chat_css_url=self.static_urls["chat.css"],
            chat_js_url=self.static_urls["chat.js"],
            chat_shown_chars=self.settings.chat_shown_chars,
            chat_rendered=self.settings.chat_rendered_messages,
            **context,
        )
        return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)

    def render_fragment(self, template: str, context: dict[str, object]) -> str:
        """A template alone, without the page's frame and policy (the read frame)."""
        return self.env.get_template(template).render(**context)

    def render_page(
        self,
        request: Request,
        template: str,
        context: dict[str, object],
        session: WebmailSession | None,
        status: int,
    ) -> Response:
        return self.render(template, context, session=session, status=status)

    def signed_out_context(self, expired: bool) -> dict[str, object]:
        message = signed_out_message(expired)
        return {"address": "", "next": HOME, "message": message, "notice": ""}

    # --- requests

    def page(self, handler: Handler) -> Endpoint:
        """Wrap a handler: session, origin and CSRF checks, errors."""

        async def run(request: Request) -> Response:
            lookup = await self.access.lookup(
                self.current_cookie(request), activity=not background(request)
            )
            session = lookup.session
            if session is None:
                return self.signed_out(request, expired=lookup.expired)
            return await self.serve(
                request, session, lambda form: handler(MailRequest(request, session, form))
            )

        return run


def background(request: Request) -> bool:
    """A request a page makes by itself (JSON, or its list refreshing itself): it
    does not keep the session alive."""
    return wants_json(request) or request.headers.get(BACKGROUND_HEADER) == "1"


def signed_out_message(expired: bool) -> str:
    if expired:
        return "Your session has ended: sign in again."
    return "You are not signed in (or your session has ended): sign in again."
