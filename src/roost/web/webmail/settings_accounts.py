"""The user's external accounts on the settings pages (IMAP and POP Retrieval).

/mail/settings/accounts                 the list with status and last error, and the add form
/mail/settings/accounts/add             add (POST)
/mail/settings/accounts/{id}            edit form (GET) and edit (POST)
/mail/settings/accounts/{id}/run        fetch now (POST): the service takes it at its next tick
/mail/settings/accounts/{id}/remove     remove (POST)

Everything goes through `roost.control.retrieval.RetrievalAdmin` with the
signed-in user's address, never an address from the form: an account id of
another user is refused there ("... has no external account N"), so a user
can neither see nor touch another's accounts. Each change is an audit event
with the actor `user:ADDRESS`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from roost.control.directory import Actor
from roost.control.retrieval import RetrievalAdmin, default_port
from roost.control.webmail_access import user_actor
from roost.core.errors import RoostError
from roost.store.retrieval import NewRetrieval, Retrieval, RetrievalProtocol, TlsMode
from roost.web.forms import PageError, status_of
from roost.web.webmail.pages import MailRequest, Webmail

ACCOUNTS = "/mail/settings/accounts"
MAX_REMOTE_FOLDERS = 100
FIELDS = (
    "protocol",
    "host",
    "port",
    "tls",
    "username",
    "folder",
    "remote_folders",
    "leave_on_server",
    "enabled",
    "manual",
)
ACCOUNT_DONE = {
    "saved": "Saved.",
    "added": "The account was added.",
    "removed": "The account was removed.",
    "run": "Asked to fetch now: the status below changes when it is done.",
}
TLS_WORDS = {
    TlsMode.IMPLICIT: "SSL/TLS",
    TlsMode.STARTTLS: "STARTTLS",
    TlsMode.NONE: "none (loopback only)",
}


class FormRefused(RoostError):
    """A field of the account form that cannot be read (the reason in words)."""


def _choice(text: str, kind: type[RetrievalProtocol] | type[TlsMode], what: str) -> str:
    values = [v.value for v in kind]
    if text not in values:
        raise FormRefused(f"Choose the {what}: one of {', '.join(values)}.")
    return text


def spec_from_form(values: dict[str, str], current: NewRetrieval | None) -> NewRetrieval:
    """An external account from the form; what the form does not show keeps
    its current value (folder layout and map, intervals, APOP, ...)."""
    protocol = (
        current.protocol
        if current is not None
        else RetrievalProtocol(_choice(values["protocol"], RetrievalProtocol, "protocol"))
    )
    tls = TlsMode(_choice(values["tls"] or TlsMode.IMPLICIT.value, TlsMode, "security"))
    port_text = values["port"].strip()
    if not port_text:
        port = default_port(protocol, tls)
    elif port_text.isdigit() and len(port_text) <= 5:
        port = int(port_text)
    else:
        raise FormRefused(f"The port {port_text[:20]!r} is not a number.")
    folders = tuple(f.strip() for f in values["remote_folders"].split(",") if f.strip())
    if len(folders) > MAX_REMOTE_FOLDERS:
        raise FormRefused(f"Name at most {MAX_REMOTE_FOLDERS} remote folders.")
    if protocol is RetrievalProtocol.POP3:
        folders = ("INBOX",)
    base = current or NewRetrieval(protocol, "", 0, tls, "", password_encrypted="")
    return replace(
        base,
        host=values["host"].strip(),
        port=port,
        tls=tls,
        username=values["username"].strip(),
        folder=values["folder"].strip() or "INBOX",
        remote_folders=folders or ("INBOX",),
        leave_on_server=values["leave_on_server"] == "yes",
        enabled=values["enabled"] == "yes",
        manual=values["manual"] == "yes",
    )


def form_of(spec: NewRetrieval) -> dict[str, str]:
    return {
        "protocol": spec.protocol.value,
        "host": spec.host,
        "port": str(spec.port),
        "tls": spec.tls.value,
        "username": spec.username,
        "folder": spec.folder,
        "remote_folders": ", ".join(spec.remote_folders),
        "leave_on_server": "yes" if spec.leave_on_server else "",
        "enabled": "yes" if spec.enabled else "",
        "manual": "yes" if spec.manual else "",
    }


EMPTY_FORM = {
    "protocol": "imap",
    "host": "",
    "port": "",
    "tls": "implicit",
    "username": "",
    "folder": "INBOX",
    "remote_folders": "INBOX",
    "leave_on_server": "yes",
    "enabled": "yes",
    "manual": "",
}


def status_words(r: Retrieval) -> tuple[str, str]:
    """The account's state in words, and its CSS class."""
    status = r.status
    if status.run_requested_at is not None:
        return "waiting to fetch", "absent"
    if status.last_attempt_at is None:
        return "not fetched yet", "absent"
    if status.last_error:
        return "failed", "error"
    return "OK", "notice"


def row_of(r: Retrieval) -> dict[str, object]:
    words, css = status_words(r)
    status = r.status
    return {
        "id": r.id,
        "protocol": r.spec.protocol.value.upper(),
        "server": f"{r.spec.host}:{r.spec.port}",
        "tls": TLS_WORDS[r.spec.tls],
        "username": r.spec.username,
        "folder": r.spec.folder,
        "enabled": r.spec.enabled,
        "manual": r.spec.manual,
        "status": words,
        "status_class": css,
        "last_attempt": _when(status.last_attempt_at),
        "last_success": _when(status.last_success_at),
        "last_error": status.last_error or "",
        "last_fetched": status.last_fetched,
        "total_fetched": status.total_fetched,
    }


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value is not None else ""


def account_routes(mail: Webmail, admin: RetrievalAdmin) -> list[BaseRoute]:
    def actor(page: MailRequest) -> Actor:
        return Actor(user_actor(page.session.address), page.source)

    def read(page: MailRequest) -> dict[str, str]:
        return {name: page.form.get(name) for name in FIELDS}

    async def list_page(
        page: MailRequest,
        form: dict[str, str] | None = None,
        *,
        message: str = "",
        status: int = 200,
    ) -> Response:
        accounts = await admin.list(page.session.address)
        context: dict[str, object] = {
            "title": "External accounts",
            "section": "accounts",
            "accounts": [row_of(r) for r in accounts],
            "values": form or EMPTY_FORM,
            "message": message,
            "done": ACCOUNT_DONE.get(page.request.query_params.get("done", ""), ""),
        }
        return mail.render("settings_accounts.html", context, session=page.session, status=status)

    def edit_page(
        page: MailRequest,
        account: Retrieval,
        form: dict[str, str] | None = None,
        *,
        message: str = "",
        status: int = 200,
    ) -> Response:
        context: dict[str, object] = {
            "title": "Edit external account",
            "section": "accounts",
            "account": row_of(account),
            "values": form or form_of(account.spec),
            "message": message,
        }
        return mail.render(
            "settings_account_edit.html", context, session=page.session, status=status
        )

    def rid(page: MailRequest) -> int:
        text = str(page.request.path_params["id"])
        if not text.isdigit() or len(text) > 12:
            raise PageError(404, f"There is no external account {text[:20]!r}.")
        return int(text)

    async def show(page: MailRequest) -> Response:
        return await list_page(page)

    async def add(page: MailRequest) -> Response:
        values = read(page)
        password = page.form.get("password")
        try:
            if not password:
                raise FormRefused("Give the password of the external account.")
            spec = spec_from_form(values, None)
            await admin.add(actor(page), page.session.address, spec, password)
        except RoostError as refused:
            return await list_page(page, values, message=str(refused), status=status_of(refused))
        return RedirectResponse(f"{ACCOUNTS}?done=added", status_code=303)

    async def show_one(page: MailRequest) -> Response:
        return edit_page(page, await admin.show(page.session.address, rid(page)))

    async def edit(page: MailRequest) -> Response:
        number = rid(page)
        current = await admin.show(page.session.address, number)
        values = read(page)
        try:
            spec = spec_from_form(values, current.spec)
            password = page.form.get("password") or None
            await admin.edit(actor(page), page.session.address, number, spec, password)
        except RoostError as refused:
            values["protocol"] = current.spec.protocol.value
            return edit_page(page, current, values, message=str(refused), status=status_of(refused))
        return RedirectResponse(f"{ACCOUNTS}?done=saved", status_code=303)

    async def run(page: MailRequest) -> Response:
        await admin.request_run(actor(page), page.session.address, rid(page))
        return RedirectResponse(f"{ACCOUNTS}?done=run", status_code=303)

    async def remove(page: MailRequest) -> Response:
        await admin.remove(actor(page), page.session.address, rid(page))
        return RedirectResponse(f"{ACCOUNTS}?done=removed", status_code=303)

    return [
        Route(ACCOUNTS, mail.page(show), methods=["GET"]),
        Route(f"{ACCOUNTS}/add", mail.page(add), methods=["POST"]),
        Route(f"{ACCOUNTS}/{{id}}", mail.page(show_one), methods=["GET"]),
        Route(f"{ACCOUNTS}/{{id}}", mail.page(edit), methods=["POST"]),
        Route(f"{ACCOUNTS}/{{id}}/run", mail.page(run), methods=["POST"]),
        Route(f"{ACCOUNTS}/{{id}}/remove", mail.page(remove), methods=["POST"]),
    ]
