"""The webmail's settings pages: profile, vacation reply and set-up help.

/mail/settings            display name, signature, reply-to, time zone
/mail/settings/vacation   the vacation reply: on or off, first and last day,
                          subject, text, reply period (RFC 3834)
/mail/settings/setup      server names, ports and security for mail and chat apps
/mail/settings/accounts   the user's external accounts (`settings_accounts`)

Every change goes through `roost.control.user_settings`, which checks it and
says what is wrong; a refused form comes back with the user's input and the
reason. The set-up help comes from `roost.control.client_setup`, as the
autoconfig document does.
"""

from __future__ import annotations

from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from roost.control.client_setup import ClientSetup, Kind, client_setup
from roost.control.retrieval import PasswordCipher, RetrievalAdmin
from roost.control.user_settings import (
    Settings,
    SettingsRefused,
    UserSettings,
    parse_day,
    time_zones,
)
from roost.web.context import WebContext
from roost.web.webmail.pages import MailRequest, Webmail
from roost.web.webmail.settings_accounts import account_routes

SETTINGS = "/mail/settings"
VACATION = "/mail/settings/vacation"
SETUP = "/mail/settings/setup"
DONE_MESSAGES = {"saved": "Saved."}
SETUP_KINDS = (Kind.IMAP, Kind.POP3, Kind.SMTP, Kind.XMPP)


def settings_pages(web: WebContext, mail: Webmail) -> list[BaseRoute]:
    """Every settings page, made from the configuration."""
    config = web.config
    users = UserSettings(web.store, config.vacation)
    retrieval = RetrievalAdmin(web.store, config.retrieval, PasswordCipher(config.data_dir))
    return [
        *settings_routes(mail, users, client_setup(config)),
        *account_routes(mail, retrieval),
    ]


def done_message(page: MailRequest) -> str:
    return DONE_MESSAGES.get(page.request.query_params.get("done", ""), "")


def settings_routes(mail: Webmail, users: UserSettings, setup: ClientSetup) -> list[BaseRoute]:
    zones = sorted(time_zones())

    def profile_page(
        page: MailRequest,
        settings: Settings,
        form: dict[str, str] | None = None,
        *,
        message: str = "",
        status: int = 200,
    ) -> Response:
        values = form or {
            "display_name": settings.display_name,
            "signature": settings.signature,
            "reply_to": settings.reply_to,
            "time_zone": settings.time_zone,
        }
        context: dict[str, object] = {
            "title": "Settings",
            "section": "profile",
            "values": values,
            "zones": zones,
            "message": message,
            "done": done_message(page),
            "max_signature": users.limits.max_signature_chars,
        }
        return mail.render("settings.html", context, session=page.session, status=status)

    async def show_profile(page: MailRequest) -> Response:
        return profile_page(page, await users.get(page.session.address))

    async def save_profile(page: MailRequest) -> Response:
        form = {
            name: page.form.get(name)
            for name in ("display_name", "signature", "reply_to", "time_zone")
        }
        try:
            await users.update_profile(page.session.address, **form)
        except SettingsRefused as refused:
            settings = await users.get(page.session.address)
            return profile_page(page, settings, form, message=str(refused), status=400)
        return RedirectResponse(f"{SETTINGS}?done=saved", status_code=303)

    def vacation_page(
        page: MailRequest,
        settings: Settings,
        form: dict[str, str] | None = None,
        *,
        message: str = "",
        status: int = 200,
    ) -> Response:
        vacation = settings.vacation
        values = form or {
            "enabled": "yes" if vacation.enabled else "",
            "start": vacation.start.isoformat() if vacation.start else "",
            "end": vacation.end.isoformat() if vacation.end else "",
            "subject": vacation.subject,
            "text": vacation.text,
            "period_days": str(vacation.period_days) if vacation.own_period else "",
        }
        context: dict[str, object] = {
            "title": "Vacation reply",
            "section": "vacation",
            "values": values,
            "time_zone": settings.time_zone,
            "default_period": users.limits.default_period_days,
            "max_period": users.limits.max_period_days,
            "max_text": users.limits.max_text_chars,
            "max_subject": users.limits.max_subject_chars,
            "message": message,
            "done": done_message(page),
        }
        return mail.render("settings_vacation.html", context, session=page.session, status=status)

    async def show_vacation(page: MailRequest) -> Response:
        return vacation_page(page, await users.get(page.session.address))

    async def save_vacation(page: MailRequest) -> Response:
        form = {
            name: page.form.get(name)
            for name in ("enabled", "start", "end", "subject", "text", "period_days")
        }
        try:
            period_text = form["period_days"].strip()
            if period_text and not period_text.isdigit():
                raise SettingsRefused("The reply period is a whole number of days.")
            await users.update_vacation(
                page.session.address,
                enabled=form["enabled"] == "yes",
                start=parse_day(form["start"], "first day"),
                end=parse_day(form["end"], "last day"),
                subject=form["subject"],
                text=form["text"],
                period_days=int(period_text) if period_text else None,
            )
        except SettingsRefused as refused:
            settings = await users.get(page.session.address)
            return vacation_page(page, settings, form, message=str(refused), status=400)
        return RedirectResponse(f"{VACATION}?done=saved", status_code=303)

    async def show_setup(page: MailRequest) -> Response:
        groups = [(kind, setup.of(kind)) for kind in SETUP_KINDS]
        context: dict[str, object] = {
            "title": "Set up your apps",
            "section": "setup",
            "address": page.session.address,
            "groups": [(servers[0].title, servers) for _kind, servers in groups if servers],
            "autoconfig": "/.well-known/autoconfig/mail/config-v1.1.xml",
        }
        return mail.render("settings_setup.html", context, session=page.session)

    return [
        Route(SETTINGS, mail.page(show_profile), methods=["GET"]),
        Route(SETTINGS, mail.page(save_profile), methods=["POST"]),
        Route(VACATION, mail.page(show_vacation), methods=["GET"]),
        Route(VACATION, mail.page(save_vacation), methods=["POST"]),
        Route(SETUP, mail.page(show_setup), methods=["GET"]),
    ]
