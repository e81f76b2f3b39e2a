"""Manage → Users: list, search, add, edit (quota, enabled, password) and remove accounts.

`/admin/users` lists accounts (search by any part of the address or display
name, narrow to one domain, pages of `[admin] directory_page_size`) with a
form to add one. `/admin/users/edit?address=A` shows one account with a form
per change. Addresses travel in the query or the form, never in the path (a
local part may hold a `/`).

Disabling a user, changing their password or removing them goes through
`DirectoryAdmin`, which audits it and ends the user's open sessions in every
service (the control layer's session registry). A password left empty is
generated and shown once, on the page that answers the form.
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from roost.control.directory import MIB
from roost.control.index_admin import rebuild_index
from roost.core.errors import InvalidName, RoostError
from roost.store.types import Account
from roost.web.admin.console import AdminRequest, Console
from roost.web.admin.domains import failed, paging, search_text
from roost.web.api_index import account_index
from roost.web.forms import PageError

MAX_QUOTA_MB = 1 << 30
"""1 PiB: a quota past it is a typing mistake (the column holds bytes in 63 bits)."""
NOTICES = {
    "added": "The user is added.",
    "quota": "The quota is changed.",
    "enabled": "The user is enabled: they can sign in again.",
    "disabled": "The user is disabled: their open sessions are ended and they cannot sign in.",
    "password": "The password is changed: the user's open sessions are ended.",
    "removed": "The user is removed, with their mail.",
    "reindexed": "The user's index is being rebuilt: searches scan their mail meanwhile.",
}


def user_url(address: str, done: str = "") -> str:
    query = {"address": address, **({"done": done} if done else {})}
    return f"/admin/users/edit?{urlencode(query)}"


def parse_quota(text: str) -> int | None:
    """Quota in MiB from a form: empty means the default; 0 means unlimited."""
    text = text.strip()
    if not text:
        return None
    if not text.isdigit() or int(text) > MAX_QUOTA_MB:
        raise InvalidName(
            f"the quota must be a whole number of MiB from 0 (unlimited) to {MAX_QUOTA_MB}, "
            f"not {text[:20]!r}"
        )
    return int(text)


def size_text(octets: int) -> str:
    if octets >= MIB:
        return f"{octets / MIB:.1f} MiB"
    return f"{octets / 1024:.0f} KiB"


def account_row(account: Account) -> dict[str, object]:
    return {
        "address": account.address,
        "url": user_url(account.address),
        "display_name": account.display_name,
        "enabled": account.enabled,
        "quota": f"{account.quota_bytes // MIB} MiB" if account.quota_bytes else "unlimited",
        "quota_mb": account.quota_bytes // MIB,
        "used": size_text(account.used_bytes),
        "messages": account.used_messages,
    }


def users_routes(console: Console) -> list[BaseRoute]:
    directory = console.web.directory
    page_size = console.settings.directory_page_size

    async def listing(
        page: AdminRequest, *, message: str = "", status: int = 200, generated: str = ""
    ) -> Response:
        query = search_text(page.request)
        domain = search_text(page.request, "domain")
        pages = paging(page.request, page_size)
        try:
            found, total = await directory.find_users(
                query, domain=domain or None, limit=pages.size, offset=pages.offset
            )
        except InvalidName as exc:
            found, total = [], 0
            message, status = f"{exc}.", 400
        return console.render(
            page.request,
            "users.html",
            {
                "rows": [account_row(a) for a in found],
                "q": query,
                "domain": domain,
                "total": total,
                "links": pages.links(total, "/admin/users", {"q": query, "domain": domain}),
                "message": message,
                "form": {
                    "address": page.form.get("address"),
                    "display_name": page.form.get("display_name"),
                    "quota_mb": page.form.get("quota_mb"),
                },
                "notice": NOTICES.get(page.request.query_params.get("done", ""), ""),
            },
            session=page.session,
            status=status,
        )

    async def show_list(page: AdminRequest) -> Response:
        return await listing(page)

    async def add(page: AdminRequest) -> Response:
        form = page.form
        try:
            if not form.get("address").strip():
                raise InvalidName("type the new user's address (like ana@example.com)")
            quota = parse_quota(form.get("quota_mb"))
            account, generated = await directory.add_user(
                page.actor,
                form.get("address"),
                form.get("password") or None,
                display_name=form.get("display_name").strip(),
                quota_mb=quota,
            )
        except RoostError as exc:
            message, status = failed(exc)
            return await listing(page, message=message, status=status)
        if generated:
            return await editor(page, account.address, notice=NOTICES["added"], generated=generated)
        return RedirectResponse(user_url(account.address, "added"), status_code=303)

    async def editor(
        page: AdminRequest,
        address: str,
        *,
        notice: str = "",
        generated: str = "",
        message: str = "",
        status: int = 200,
    ) -> Response:
        account = await directory.user(address)
        index = await account_index(console.web, account.address)
        return console.render(
            page.request,
            "user.html",
            {
                "user": account_row(account),
                "index": index,
                "notice": notice or NOTICES.get(page.request.query_params.get("done", ""), ""),
                "generated": generated,
                "message": message,
            },
            session=page.session,
            status=status,
        )

    def address_of(page: AdminRequest) -> str:
        address = (page.form.get("address") or page.request.query_params.get("address", "")).strip()
        if not address:
            raise PageError(400, "Name the user: ?address=user@example.com.")
        return address

    async def show(page: AdminRequest) -> Response:
        return await editor(page, address_of(page))

    async def change(page: AdminRequest, action: str) -> Response:
        address = address_of(page)
        actor = page.actor
        generated = None
        try:
            match action:
                case "quota":
                    quota = parse_quota(page.form.get("quota_mb"))
                    if quota is None:
                        raise InvalidName("type the quota in MiB (0 for unlimited)")
                    await directory.set_quota(actor, address, quota)
                    done = "quota"
                case "enabled":
                    wanted = page.form.get("enabled")
                    if wanted not in ("yes", "no"):
                        raise InvalidName("'enabled' is yes or no")
                    await directory.set_enabled(actor, address, wanted == "yes")
                    done = "enabled" if wanted == "yes" else "disabled"
                case _:
                    password = page.form.get("password")
                    if password != page.form.get("repeat"):
                        raise InvalidName("the two passwords differ")
                    generated = await directory.set_password(actor, address, password or None)
                    done = "password"
        except RoostError as exc:
            message, status = failed(exc)
            return await editor(page, address, message=message, status=status)
        if generated:
            return await editor(page, address, notice=NOTICES[done], generated=generated)
        return RedirectResponse(user_url(address, done), status_code=303)

    async def quota(page: AdminRequest) -> Response:
        return await change(page, "quota")

    async def enabled(page: AdminRequest) -> Response:
        return await change(page, "enabled")

    async def password(page: AdminRequest) -> Response:
        return await change(page, "password")

    async def reindex(page: AdminRequest) -> Response:
        address = address_of(page)
        try:
            await rebuild_index(console.web.store, page.actor, address)
        except RoostError as exc:
            message, status = failed(exc)
            return await editor(page, address, message=message, status=status)
        return RedirectResponse(user_url(address, "reindexed"), status_code=303)

    async def confirm_remove(page: AdminRequest) -> Response:
        account = await directory.user(address_of(page))
        return console.render(
            page.request,
            "directory_confirm.html",
            {
                "nav": "users",
                "title": f"Remove the user {account.address}?",
                "effects": [
                    f"Their {account.used_messages} message(s) ({size_text(account.used_bytes)}) "
                    "and folders are deleted; this cannot be undone.",
                    "Their open sessions in every service are ended.",
                    "Aliases stop delivering to them.",
                ],
                "action": "/admin/users/remove",
                "fields": {"address": account.address},
                "button": "Remove user",
                "cancel": user_url(account.address),
            },
            session=page.session,
        )

    async def remove(page: AdminRequest) -> Response:
        address = address_of(page)
        try:
            await directory.remove_user(page.actor, address)
        except RoostError as exc:
            message, status = failed(exc)
            return await editor(page, address, message=message, status=status)
        return RedirectResponse("/admin/users?done=removed", status_code=303)

    return [
        Route("/admin/users", console.page(show_list), methods=["GET"]),
        Route("/admin/users/add", console.page(add), methods=["POST"]),
        Route("/admin/users/edit", console.page(show), methods=["GET"]),
        Route("/admin/users/quota", console.page(quota), methods=["POST"]),
        Route("/admin/users/enabled", console.page(enabled), methods=["POST"]),
        Route("/admin/users/password", console.page(password), methods=["POST"]),
        Route("/admin/users/reindex", console.page(reindex), methods=["POST"]),
        Route("/admin/users/remove", console.page(confirm_remove), methods=["GET"]),
        Route("/admin/users/remove", console.page(remove), methods=["POST"]),
    ]
