"""Manage → Aliases: list, search, add, change the targets of and remove aliases.

An alias delivers to one or more targets (accounts here or addresses
elsewhere), typed one per line or separated by commas. `postmaster@` and
`abuse@` of every domain are required (RFC 5321 §4.5.1, RFC 2142): they can
be pointed elsewhere but not removed, and the store says so.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from roost.core.errors import InvalidName, RoostError
from roost.store.types import Alias
from roost.web.admin.console import AdminRequest, Console
from roost.web.admin.domains import failed, paging, search_text
from roost.web.forms import PageError

_SEPARATORS = re.compile(r"[\s,;]+")
NOTICES = {
    "added": "The alias is added.",
    "targets": "The alias's targets are changed.",
    "removed": "The alias is removed.",
}


def alias_url(address: str, done: str = "") -> str:
    query = {"address": address, **({"done": done} if done else {})}
    return f"/admin/aliases/edit?{urlencode(query)}"


def parse_targets(text: str) -> tuple[str, ...]:
    targets = tuple(t for t in _SEPARATORS.split(text) if t)
    if not targets:
        raise InvalidName("type at least one target address")
    return targets


def alias_row(alias: Alias) -> dict[str, object]:
    return {"address": alias.address, "url": alias_url(alias.address), "targets": alias.targets}


def aliases_routes(console: Console) -> list[BaseRoute]:
    directory = console.web.directory
    page_size = console.settings.directory_page_size

    async def listing(page: AdminRequest, *, message: str = "", status: int = 200) -> Response:
        query = search_text(page.request)
        domain = search_text(page.request, "domain")
        pages = paging(page.request, page_size)
        try:
            found, total = await directory.find_aliases(
                query, domain=domain or None, limit=pages.size, offset=pages.offset
            )
        except InvalidName as exc:
            found, total = [], 0
            message, status = f"{exc}.", 400
        return console.render(
            page.request,
            "aliases.html",
            {
                "rows": [alias_row(a) for a in found],
                "q": query,
                "domain": domain,
                "total": total,
                "links": pages.links(total, "/admin/aliases", {"q": query, "domain": domain}),
                "message": message,
                "form": {"address": page.form.get("address"), "targets": page.form.get("targets")},
                "notice": NOTICES.get(page.request.query_params.get("done", ""), ""),
            },
            session=page.session,
            status=status,
        )

    async def show_list(page: AdminRequest) -> Response:
        return await listing(page)

    async def add(page: AdminRequest) -> Response:
        try:
            if not page.form.get("address").strip():
                raise InvalidName("type the alias's address (like sales@example.com)")
            alias = await directory.add_alias(
                page.actor, page.form.get("address"), parse_targets(page.form.get("targets"))
            )
        except RoostError as exc:
            message, status = failed(exc)
            return await listing(page, message=message, status=status)
        return RedirectResponse(alias_url(alias.address, "added"), status_code=303)

    def address_of(page: AdminRequest) -> str:
        address = (page.form.get("address") or page.request.query_params.get("address", "")).strip()
        if not address:
            raise PageError(400, "Name the alias: ?address=alias@example.com.")
        return address

    async def editor(page: AdminRequest, *, message: str = "", status: int = 200) -> Response:
        alias = await directory.alias(address_of(page))
        return console.render(
            page.request,
            "alias.html",
            {
                "alias": alias_row(alias),
                "targets_text": page.form.get("targets") or "\n".join(alias.targets),
                "message": message,
                "notice": NOTICES.get(page.request.query_params.get("done", ""), ""),
            },
            session=page.session,
            status=status,
        )

    async def show(page: AdminRequest) -> Response:
        return await editor(page)

    async def retarget(page: AdminRequest) -> Response:
        address = address_of(page)
        try:
            await directory.set_alias_targets(
                page.actor, address, parse_targets(page.form.get("targets"))
            )
        except RoostError as exc:
            message, status = failed(exc)
            return await editor(page, message=message, status=status)
        return RedirectResponse(alias_url(address, "targets"), status_code=303)

    async def confirm_remove(page: AdminRequest) -> Response:
        alias = await directory.alias(address_of(page))
        return console.render(
            page.request,
            "directory_confirm.html",
            {
                "nav": "aliases",
                "title": f"Remove the alias {alias.address}?",
                "effects": [
                    f"Mail to {alias.address} no longer reaches {', '.join(alias.targets)}.",
                ],
                "action": "/admin/aliases/remove",
                "fields": {"address": alias.address},
                "button": "Remove alias",
                "cancel": alias_url(alias.address),
            },
            session=page.session,
        )

    async def remove(page: AdminRequest) -> Response:
        try:
            await directory.remove_alias(page.actor, address_of(page))
        except RoostError as exc:
            message, status = failed(exc)
            return await editor(page, message=message, status=status)
        return RedirectResponse("/admin/aliases?done=removed", status_code=303)

    return [
        Route("/admin/aliases", console.page(show_list), methods=["GET"]),
        Route("/admin/aliases/add", console.page(add), methods=["POST"]),
        Route("/admin/aliases/edit", console.page(show), methods=["GET"]),
        Route("/admin/aliases/targets", console.page(retarget), methods=["POST"]),
        Route("/admin/aliases/remove", console.page(confirm_remove), methods=["GET"]),
        Route("/admin/aliases/remove", console.page(remove), methods=["POST"]),
    ]
