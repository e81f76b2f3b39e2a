"""The Starlette application on the web listener: API, health, metrics, admin console,
webmail (under /mail).
"""

from __future__ import annotations

import dataclasses

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from roost.control.admin_access import AdminAccess
from roost.control.auth import Authenticator
from roost.control.intake import Intake
from roost.control.passwords import Passwords
from roost.control.submission import SubmissionPolicy
from roost.control.throttle import Throttle
from roost.control.webmail_access import WebmailAccess
from roost.supervisor.service import ServiceState
from roost.web.admin import admin_routes
from roost.web.api import api_routes
from roost.web.api_index import index_routes
from roost.web.api_queue import queue_routes
from roost.web.api_search import search_routes
from roost.web.autoconfig import autoconfig_routes
from roost.web.context import WebContext
from roost.web.dav import dav_routes
from roost.web.metrics import render_metrics
from roost.web.webmail import webmail_routes

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}


def create_app(web: WebContext) -> Starlette:
    web = with_sending(web)

    async def healthz(request: Request) -> Response:
        """Liveness (the process answers) and readiness (every wanted service runs)."""
        statuses = web.supervisor.statuses()
        not_ready = [
            s.name
            for s in statuses
            if s.desired is ServiceState.RUNNING and s.state is not ServiceState.RUNNING
        ]
        body = {
            "live": True,
            "ready": not not_ready,
            "not_running": not_ready,
            "node": web.supervisor.node,
        }
        return JSONResponse(body, status_code=200 if not not_ready else 503)

    async def metrics(request: Request) -> Response:
        text, content_type = render_metrics(web.supervisor)
        return Response(text, media_type=content_type)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code)

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/metrics", metrics),
            *api_routes(web),
            *index_routes(web),
            *queue_routes(web),
            *search_routes(web),
            *admin_routes(web, web.admin_access or default_admin_access(web)),
            *autoconfig_routes(web),
            *webmail_routes(web, web.webmail_access or default_webmail_access(web)),
            *(web.web_routes.routes() if web.web_routes is not None else ()),
            *dav_routes(web.config, web.store, web.authenticator or default_authenticator(web)),
        ],
        exception_handlers={HTTPException: http_error},
        middleware=[Middleware(SecurityHeaders)],
    )


def with_sending(web: WebContext) -> WebContext:
    """The context with the intake and submission policy every page that sends mail
    (compose, invitations) shares, made here when the composition root gave none
    (the CLI's in-process API, tests): one policy, one hourly count."""
    if web.intake is not None and web.submission is not None:
        return web
    clock = web.store.clock
    return dataclasses.replace(
        web,
        intake=web.intake or Intake(web.store, web.config.spool, clock),
        submission=web.submission or SubmissionPolicy.of(web.config, web.store, clock),
    )


def default_admin_access(web: WebContext) -> AdminAccess:
    """Admin sign-in for an app made without one (the CLI's in-process API, tests)."""
    config = web.config
    return AdminAccess(
        web.store,
        Passwords(config.directory),
        web.directory,
        config.admin,
        Throttle(config.auth, web.store.clock),
        web.store.clock,
    )


def default_authenticator(web: WebContext) -> Authenticator:
    """Mail users' password check for an app made without one (the CLI, tests)."""
    config = web.config
    return Authenticator(
        web.store, Passwords(config.directory), config.auth, config.directory, web.store.clock
    )


def default_webmail_access(web: WebContext) -> WebmailAccess:
    """Webmail sign-in for an app made without one (the CLI's in-process API, tests)."""
    config = web.config
    clock = web.store.clock
    auth = Authenticator(
        web.store, Passwords(config.directory), config.auth, config.directory, clock
    )
    return WebmailAccess(web.store, auth, web.directory, config.webmail, clock)


class SecurityHeaders:
    """Adds the headers every response carries, unless a route set its own."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [
                    (name.lower().encode(), value.encode())
                    for name, value in SECURITY_HEADERS.items()
                    if name.lower().encode() not in present
                ]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self._app(scope, receive, send_with_headers)
