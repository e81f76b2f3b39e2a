"""The JSON API under /api/v1: services, domains, accounts, aliases, admins, tokens, events.

Every call needs an admin token (see `api_auth`); every call that changes
state records its actor in the event log (the supervisor and the directory
changes in `control` do it).
"""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import Route

from roost.control import views as serialize
from roost.control.directory import Actor
from roost.store.settings import JsonValue
from roost.web.api_common import Endpoint, Handler, must, text
from roost.web.api_common import endpoint as make_endpoint
from roost.web.api_common import payload as read_payload
from roost.web.api_retrieval import retrieval_routes
from roost.web.context import WebContext
from roost.web.service_view import unit as unit_view

SERVICE_ACTIONS = ("start", "stop", "restart")
MAX_EVENTS = 1000


def api_routes(web: WebContext) -> list[Route]:
    def endpoint(handler: Handler, status: int = 200) -> Endpoint:
        return make_endpoint(web, handler, status)

    async def payload(request: Request) -> dict[str, Any]:
        return await read_payload(web, request)

    sup = web.supervisor
    store = web.store
    directory = web.directory

    # --- services

    async def list_services(request: Request, actor: Actor) -> JsonValue:
        return [unit_view(s) for s in sup.statuses()]

    async def get_service(request: Request, actor: Actor) -> JsonValue:
        return unit_view(sup.status(request.path_params["name"]))

    async def service_action(request: Request, actor: Actor) -> JsonValue:
        action = request.path_params["action"]
        if action not in SERVICE_ACTIONS:
            raise HTTPException(
                404, f"no action {action!r} (actions: {', '.join(SERVICE_ACTIONS)})"
            )
        data = await payload(request)
        names = data.get("names")
        if names is None:
            names = [request.path_params["name"]] if "name" in request.path_params else []
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise HTTPException(400, "'names' must be a non-empty list of service names")
        resolved = [sup.resolve(n) for n in names]
        operation = {"start": sup.start, "stop": sup.stop, "restart": sup.restart}[action]
        results = [await operation(n, actor.name, actor.source_address) for n in resolved]
        return [unit_view(s) for s in results]

    # --- domains

    async def list_domains(request: Request, actor: Actor) -> JsonValue:
        return [serialize.domain(d) for d in await store.read(store.directory.domains)]

    async def add_domain(request: Request, actor: Actor) -> JsonValue:
        data = await payload(request)
        return serialize.domain(await directory.add_domain(actor, must(data, "name")))

    async def remove_domain(request: Request, actor: Actor) -> JsonValue:
        await directory.remove_domain(actor, request.path_params["name"])
        return {"removed": request.path_params["name"]}

    async def set_catch_all(request: Request, actor: Actor) -> JsonValue:
        data = await payload(request)
        target = text(data, "target", required=False)
        await directory.set_catch_all(actor, request.path_params["name"], target)
        return serialize.domain(
            await store.read(store.directory.domain, request.path_params["name"])
        )

    async def list_domain_aliases(request: Request, actor: Actor) -> JsonValue:
        return [serialize.domain_alias(a) for a in await store.read(store.directory.domain_aliases)]

    async def add_domain_alias(request: Request, actor: Actor) -> JsonValue:
        data = await payload(request)
        added = await directory.add_domain_alias(actor, must(data, "name"), must(data, "domain"))
        return serialize.domain_alias(added)

    async def remove_domain_alias(request: Request, actor: Actor) -> JsonValue:
        await directory.remove_domain_alias(actor, request.path_params["name"])
        return {"removed": request.path_params["name"]}

    # --- accounts

    async def list_accounts(request: Request, actor: Actor) -> JsonValue:
        domain = request.query_params.get("domain")
        return [serialize.account(a) for a in await store.read(store.directory.accounts, domain)]

    async def get_account(request: Request, actor: Actor) -> JsonValue:
        return serialize.account(
            await store.read(store.directory.account, request.path_params["address"])
        )

    async def add_account(request: Request, actor: Actor) -> JsonValue:
        data = await payload(request)
        quota = data.get("quota_mb")
        if quota is not None and (
            not isinstance(quota, int) or isinstance(quota, bool) or quota < 0
        ):
            raise HTTPException(400, "'quota_mb' must be a whole number >= 0")
        display = data.get("display_name", "")
        if not isinstance(display, str):
            raise HTTPException(400, "'display_name' must be a string")
        account, generated = await directory.add_user(
            actor,
            must(data, "address"),
            text(data, "password", required=False),
            display_name=display,
            quota_mb=quota,
        )
        body = serialize.account(account)
        if generated:
            body["generated_password"] = generated
        return body

    async def account_password(request: Request, actor: Actor) -> JsonValue:
        data = await payload(request)
        generated = await directory.set_password(
            actor, request.path_params["address"], text(data, "password", required=False)
        )
        return {"generated_password": generated} if generated else {"changed": True}

    async def account_enable(request: Request, actor: Actor) -> JsonValue:
        what = request.path_params["what"]
        if what not in ("enable", "disable"):
            raise HTTPException(404, f"no action {what!r} (enable, disable)")
        enabled = what == "enable"
        await directory.set_enabled(actor, request.path_params["address"], enabled)
        return serialize.account(
            await store.read(store.directory.account, request.path_params["address"])
        )

    async def remove_account(request: Request, actor: Actor) -> JsonValue:
        await directory.remove_user(actor, request.path_params["address"])
        return {"removed": request.path_params["address"]}

    # --- aliases

    async def list_aliases(request: Request, actor: Actor) -> JsonValue:
        domain = request.query_params.get("domain")
        return [serialize.alias(a) for a in await store.read(store.directory.aliases, domain)]

    async def add_alias(request: Request, actor: Actor) -> JsonValue:
        data = await payload(request)
        targets = data.get("targets")
        if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
            raise HTTPException(400, "'targets' must be a list of addresses")
        return serialize.alias(
            await directory.add_alias(actor, must(data, "address"), tuple(targets))
        )

    async def remove_alias(request: Request, actor: Actor) -> JsonValue:
        await directory.remove_alias(actor, request.path_params["address"])
        return {"removed": request.path_params["address"]}

    # --- admins and tokens

    async def list_admins(request: Request, actor: Actor) -> JsonValue:
        return [serialize.admin(a) for a in await store.read(store.directory.admins)]

    async def add_admin(request: Request, actor: Actor) -> JsonValue:
        data = await payload(request)
        admin, generated = await directory.add_admin(
            actor, must(data, "name"), text(data, "password", required=False)
        )
        body = serialize.admin(admin)
        if generated:
            body["generated_password"] = generated
        return body

    async def admin_password(request: Request, actor: Actor) -> JsonValue:
        data = await payload(request)
        await directory.set_admin_password(
            actor, request.path_params["name"], must(data, "password")
        )
        return {"changed": True}

    async def remove_admin(request: Request, actor: Actor) -> JsonValue:
        await directory.remove_admin(actor, request.path_params["name"])
        return {"removed": request.path_params["name"]}

    async def list_tokens(request: Request, actor: Actor) -> JsonValue:
        return [
            serialize.token(t)
            for t in await store.read(store.directory.tokens, request.query_params.get("admin"))
        ]

    async def add_token(request: Request, actor: Actor) -> JsonValue:
        data = await payload(request)
        token, secret = await directory.add_token(actor, must(data, "admin"), must(data, "name"))
        return {**serialize.token(token), "token": secret}

    async def revoke_token(request: Request, actor: Actor) -> JsonValue:
        await directory.revoke_token(
            actor, request.path_params["admin"], request.path_params["name"]
        )
        return {"revoked": request.path_params["name"]}

    # --- events

    async def list_events(request: Request, actor: Actor) -> JsonValue:
        query = request.query_params
        try:
            limit = min(int(query.get("limit", "100")), MAX_EVENTS)
            before = int(query["before"]) if "before" in query else None
        except ValueError:
            raise HTTPException(400, "'limit' and 'before' must be whole numbers") from None
        events = await store.read(
            store.events.list,
            limit=limit,
            before_id=before,
            object=query.get("object"),
            actor_contains=query.get("actor"),
        )
        return [serialize.event(e) for e in events]

    v1 = "/api/v1"
    return [
        Route(f"{v1}/services", endpoint(list_services)),
        Route(f"{v1}/services/{{action}}", endpoint(service_action), methods=["POST"]),
        Route(f"{v1}/services/{{name}}", endpoint(get_service)),
        Route(f"{v1}/services/{{name}}/{{action}}", endpoint(service_action), methods=["POST"]),
        Route(f"{v1}/domains", endpoint(list_domains)),
        Route(f"{v1}/domains", endpoint(add_domain, 201), methods=["POST"]),
        Route(f"{v1}/domains/{{name}}", endpoint(remove_domain), methods=["DELETE"]),
        Route(f"{v1}/domains/{{name}}/catch-all", endpoint(set_catch_all), methods=["PUT"]),
        Route(f"{v1}/domain-aliases", endpoint(list_domain_aliases)),
        Route(f"{v1}/domain-aliases", endpoint(add_domain_alias, 201), methods=["POST"]),
        Route(f"{v1}/domain-aliases/{{name}}", endpoint(remove_domain_alias), methods=["DELETE"]),
        Route(f"{v1}/accounts", endpoint(list_accounts)),
        Route(f"{v1}/accounts", endpoint(add_account, 201), methods=["POST"]),
        Route(f"{v1}/accounts/{{address}}", endpoint(get_account)),
        Route(f"{v1}/accounts/{{address}}", endpoint(remove_account), methods=["DELETE"]),
        Route(f"{v1}/accounts/{{address}}/password", endpoint(account_password), methods=["POST"]),
        Route(f"{v1}/accounts/{{address}}/{{what}}", endpoint(account_enable), methods=["POST"]),
        Route(f"{v1}/aliases", endpoint(list_aliases)),
        Route(f"{v1}/aliases", endpoint(add_alias, 201), methods=["POST"]),
        Route(f"{v1}/aliases/{{address}}", endpoint(remove_alias), methods=["DELETE"]),
        Route(f"{v1}/admins", endpoint(list_admins)),
        Route(f"{v1}/admins", endpoint(add_admin, 201), methods=["POST"]),
        Route(f"{v1}/admins/{{name}}", endpoint(remove_admin), methods=["DELETE"]),
        Route(f"{v1}/admins/{{name}}/password", endpoint(admin_password), methods=["POST"]),
        Route(f"{v1}/tokens", endpoint(list_tokens)),
        Route(f"{v1}/tokens", endpoint(add_token, 201), methods=["POST"]),
        Route(f"{v1}/tokens/{{admin}}/{{name}}", endpoint(revoke_token), methods=["DELETE"]),
        Route(f"{v1}/events", endpoint(list_events)),
        *retrieval_routes(web),
    ]
