"""Signing in and out of the webmail, and changing one's own password.

The sign-in form has no session to hold its CSRF token, so it carries a
random token that is also in a SameSite=Strict cookie of its own (double
submit); the two must match. A good sign-in sets a new session cookie (the
id rotates at every sign-in). A password change goes through the directory,
which ends every session of the user in every service; this browser gets a
new webmail session.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from roost.core.errors import AuthenticationFailed, InvalidName, Throttled
from roost.web.forms import PageError, is_tls, status_of
from roost.web.webmail.pages import CSRF_MESSAGE, HOME, SIGN_IN, MailRequest, Webmail

NOTICES = {
    "expired": "Your session has ended: sign in again.",
    "signed-out": "You are not signed in: sign in to read your mail.",
    "bye": "You have signed out.",
}
PLAINTEXT_REFUSED = (
    "Passwords are accepted only over HTTPS here: open this page with https:// and sign in there."
)


def signin_routes(mail: Webmail) -> list[BaseRoute]:
    access = mail.access

    def form_page(
        request: Request,
        *,
        address: str = "",
        next_page: str = HOME,
        message: str = "",
        notice: str = "",
        status: int = 200,
    ) -> Response:
        context: dict[str, object] = {
            "address": address,
            "next": next_page,
            "message": message,
            "notice": notice,
        }
        return mail.sign_in_form(request, context, status)

    async def sign_in_page(request: Request) -> Response:
        lookup = await access.lookup(mail.current_cookie(request), activity=False)
        next_page = mail.safe_next(request.query_params.get("next", ""))
        if lookup.session is not None:
            return RedirectResponse(next_page, status_code=303)
        notice = NOTICES.get(request.query_params.get("reason", ""), "")
        return form_page(request, next_page=next_page, notice=notice)

    async def sign_in(request: Request) -> Response:
        try:
            form, token_ok = await mail.read_signin_form(request)
        except PageError as exc:
            return form_page(request, message=exc.message, status=exc.status)
        address = form.get("address")
        next_page = mail.safe_next(form.get("next"))
        if not token_ok:
            return form_page(
                request, address=address, next_page=next_page, message=CSRF_MESSAGE, status=403
            )
        source = request.client.host if request.client else None
        if not access.plaintext_allowed(tls=is_tls(request), client=source):
            return form_page(
                request, address=address, next_page=next_page, message=PLAINTEXT_REFUSED, status=403
            )
        try:
            made = await access.sign_in(address, form.get("password"), source)
        except Throttled as exc:
            return form_page(
                request, address=address, next_page=next_page, message=str(exc), status=429
            )
        except AuthenticationFailed as exc:
            return form_page(
                request, address=address, next_page=next_page, message=str(exc), status=401
            )
        # The browser's previous session, if it had one, ends: one id per sign-in.
        await access.discard(mail.current_cookie(request))
        response = RedirectResponse(next_page, status_code=303)
        mail.set_session_cookie(response, request, made.cookie)
        mail.clear_signin_cookie(response, request)
        return response

    async def sign_out(page: MailRequest) -> Response:
        await access.sign_out(page.session, page.source)
        response = RedirectResponse(f"{SIGN_IN}?reason=bye", status_code=303)
        mail.clear_session_cookie(response, page.request)
        return response

    def password_page(page: MailRequest, *, message: str = "", status: int = 200) -> Response:
        return mail.render(
            "password.html",
            {"title": "Change password", "message": message},
            session=page.session,
            status=status,
        )

    async def show_password(page: MailRequest) -> Response:
        return password_page(page)

    async def change_password(page: MailRequest) -> Response:
        new = page.form.get("new")
        if new != page.form.get("repeat"):
            return password_page(page, message="The two new passwords differ.", status=400)
        try:
            made = await access.change_password(
                page.session, page.form.get("current"), new, page.source
            )
        except (AuthenticationFailed, InvalidName) as exc:
            return password_page(page, message=str(exc), status=status_of(exc))
        response = RedirectResponse(f"{HOME}?done=password", status_code=303)
        mail.set_session_cookie(response, page.request, made.cookie)
        return response

    return [
        Route(SIGN_IN, sign_in_page, methods=["GET"]),
        Route(SIGN_IN, sign_in, methods=["POST"]),
        Route("/mail/sign-out", mail.page(sign_out), methods=["POST"]),
        Route("/mail/password", mail.page(show_password), methods=["GET"]),
        Route("/mail/password", mail.page(change_password), methods=["POST"]),
    ]
