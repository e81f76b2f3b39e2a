"""What every admin page shares: templates, the session guard, CSRF, forms and errors.

Every page but the sign-in page runs behind `Console.page`: it finds the
session the cookie names (server-side, see `roost.control.admin_access`),
sends a browser without one to the sign-in page, holds an admin who must
change a one-time password on the password page, and for a POST checks that
the request comes from this origin and carries the session's CSRF token
before the handler sees anything. A `RoostError` or a `PageError` that a
handler raises becomes a page with the message and its HTTP status.

Templates are Jinja2 with autoescaping on: every value a page shows is
escaped. Pages carry their own Content-Security-Policy: our stylesheet and
script only, nothing inline, no framing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from roost.control.admin_access import AdminAccess, admin_actor
from roost.control.directory import Actor
from roost.store.admin_access import AdminSession
from roost.web.admin import service_info
from roost.web.context import WebContext
from roost.web.forms import (
    Endpoint,
    Form,
    PageFace,
    wants_json,
)

__all__ = ["AdminRequest", "Console"]

HERE = Path(__file__).parent
ADMIN_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": ADMIN_CSP,
    # Same-origin requests keep their Origin header (with no-referrer, a browser
    # sends `Origin: null` for our own forms), so that the origin check can refuse
    # every other one.
    "Referrer-Policy": "same-origin",
}
SESSION_COOKIE = "roost_admin"
SIGNIN_COOKIE = "roost_signin"
STATIC = {"admin.css": "text/css; charset=utf-8", "admin.js": "text/javascript; charset=utf-8"}
SIGN_IN = "/admin/sign-in"
CSRF_MESSAGE = (
    "This form is out of date or did not come from this console (its CSRF token does not "
    "match). Nothing was changed: reload the page and try again."
)


@dataclass(frozen=True, slots=True)
class AdminRequest:
    request: Request
    session: AdminSession
    form: Form

    @property
    def source(self) -> str | None:
        return self.request.client.host if self.request.client else None

    @property
    def actor(self) -> Actor:
        return Actor(admin_actor(self.session.admin), self.source)


Handler = Callable[[AdminRequest], Awaitable[Response]]


class Console(PageFace[AdminSession]):
    session_cookie = SESSION_COOKIE
    signin_cookie = SIGNIN_COOKIE
    sign_in_url = SIGN_IN
    csrf_message = CSRF_MESSAGE
    expired_json = "Your session has expired."
    keep_query = False
    home = "/admin"

    def __init__(self, web: WebContext, access: AdminAccess) -> None:
        super().__init__(
            HERE,
            STATIC,
            "/admin/static",
            max_form_bytes=access.settings.max_form_bytes,
            session_absolute_s=access.settings.session_absolute_s,
        )
        self.web = web
        self.access = access
        self.settings = access.settings

    # --- rendering

    def render(
        self,
        request: Request,
        template: str,
        context: dict[str, object],
        *,
        session: AdminSession | None,
        status: int = 200,
    ) -> HTMLResponse:
        banner = service_info.banner(self.web.supervisor.statuses()) if session else []
        html = self.env.get_template(template).render(
            admin=session.admin if session else None,
            live=session is not None and not session.must_change_password,
            csrf=session.csrf_token if session else context.pop("csrf", ""),
            banner=banner,
            css_url=self.static_urls["admin.css"],
            js_url=self.static_urls["admin.js"],
            refresh_ms=int(self.settings.refresh_s * 1000),
            stale_ms=int(self.settings.stale_after_s * 1000),
            node=self.web.supervisor.node,
            now=service_info.clock_time(self.web.store.clock.now()),
            **context,
        )
        return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)

    def render_page(
        self,
        request: Request,
        template: str,
        context: dict[str, object],
        session: AdminSession | None,
        status: int,
    ) -> Response:
        return self.render(request, template, context, session=session, status=status)

    def signed_out_context(self, expired: bool) -> dict[str, object]:
        message = _signed_out_message(expired)
        return {"name": "", "next": "/admin", "message": message, "notice": ""}

    def page(self, handler: Handler, *, password_change_ok: bool = False) -> Endpoint:
        """Wrap a handler: session, forced password change, origin and CSRF checks, errors."""

        async def run(request: Request) -> Response:
            lookup = await self.access.lookup(
                self.current_cookie(request), activity=not wants_json(request)
            )
            session = lookup.session
            if session is None:
                return self.signed_out(request, expired=lookup.expired)
            if session.must_change_password and not password_change_ok:
                if request.method == "GET" and not wants_json(request):
                    return RedirectResponse("/admin/password", status_code=303)
                return self.error_page(
                    request, session, 403, "Change your one-time password first."
                )
            return await self.serve(
                request, session, lambda form: handler(AdminRequest(request, session, form))
            )

        return run


def _signed_out_message(expired: bool) -> str:
    if expired:
        return "Your session has expired: sign in again."
    return "You are not signed in (or your session has ended): sign in again."
