"""The admin console under /admin: sign-in, the dashboard, Spool, Services, Domains, Users,
Aliases, Certificates, Events and audit, the own account.

Server-rendered pages (Jinja2) with one stylesheet and one small script of
our own, served from here; see `console` for what every page shares.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from roost.control.admin_access import AdminAccess
from roost.web.admin.account import account_routes
from roost.web.admin.aliases import aliases_routes
from roost.web.admin.certificates import certificates_routes
from roost.web.admin.console import Console
from roost.web.admin.dashboard import dashboard_routes
from roost.web.admin.domains import domains_routes
from roost.web.admin.events import events_routes
from roost.web.admin.services import services_routes
from roost.web.admin.signin import signin_routes
from roost.web.admin.spool import spool_routes
from roost.web.admin.users import users_routes
from roost.web.context import WebContext


def admin_routes(web: WebContext, access: AdminAccess) -> list[BaseRoute]:
    console = Console(web, access)

    async def not_found(request: Request) -> Response:
        lookup = await access.lookup(console.current_cookie(request), activity=False)
        return console.error_page(
            request, lookup.session, 404, f"There is no page {request.url.path}."
        )

    return [
        *dashboard_routes(console, sources=[web.certificates.warnings] if web.certificates else []),
        *signin_routes(console),
        *spool_routes(console),
        *services_routes(console),
        *events_routes(console),
        *account_routes(console),
        *certificates_routes(console),
        *domains_routes(console),
        *users_routes(console),
        *aliases_routes(console),
        Route("/admin/static/{name}", console.static_file, methods=["GET"]),
        Route("/admin/{rest:path}", not_found),
    ]
