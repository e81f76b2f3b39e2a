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

from roost.control.webmail_access import WebmailAccess
from roost.core.errors import (
    AlreadyExists,
    AuthenticationFailed,
    NotFound,
    QuotaExceeded,
    RoostError,
    Throttled,
)
from roost.store.webmail_sessions import WebmailSession
from roost.web.context import WebContext

HERE = Path(__file__).parent
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
TLS_PREFIX = "__Host-"
"""Over TLS the cookies take the `__Host-` prefix: Secure, Path=/ and no Domain."""
MAX_FORM_FIELDS = 200
STATIC = {"webmail.css": "text/css; charset=utf-8", "webmail.js": "text/javascript; charset=utf-8"}
HOME = "/mail"
SIGN_IN = "/mail/sign-in"
CSRF_MESSAGE = (
    "This form is out of date or did not come from this webmail (its CSRF token does not "
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
class MailRequest:
    request: Request
    session: WebmailSession
    form: Form

    @property
    def source(self) -> str | None:
        return self.request.client.host if self.request.client else None


Handler = Callable[[MailRequest], Awaitable[Response]]


def status_of(exc: RoostError) -> int:
    match exc:
        case Throttled():
            return 429
        case AuthenticationFailed():
            return 401
        case NotFound():
            return 404
        case AlreadyExists():
            return 409
        case QuotaExceeded():
            return 507
        case _:
            return 400


def wants_json(request: Request) -> bool:
    return request.headers.get("accept", "").startswith("application/json")


def is_tls(request: Request) -> bool:
    return request.url.scheme == "https"


def cookie_name(request: Request, base: str) -> str:
    return TLS_PREFIX + base if is_tls(request) else base


def safe_next(target: str) -> str:
    """Where to go after signing in: a page of this webmail, nothing else."""
    if (
        (target == HOME or target.startswith(HOME + "/"))
        and not target.startswith("//")
        and "\\" not in target
    ):
        return target
    return HOME


class Webmail:
    def __init__(self, web: WebContext, access: WebmailAccess) -> None:
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
            self.static_urls[name] = f"/mail/static/{name}?v={version}"

    # --- rendering

    def render(
        self,
        template: str,
        context: dict[str, object],
        *,
        session: WebmailSession | None,
        status: int = 200,
    ) -> HTMLResponse:
        html = self._env.get_template(template).render(
            user=session.address if session else None,
            csrf=session.csrf_token if session else context.pop("csrf", ""),
            css_url=self.static_urls["webmail.css"],
            js_url=self.static_urls["webmail.js"],
            **context,
        )
        return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)

    def render_fragment(self, template: str, context: dict[str, object]) -> str:
        """A template alone, without the page's frame and policy (the read frame)."""
        return self._env.get_template(template).render(**context)

    def error_page(
        self, request: Request, session: WebmailSession | None, status: int, message: str
    ) -> Response:
        if wants_json(request):
            return JSONResponse({"error": message}, status_code=status)
        return self.render(
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
            data, media_type=content_type, headers={"Cache-Control": "public, max-age=86400"}
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

    def current_cookie(self, request: Request) -> str | None:
        return request.cookies.get(cookie_name(request, SESSION_COOKIE))

    # --- requests

    def same_origin(self, request: Request) -> bool:
        """A POST from another site is refused even before its CSRF token is read."""
        origin = request.headers.get("origin")
        if origin is None:
            return True
        return origin == f"{request.url.scheme}://{request.headers.get('host', '')}"

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

    def signed_out(self, request: Request, *, expired: bool) -> Response:
        reason = "expired" if expired else "signed-out"
        if wants_json(request):
            message = "Your session has ended." if expired else "You are signed out."
            return JSONResponse({"error": message, "sign_in": SIGN_IN}, status_code=401)
        if request.method == "GET":
            target = request.url.path
            if request.url.query:
                target += "?" + request.url.query
            query = urlencode({"next": target, "reason": reason})
            response: Response = RedirectResponse(f"{SIGN_IN}?{query}", status_code=303)
        else:
            token = self.signin_token(request)
            response = self.render(
                "sign_in.html",
                {
                    "csrf": token,
                    "address": "",
                    "next": HOME,
                    "message": signed_out_message(expired),
                    "notice": "",
                },
                session=None,
                status=401,
            )
            self.set_signin_cookie(response, request, token)
        if expired:
            self.clear_session_cookie(response, request)
        return response

    def page(self, handler: Handler) -> Endpoint:
        """Wrap a handler: session, origin and CSRF checks, errors."""

        async def run(request: Request) -> Response:
            lookup = await self.access.lookup(
                self.current_cookie(request), activity=not wants_json(request)
            )
            session = lookup.session
            if session is None:
                return self.signed_out(request, expired=lookup.expired)
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
                return await handler(MailRequest(request, session, form))
            except PageError as exc:
                return self.error_page(request, session, exc.status, exc.message)
            except RoostError as exc:
                return self.error_page(request, session, status_of(exc), str(exc))

        return run


def signed_out_message(expired: bool) -> str:
    if expired:
        return "Your session has ended: sign in again."
    return "You are not signed in (or your session has ended): sign in again."
