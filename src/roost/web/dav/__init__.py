"""CalDAV (RFC 4791) and CardDAV (RFC 6352) on the web listener, under /dav.

Each request is authenticated with HTTP Basic (RFC 7617) through the shared
`Authenticator` (its throttle applies), only over TLS or where `[auth]
plaintext_on_loopback` allows. Discovery (RFC 6764): /.well-known/caldav and
/.well-known/carddav redirect to /dav/, whose current-user-principal leads
to the homes. The rules and parsing live in `roost.control.groupware`.
"""

from __future__ import annotations

from starlette.routing import Route

from roost.control.auth import Authenticator
from roost.control.groupware import Groupware
from roost.core.config import Config
from roost.store.store import Store
from roost.web.dav.handlers import METHODS, DavHandler, well_known


def dav_routes(config: Config, store: Store, auth: Authenticator) -> list[Route]:
    handler = DavHandler(Groupware(store, config.dav), auth)
    return [
        Route("/.well-known/caldav", well_known, methods=METHODS),
        Route("/.well-known/carddav", well_known, methods=METHODS),
        Route("/dav", handler.handle, methods=METHODS),
        Route("/dav/{path:path}", handler.handle, methods=METHODS),
    ]
