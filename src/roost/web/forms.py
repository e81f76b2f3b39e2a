"""What the admin console and the webmail share: forms, cookies, CSRF and errors.

Both faces are server-rendered pages behind a server-side session. `PageFace`
holds the plumbing that is the same for both: the Jinja2 environment and the
versioned static files, the session cookie and the sign-in form's double-submit
cookie (each face names its own, so neither opens the other), the origin and
CSRF checks of every POST, the size-limited form reader, and the wrapper that
turns a `PageError` or a `RoostError` into a page with its HTTP status. A face
subclasses it with its session type, its templates and what its pages show.

Over TLS the cookies take the `__Host-` prefix: Secure, Path=/ and no Domain,
enforced by the browser.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Generic, Protocol, TypeVar
from urllib.parse import parse_qs, urlencode

import jinja2
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from roost.core.errors import (
    AlreadyExists,
    AuthenticationFailed,
    NotFound,
    QuotaExceeded,
    RoostError,
    Throttled,
    UnknownService,
)

TLS_PREFIX = "__Host-"
MAX_FORM_FIELDS = 200
MIN_SIGNIN_TOKEN_CHARS = 20
MAX_SIGNIN_TOKEN_CHARS = 64
STATIC_MAX_AGE_S = 86400

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


class CsrfSession(Protocol):
    """What the POST check needs of a face's session."""

    @property
    def csrf_token(self) -> str: ...


S = TypeVar("S", bound=CsrfSession)


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


def same_origin(request: Request) -> bool:
    """A POST from another site is refused even before its CSRF token is read."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return origin == f"{request.url.scheme}://{request.headers.get('host', '')}"


def tokens_match(given: str, expected: str) -> bool:
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


async def read_form(request: Request, limit: int) -> Form:
    """The body as form fields, at most `limit` bytes and `MAX_FORM_FIELDS` fields."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ("", "application/x-www-form-urlencoded"):
        raise PageError(415, "Forms are sent as application/x-www-form-urlencoded.")
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


class PageFace(Generic[S]):
    """The shared half of a face: templates, static files, cookies and the POST checks."""

    session_cookie: str
    signin_cookie: str
    sign_in_url: str
    csrf_message: str
    expired_json: str
    """What a JSON request hears when its session has just ended."""
    keep_query: bool
    """Whether the sign-in page sends the browser back with the page's query string."""
    home: str
    """The face's first page, and the root every page of it lies under."""

    def safe_next(self, target: str) -> str:
        """Where to go after signing in: a page of this face, nothing else."""
        home = self.home
        if (
            (target == home or target.startswith(home + "/"))
            and not target.startswith("//")
            and "\\" not in target
        ):
            return target
        return home

    def __init__(
        self,
        folder: Path,
        static: Mapping[str, str],
        static_prefix: str,
        *,
        max_form_bytes: int,
        session_absolute_s: float,
    ) -> None:
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(folder / "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._max_form_bytes = max_form_bytes
        self._session_absolute_s = session_absolute_s
        self._static: dict[str, tuple[bytes, str]] = {}
        self.static_urls: dict[str, str] = {}
        for name, content_type in static.items():
            data = (folder / "static" / name).read_bytes()
            self._static[name] = (data, content_type)
            version = hashlib.sha256(data).hexdigest()[:12]
            self.static_urls[name] = f"{static_prefix}/{name}?v={version}"

    # --- what a face fills in

    def render_page(
        self,
        request: Request,
        template: str,
        context: dict[str, object],
        session: S | None,
        status: int,
    ) -> Response:
        """A template as a whole page of this face."""
        raise NotImplementedError

    def signed_out_context(self, expired: bool) -> dict[str, object]:
        """The sign-in form's values when it answers a POST whose session is gone."""
        raise NotImplementedError

    def error_page(
        self, request: Request, session: S | None, status: int, message: str
    ) -> Response:
        if wants_json(request):
            return JSONResponse({"error": message}, status_code=status)
        context: dict[str, object] = {"title": f"Error {status}", "message": message}
        return self.render_page(request, "error.html", context, session, status)

    def sign_in_form(
        self, request: Request, context: dict[str, object], status: int = 200
    ) -> Response:
        """The sign-in page with a double-submit token in the form and in its cookie."""
        token = self.signin_token(request)
        context = {"csrf": token, **context}
        response = self.render_page(request, "sign_in.html", context, None, status)
        self.set_signin_cookie(response, request, token)
        return response

    # --- static files

    async def static_file(self, request: Request) -> Response:
        found = self._static.get(request.path_params["name"])
        if found is None:
            return Response("not found", status_code=404, media_type="text/plain")
        data, content_type = found
        return Response(
            data,
            media_type=content_type,
            headers={"Cache-Control": f"public, max-age={STATIC_MAX_AGE_S}"},
        )

    # --- cookies

    def current_cookie(self, request: Request) -> str | None:
        return request.cookies.get(cookie_name(request, self.session_cookie))

    def set_session_cookie(self, response: Response, request: Request, value: str) -> None:
        response.set_cookie(
            cookie_name(request, self.session_cookie),
            value,
            max_age=int(self._session_absolute_s),
            path="/",
            secure=is_tls(request),
            httponly=True,
            samesite="strict",
        )

    def clear_session_cookie(self, response: Response, request: Request) -> None:
        self._delete_cookie(response, request, self.session_cookie)

    def signin_token(self, request: Request) -> str:
        """The sign-in form's CSRF token: the one in its cookie, or a new one."""
        token = request.cookies.get(cookie_name(request, self.signin_cookie), "")
        if MIN_SIGNIN_TOKEN_CHARS <= len(token) <= MAX_SIGNIN_TOKEN_CHARS:
            return token
        return secrets.token_urlsafe(32)

    def set_signin_cookie(self, response: Response, request: Request, token: str) -> None:
        response.set_cookie(
            cookie_name(request, self.signin_cookie),
            token,
            path="/",
            secure=is_tls(request),
            httponly=True,
            samesite="strict",
        )

    def clear_signin_cookie(self, response: Response, request: Request) -> None:
        self._delete_cookie(response, request, self.signin_cookie)

    def _delete_cookie(self, response: Response, request: Request, base: str) -> None:
        response.delete_cookie(
            cookie_name(request, base),
            path="/",
            secure=is_tls(request),
            httponly=True,
            samesite="strict",
        )

    # --- requests

    def same_origin(self, request: Request) -> bool:
        return same_origin(request)

    async def read_form(self, request: Request) -> Form:
        return await read_form(request, self._max_form_bytes)

    async def read_signin_form(self, request: Request) -> tuple[Form, bool]:
        """The sign-in form and whether its token matches its cookie (double submit).

        Raises `PageError` for a POST from another origin or a body that is no form.
        """
        if not same_origin(request):
            raise PageError(403, self.csrf_message)
        form = await self.read_form(request)
        expected = request.cookies.get(cookie_name(request, self.signin_cookie), "")
        return form, tokens_match(form.get("csrf"), expected)

    def signed_out(self, request: Request, *, expired: bool) -> Response:
        """What a request without a live session gets: JSON 401, a redirect to the
        sign-in page (GET) or the sign-in form (POST)."""
        if wants_json(request):
            message = self.expired_json if expired else "You are signed out."
            return JSONResponse({"error": message, "sign_in": self.sign_in_url}, status_code=401)
        if request.method == "GET":
            target = request.url.path
            if self.keep_query and request.url.query:
                target += "?" + request.url.query
            reason = "expired" if expired else "signed-out"
            query = urlencode({"next": target, "reason": reason})
            response: Response = RedirectResponse(f"{self.sign_in_url}?{query}", status_code=303)
        else:
            response = self.sign_in_form(request, self.signed_out_context(expired), 401)
        if expired:
            self.clear_session_cookie(response, request)
        return response

    async def serve(
        self, request: Request, session: S, call: Callable[[Form], Awaitable[Response]]
    ) -> Response:
        """Run a page for a live session: a POST must come from this origin and carry
        the session's CSRF token; errors become pages."""
        try:
            form = Form({})
            if request.method == "POST":
                if not same_origin(request):
                    raise PageError(403, self.csrf_message)
                form = await self.read_form(request)
                if not tokens_match(form.get("csrf"), session.csrf_token):
                    raise PageError(403, self.csrf_message)
            return await call(form)
        except PageError as exc:
            return self.error_page(request, session, exc.status, exc.message)
        except RoostError as exc:
            return self.error_page(request, session, status_of(exc), str(exc))
