"""Manage → Domains: list, search, add and remove mail domains; per domain, its DKIM key
and every DNS record to publish, with a check of what the DNS serves now.

`/admin/domains` lists the domains (search by any part of the name, pages of
`[admin] directory_page_size`) with a form to add one. `/admin/domains/{name}`
shows one: its users and aliases, its DKIM selectors (generate a key, make a
selector active) and the records of `roost.control.dns_records`; its Check
button asks the configured resolver and marks each record found, missing or
different. Removing a domain asks for confirmation on a page of its own.
Every change goes through the control layer, which writes the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from roost.control import dns_records
from roost.control.dkim_keys import DomainDkim
from roost.control.mailauth.keys import DkimKeyError
from roost.core.errors import RoostError
from roost.net.dns import Resolver
from roost.web.admin.console import AdminRequest, Console
from roost.web.forms import PageError, status_of

MAX_SEARCH_CHARS = 200
UNCHANGED = "Nothing was changed."


@dataclass(frozen=True, slots=True)
class Paging:
    """Page N of a listing (from 1), and the links to its neighbours."""

    number: int
    size: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    def links(self, total: int, base: str, query: dict[str, str]) -> dict[str, str]:
        kept = {k: v for k, v in query.items() if v}
        out = {}
        if self.number > 1:
            out["previous"] = f"{base}?{urlencode({**kept, 'page': self.number - 1})}"
        if self.offset + self.size < total:
            out["next"] = f"{base}?{urlencode({**kept, 'page': self.number + 1})}"
        return out


def paging(request: Request, size: int) -> Paging:
    text = request.query_params.get("page", "1").strip() or "1"
    if not text.isdigit() or int(text) < 1 or len(text) > 9:
        raise PageError(400, f"'page' must be a page number (1, 2, ...), not {text[:20]!r}.")
    return Paging(int(text), size)


def search_text(request: Request, name: str = "q") -> str:
    return request.query_params.get(name, "")[:MAX_SEARCH_CHARS].strip()


def failed(exc: RoostError) -> tuple[str, int]:
    """The message and status of a refused change, saying that nothing changed."""
    message = str(exc)
    return f"{message[:1].upper()}{message[1:]}. {UNCHANGED}", status_of(exc)


def domain_url(name: str) -> str:
    return f"/admin/domains/{quote(name, safe='')}"


def domains_routes(console: Console) -> list[BaseRoute]:
    web = console.web
    directory = web.directory
    config = web.config
    dkim = DomainDkim(web.store, config.data_dir)
    resolver = web.resolver or Resolver(config.dns.nameservers, config.dns.timeout_s)
    page_size = console.settings.directory_page_size

    async def listing(
        page: AdminRequest, *, message: str = "", status: int = 200, name: str = ""
    ) -> Response:
        query = search_text(page.request)
        pages = paging(page.request, page_size)
        found, total = await directory.find_domains(query, limit=pages.size, offset=pages.offset)
        return console.render(
            page.request,
            "domains.html",
            {
                "rows": [
                    {
                        "name": s.domain.name,
                        "url": domain_url(s.domain.name),
                        "users": s.accounts,
                        "aliases": s.aliases,
                        "catch_all": s.domain.catch_all or "",
                    }
                    for s in found
                ],
                "q": query,
                "total": total,
                "links": pages.links(total, "/admin/domains", {"q": query}),
                "message": message,
                "name": name,
                "notice": _notice(page.request),
            },
            session=page.session,
            status=status,
        )

    async def show_list(page: AdminRequest) -> Response:
        return await listing(page)

    async def add(page: AdminRequest) -> Response:
        name = page.form.get("name")
        if not name.strip():
            return await listing(page, message=f"Type a domain name. {UNCHANGED}", status=400)
        try:
            added = await directory.add_domain(page.actor, name)
        except RoostError as exc:
            message, status = failed(exc)
            return await listing(page, message=message, status=status, name=name)
        return RedirectResponse(f"{domain_url(added.name)}?done=added", status_code=303)

    async def detail(
        page: AdminRequest,
        *,
        checked: bool = False,
        message: str = "",
        status: int = 200,
    ) -> Response:
        domain = await directory.domain(page.request.path_params["name"])
        try:
            keys = await dkim.keys_of(domain.name)
            key_problem = ""
        except DkimKeyError as exc:
            keys, key_problem = None, str(exc)
        active = keys.active if keys else None
        records = dns_records.records_for(domain.name, config, active.records if active else ())
        results: dict[tuple[str, str], dns_records.CheckedRecord] = {}
        if checked:
            for one in await dns_records.check(resolver, records, config.dns.check_concurrency):
                results[(one.record.name, one.record.rtype)] = one
        _, users = await directory.find_users("", domain=domain.name, limit=1, offset=0)
        _, aliases = await directory.find_aliases("", domain=domain.name, limit=1, offset=0)
        rows = []
        for record in records:
            result = results.get((record.name, record.rtype))
            rows.append(
                {
                    "name": record.name,
                    "type": record.rtype,
                    "value": record.value,
                    "purpose": record.purpose,
                    "zone": record.zone_line(),
                    "state": result.state.value if result else "",
                    "found": list(result.found) if result else [],
                    "detail": result.detail if result else "",
                }
            )
        return console.render(
            page.request,
            "domain.html",
            {
                "domain": domain.name,
                "url": domain_url(domain.name),
                "catch_all": domain.catch_all or "",
                "domain_aliases": [a.name for a in await directory.domain_aliases_of(domain.name)],
                "users": users,
                "aliases": aliases,
                "selectors": [
                    {"name": s.selector, "active": s.active}
                    for s in (keys.selectors if keys else ())
                ],
                "key_problem": key_problem,
                "records": rows,
                "checked": checked,
                "counts": {
                    state.value: sum(1 for r in results.values() if r.state is state)
                    for state in dns_records.RecordState
                },
                "mail_host": dns_records.mail_host(config),
                "nameservers": ", ".join(config.dns.nameservers) or "those of /etc/resolv.conf",
                "message": message,
                "notice": _notice(page.request),
            },
            session=page.session,
            status=status,
        )

    async def show(page: AdminRequest) -> Response:
        return await detail(page)

    async def check(page: AdminRequest) -> Response:
        return await detail(page, checked=True)

    async def generate(page: AdminRequest) -> Response:
        name = page.request.path_params["name"]
        try:
            await dkim.generate(page.actor, name)
        except DkimKeyError as exc:
            message, status = failed(exc)
            return await detail(page, message=message, status=status)
        return RedirectResponse(f"{domain_url(name)}?done=dkim", status_code=303)

    async def activate(page: AdminRequest) -> Response:
        name = page.request.path_params["name"]
        try:
            await dkim.activate(page.actor, name, page.form.get("selector"))
        except DkimKeyError as exc:
            message, status = failed(exc)
            return await detail(page, message=message, status=status)
        return RedirectResponse(f"{domain_url(name)}?done=activated", status_code=303)

    async def confirm_remove(page: AdminRequest) -> Response:
        domain = await directory.domain(page.request.path_params["name"])
        _, users = await directory.find_users("", domain=domain.name, limit=1, offset=0)
        return console.render(
            page.request,
            "directory_confirm.html",
            {
                "nav": "domains",
                "title": f"Remove the domain {domain.name}?",
                "effects": [
                    f"Mail to {domain.name} is refused from then on, and its aliases are removed.",
                    "Its DKIM keys stay in the data folder.",
                    *(
                        [f"It still has {users} user(s): remove them first, or this is refused."]
                        if users
                        else []
                    ),
                ],
                "action": f"{domain_url(domain.name)}/remove",
                "fields": {},
                "button": "Remove domain",
                "cancel": domain_url(domain.name),
            },
            session=page.session,
        )

    async def remove(page: AdminRequest) -> Response:
        name = page.request.path_params["name"]
        try:
            await directory.remove_domain(page.actor, name)
        except RoostError as exc:
            message, status = failed(exc)
            return await detail(page, message=message, status=status)
        return RedirectResponse("/admin/domains?done=removed", status_code=303)

    return [
        Route("/admin/domains", console.page(show_list), methods=["GET"]),
        Route("/admin/domains/add", console.page(add), methods=["POST"]),
        Route("/admin/domains/{name}", console.page(show), methods=["GET"]),
        Route("/admin/domains/{name}/check", console.page(check), methods=["GET"]),
        Route("/admin/domains/{name}/dkim", console.page(generate), methods=["POST"]),
        Route("/admin/domains/{name}/dkim/activate", console.page(activate), methods=["POST"]),
        Route("/admin/domains/{name}/remove", console.page(confirm_remove), methods=["GET"]),
        Route("/admin/domains/{name}/remove", console.page(remove), methods=["POST"]),
    ]


NOTICES = {
    "added": "The domain is added. Publish its DNS records below.",
    "removed": "The domain is removed.",
    "dkim": "A DKIM key is made: publish its TXT records. A domain's first key signs at once; "
    "a later one only once you make it active.",
    "activated": "The selector is active: mail is signed with it from now on.",
}


def _notice(request: Request) -> str:
    return NOTICES.get(request.query_params.get("done", ""), "")
