"""The signed-in admin's own account: two-step sign-in (TOTP) on and off.

Turning it on takes two steps: a new secret is made and shown (as an
otpauth URI, its QR code and the secret in text), and it takes effect only
when a code from the app is typed back, so that a mistyped secret never
locks an admin out. Turning it off asks for the password.
"""

from __future__ import annotations

import segno
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from roost.core.errors import AuthenticationFailed, InvalidName
from roost.web.admin.console import AdminRequest, Console
from roost.web.forms import status_of

QR_SCALE = 5


def qr_data_uri(uri: str) -> str:
    """The otpauth URI as a QR code, an SVG data URI for an `<img>` (CSP: img-src data:)."""
    return str(segno.make(uri, error="m").svg_data_uri(scale=QR_SCALE))


def account_routes(console: Console) -> list[BaseRoute]:
    access = console.access

    async def render(page: AdminRequest, *, message: str = "", status: int = 200) -> Response:
        second = await access.totp_of(page.session)
        enrolment = None
        if second is not None and not second.enabled:
            uri = access.totp_uri(second.secret, page.session)
            enrolment = {
                "secret": " ".join(
                    second.secret[i : i + 4] for i in range(0, len(second.secret), 4)
                ),
                "uri": uri,
                "qr": qr_data_uri(uri),
            }
        done = page.request.query_params.get("done", "")
        return console.render(
            page.request,
            "account.html",
            {
                "totp_on": second is not None and second.enabled,
                "enrolment": enrolment,
                "message": message,
                "notice": {
                    "on": "Two-step sign-in is on.",
                    "off": "Two-step sign-in is off.",
                }.get(done, ""),
                "window_steps": console.settings.totp_window_steps,
            },
            session=page.session,
            status=status,
        )

    async def show(page: AdminRequest) -> Response:
        return await render(page)

    async def begin(page: AdminRequest) -> Response:
        try:
            await access.begin_totp(page.session)
        except InvalidName as exc:
            return await render(page, message=str(exc), status=409)
        return await render(page)

    async def confirm(page: AdminRequest) -> Response:
        try:
            await access.confirm_totp(page.session, page.form.get("code"), page.source)
        except (AuthenticationFailed, InvalidName) as exc:
            return await render(page, message=str(exc), status=status_of(exc))
        return _see(page, "on")

    async def disable(page: AdminRequest) -> Response:
        try:
            await access.disable_totp(page.session, page.form.get("password"), page.source)
        except AuthenticationFailed as exc:
            return await render(page, message=str(exc), status=401)
        return _see(page, "off")

    return [
        Route("/admin/account", console.page(show), methods=["GET"]),
        Route("/admin/account/totp/begin", console.page(begin), methods=["POST"]),
        Route("/admin/account/totp/confirm", console.page(confirm), methods=["POST"]),
        Route("/admin/account/totp/disable", console.page(disable), methods=["POST"]),
    ]


def _see(page: AdminRequest, done: str) -> Response:
    return RedirectResponse(f"/admin/account?done={done}", status_code=303)
