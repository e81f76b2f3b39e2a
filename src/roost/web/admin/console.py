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

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlencode

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from roost.control.admin_access import AdminAccess, admin_actor
from roost.control.directory import Actor
from roost.core.errors import (
    AlreadyExists,
    AuthenticationFailed,
    NotFound,
    RoostError,
    Throttled,
    UnknownService,
)
from roost.store.admin_access import AdminSession
from roost.web.admin import service_info
from roost.web.context import WebContext

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
TLS_PREFIX = "__Host-"
"""Over TLS the cookies take the `__Host-` prefix: Secure, Path=/ and no Domain, enforced
by the browser."""
MAX_FORM_FIELDS = 200
STATIC = {"admin.css": "text/css; charset=utf-8", "admin.js": "text/javascript; charset=utf-8"}
SIGN_IN = "/admin/sign-in"
CSRF_MESSAGE = (
    "This form is out of date or did not come from this console (its CSRF token does not "
    "match). Nothing was changed: reload the page and try again."
)

Endpoint = Callable[[Request], Awaitable[Response]]


class PageError(Exception):
    """A page that says what went wrong, with its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Form:
    """The fields of an `application/x-www-form-urlencoded` body."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        self._fields = fields

    def get(self, name: str) -> str:
        values = self._fields.get(name)
        return values[0] if values else ""

    def all(self, name: str) -> list[str]:
        return list(self._fields.get(name, []))


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


def status_of(exc: RoostError) -> int:
    match exc:
        case Throttled():
            return 429
        case AuthenticationFailed():
            return 401
        case NotFound() | UnknownService():
            return 404
        case AlreadyExists():
            return 409
        case _:
            return 400


def wants_json(request: Request) -> bool:
    return request.headers.get("accept", "").startswith("application/json")


def is_tls(request: Request) -> bool:
    return request.url.scheme == "https"


def cookie_name(request: Request, base: str) -> str:
    return TLS_PREFIX + base if is_tls(request) else base


def safe_next(target: str) -> str:
    """Where to go after signing in: a page of this console, nothing else."""
    if target.startswith("/admin/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/admin"


class Console:
    def __init__(self, web: WebContext, access: AdminAccess) -> None:
        self.web = web
        self.access = access
        self.settings = access.settings
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._static: dict[str, tuple[bytes, str]] = {}
        self.static_urls: dict[str, str] = {}
        for name, content_type in STATIC.items():
            data = (HERE / "static" / name).read_bytes()
            self._static[name] = (data, content_type)
            version = hashlib.sha256(data).hexdigest()[:12]
            self.static_urls[name] = f"/admin/static/{name}?v={version}"

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
        html = self._env.get_template(template).render(
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

    def error_page(
        self, request: Request, session: AdminSession | None, status: int, message: str
    ) -> Response:
        if wants_json(request):
            return JSONResponse({"error": message}, status_code=status)
        return self.render(
            request,
            "error.html",
            {"title": f"Error {status}", "message": message},
            session=session,
            status=status,
        )

    async def static_file(self, request: Request) -> Response:
        found = self._static.get(request.path_params["name"])
        if found is None:
            return Response("not found", status_code=404, media_type="text/plain")
        data, content_type = found
        return Response(
            data,
            media_type=content_type,
            headers={"Cache-Control": "public, max-age=86400"},
        )

    # --- cookies

    def set_session_cookie(self, response: Response, request: Request, value: str) -> None:
        response.set_cookie(
            cookie_name(request, SESSION_COOKIE),
            value,
            max_age=int(self.settings.session_absolute_s),
            path="/",
            secure=is_tls(request),
            httponly=True,
            samesite="strict",
        )

    def clear_session_cookie(self, response: Response, request: Request) -> None:
        response.delete_cookie(
            cookie_name(request, SESSION_COOKIE),
            path="/",
            secure=is_tls(request),
            httponly=True,
            samesite="strict",
        )

    def signin_token(self, request: Request) -> str:
        """The sign-in form's CSRF token: the one in its cookie, or a new one."""
        token = request.cookies.get(cookie_name(request, SIGNIN_COOKIE), "")
        return token if 20 <= len(token) <= 64 else secrets.token_urlsafe(32)

    def set_signin_cookie(self, response: Response, request: Request, token: str) -> None:
        response.set_cookie(
            cookie_name(request, SIGNIN_COOKIE),
            token,
            path="/",
            secure=is_tls(request),
            httponly=True,
            samesite="strict",
        )

    def clear_signin_cookie(self, response: Response, request: Request) -> None:
        response.delete_cookie(
            cookie_name(request, SIGNIN_COOKIE),
            path="/",
            secure=is_tls(request),
            httponly=True,
            samesite="strict",
        )

    # --- requests

    def same_origin(self, request: Request) -> bool:
        """A POST from another site is refused even before its CSRF token is read."""
        origin = request.headers.get("origin")
        if origin is None:
            return True
        own = f"{request.url.scheme}://{request.headers.get('host', '')}"
        return origin == own

    async def read_form(self, request: Request) -> Form:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind not in ("", "application/x-www-form-urlencoded"):
            raise PageError(415, "Forms are sent as application/x-www-form-urlencoded.")
        limit = self.settings.max_form_bytes
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise PageError(413, f"The form is larger than {limit} bytes.")
        try:
            fields = parse_qs(
                body.decode("utf-8", "strict"),
                keep_blank_values=True,
                max_num_fields=MAX_FORM_FIELDS,
            )
        except (UnicodeDecodeError, ValueError):
            raise PageError(400, "The form could not be read.") from None
        return Form(fields)

    def current_cookie(self, request: Request) -> str | None:
        return request.cookies.get(cookie_name(request, SESSION_COOKIE))

    def signed_out(self, request: Request, *, expired: bool) -> Response:
        reason = "expired" if expired else "signed-out"
        if wants_json(request):
            message = "Your session has expired." if expired else "You are signed out."
            return JSONResponse({"error": message, "sign_in": SIGN_IN}, status_code=401)
        if request.method == "GET":
            query = urlencode({"next": request.url.path, "reason": reason})
            response: Response = RedirectResponse(f"{SIGN_IN}?{query}", status_code=303)
        else:
            token = self.signin_token(request)
            response = self.render(
                request,
                "sign_in.html",
                {
                    "csrf": token,
                    "name": "",
                    "next": "/admin",
                    "message": _signed_out_message(expired),
                    "notice": "",
                },
                session=None,
                status=401,
            )
            self.set_signin_cookie(response, request, token)
        if expired:
            self.clear_session_cookie(response, request)
        return response

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
            try:
                form = Form({})
                if request.method == "POST":
                    if not self.same_origin(request):
                        raise PageError(403, CSRF_MESSAGE)
                    form = await self.read_form(request)
                    if not hmac.compare_digest(
                        form.get("csrf").encode(), session.csrf_token.encode()
                    ):
                        raise PageError(403, CSRF_MESSAGE)
                return await handler(AdminRequest(request, session, form))
            except PageError as exc:
                return self.error_page(request, session, exc.status, exc.message)
            except RoostError as exc:
                return self.error_page(request, session, status_of(exc), str(exc))

        return run


def _signed_out_message(expired: bool) -> str:
    if expired:
        return "Your session has expired: sign in again."
    return "You are not signed in (or your session has ended): sign in again."
