"""Signing in and out, and changing one's own password (forced after a one-time password).

The sign-in form has no session to hold its CSRF token, so it carries a
random token that is also in a SameSite=Strict cookie of its own (double
submit); the two must match. A good sign-in sets a new session cookie (the
id rotates at every sign-in); a password change ends every session of the
admin and gives this browser a new one.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from roost.core.errors import AuthenticationFailed, InvalidName, Throttled
from roost.web.admin.console import CSRF_MESSAGE, SIGN_IN, AdminRequest, Console
from roost.web.forms import PageError, status_of

NOTICES = {
    "expired": "Your session has expired: sign in again.",
    "signed-out": "You are not signed in: sign in to continue.",
    "bye": "You have signed out.",
}


def signin_routes(console: Console) -> list[BaseRoute]:
    access = console.access

    def form_page(
        request: Request,
        *,
        name: str = "",
        next_page: str = "/admin",
        message: str = "",
        notice: str = "",
        status: int = 200,
    ) -> Response:
        context: dict[str, object] = {
            "name": name,
            "next": next_page,
            "message": message,
            "notice": notice,
        }
        return console.sign_in_form(request, context, status)

    async def sign_in_page(request: Request) -> Response:
        lookup = await access.lookup(console.current_cookie(request), activity=False)
        next_page = console.safe_next(request.query_params.get("next", ""))
        if lookup.session is not None:
            return RedirectResponse(next_page, status_code=303)
        notice = NOTICES.get(request.query_params.get("reason", ""), "")
        return form_page(request, next_page=next_page, notice=notice)

    async def sign_in(request: Request) -> Response:
        try:
            form, token_ok = await console.read_signin_form(request)
        except PageError as exc:
            return form_page(request, message=exc.message, status=exc.status)
        name = form.get("name")
        next_page = console.safe_next(form.get("next"))
        if not token_ok:
            return form_page(
                request, name=name, next_page=next_page, message=CSRF_MESSAGE, status=403
            )
        source = request.client.host if request.client else None
        try:
            made = await access.sign_in(name, form.get("password"), form.get("code"), source)
        except Throttled as exc:
            return form_page(request, name=name, next_page=next_page, message=str(exc), status=429)
        except AuthenticationFailed as exc:
            return form_page(request, name=name, next_page=next_page, message=str(exc), status=401)
        # The browser's previous session, if it had one, ends: one id per sign-in.
        await access.discard(console.current_cookie(request))
        target = "/admin/password" if made.session.must_change_password else next_page
        response = RedirectResponse(target, status_code=303)
        console.set_session_cookie(response, request, made.cookie)
        console.clear_signin_cookie(response, request)
        return response

    async def sign_out(page: AdminRequest) -> Response:
        await access.sign_out(page.session, page.source)
        response = RedirectResponse(f"{SIGN_IN}?reason=bye", status_code=303)
        console.clear_session_cookie(response, page.request)
        return response

    def password_page(page: AdminRequest, *, message: str = "", status: int = 200) -> Response:
        return console.render(
            page.request,
            "password.html",
            {"forced": page.session.must_change_password, "message": message},
            session=page.session,
            status=status,
        )

    async def show_password(page: AdminRequest) -> Response:
        return password_page(page)

    async def change_password(page: AdminRequest) -> Response:
        new = page.form.get("new")
        if new != page.form.get("repeat"):
            return password_page(page, message="The two new passwords differ.", status=400)
        try:
            made = await access.change_password(
                page.session, page.form.get("current"), new, page.source
            )
        except (AuthenticationFailed, InvalidName) as exc:
            return password_page(page, message=str(exc), status=status_of(exc))
        response = RedirectResponse("/admin/services?done=password", status_code=303)
        console.set_session_cookie(response, page.request, made.cookie)
        return response

    return [
        Route(SIGN_IN, sign_in_page, methods=["GET"]),
        Route(SIGN_IN, sign_in, methods=["POST"]),
        Route("/admin/sign-out", console.page(sign_out, password_change_ok=True), methods=["POST"]),
        Route(
            "/admin/password",
            console.page(show_password, password_change_ok=True),
            methods=["GET"],
        ),
        Route(
            "/admin/password",
            console.page(change_password, password_change_ok=True),
            methods=["POST"],
        ),
    ]
