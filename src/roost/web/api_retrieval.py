"""Users' external accounts under /api/v1/retrieval: list, add, show, remove, run now.

GET    /api/v1/retrieval[?user=ADDRESS]      every account, or one user's
POST   /api/v1/retrieval/{user}              add (201); the password is never shown again.
                                             Body: protocol, host, port, tls, username,
                                             password, folder, enabled, leave_on_server,
                                             remote_folders, folder_layout (merge|mirror),
                                             folder_map {remote: local}, mark_seen (IMAP),
                                             delete_after_days (POP3), interval_s
                                             manual (fetched only when asked),
                                             apop (POP3)
GET    /api/v1/retrieval/{user}/{id}         one, with its status
PATCH  /api/v1/retrieval/{user}/{id}         edit: the fields given replace the account's
                                             (protocol excepted); `password` when given;
                                             a new `tls` without `port` moves a default
                                             port to the new default
DELETE /api/v1/retrieval/{user}/{id}
POST   /api/v1/retrieval/{user}/{id}/run     retrieve now (202): the service takes it
                                             at its next tick
"""

from __future__ import annotations

from typing import Any, TypeVar

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import Route

from roost.control.directory import Actor
from roost.control.retrieval import PasswordCipher, RetrievalAdmin, default_port, view
from roost.store.retrieval import FolderLayout, NewRetrieval, RetrievalProtocol, TlsMode
from roost.store.settings import JsonValue
from roost.web.api_common import endpoint, must, payload, whole_number
from roost.web.context import WebContext

MAX_REMOTE_FOLDERS = 100
E = TypeVar("E", RetrievalProtocol, TlsMode, FolderLayout)


def retrieval_routes(web: WebContext) -> list[Route]:
    admin = RetrievalAdmin(web.store, web.config.retrieval, PasswordCipher(web.config.data_dir))

    async def list_accounts(request: Request, actor: Actor) -> JsonValue:
        found = await admin.list(request.query_params.get("user"))
        return [view(r) for r in found]

    async def add(request: Request, actor: Actor) -> JsonValue:
        data = await payload(web, request)
        spec = spec_of(data)
        added = await admin.add(actor, request.path_params["user"], spec, must(data, "password"))
        return view(added)

    async def edit(request: Request, actor: Actor) -> JsonValue:
        data = await payload(web, request)
        user, rid = request.path_params["user"], _id(request)
        current = await admin.show(user, rid)
        spec = spec_of(edited_fields(current.spec, data))
        password = data.get("password")
        if password is not None and (not isinstance(password, str) or not password):
            raise HTTPException(400, "'password' must be a non-empty string")
        return view(await admin.edit(actor, user, rid, spec, password))

    async def show(request: Request, actor: Actor) -> JsonValue:
        return view(await admin.show(request.path_params["user"], _id(request)))

    async def remove(request: Request, actor: Actor) -> JsonValue:
        await admin.remove(actor, request.path_params["user"], _id(request))
        return {"removed": _id(request)}

    async def run(request: Request, actor: Actor) -> JsonValue:
        await admin.request_run(actor, request.path_params["user"], _id(request))
        return {"requested": _id(request)}

    v1 = "/api/v1/retrieval"
    return [
        Route(v1, endpoint(web, list_accounts)),
        Route(f"{v1}/{{user}}", endpoint(web, add, 201), methods=["POST"]),
        Route(f"{v1}/{{user}}/{{id}}", endpoint(web, show)),
        Route(f"{v1}/{{user}}/{{id}}", endpoint(web, edit), methods=["PATCH"]),
        Route(f"{v1}/{{user}}/{{id}}", endpoint(web, remove), methods=["DELETE"]),
        Route(f"{v1}/{{user}}/{{id}}/run", endpoint(web, run, 202), methods=["POST"]),
    ]


def _id(request: Request) -> int:
    return whole_number(request.path_params["id"], "id", 0)


EDITABLE = frozenset(
    {
        "protocol",
        "host",
        "port",
        "tls",
        "username",
        "password",
        "folder",
        "enabled",
        "leave_on_server",
        "remote_folders",
        "interval_s",
        "folder_layout",
        "folder_map",
        "mark_seen",
        "delete_after_days",
        "manual",
        "apop",
    }
)


def edited_fields(current: NewRetrieval, changes: dict[str, Any]) -> dict[str, Any]:
    """An account's fields as `spec_of` reads them, with `changes` over them."""
    unknown = sorted(set(changes) - EDITABLE)
    if unknown:
        raise HTTPException(400, f"unknown field(s): {', '.join(unknown)}")
    fields: dict[str, Any] = {
        "protocol": current.protocol.value,
        "host": current.host,
        "port": current.port,
        "tls": current.tls.value,
        "username": current.username,
        "folder": current.folder,
        "enabled": current.enabled,
        "leave_on_server": current.leave_on_server,
        "remote_folders": list(current.remote_folders),
        "interval_s": current.interval_s,
        "folder_layout": current.folder_layout.value,
        "folder_map": dict(current.folder_map),
        "mark_seen": current.mark_seen,
        "delete_after_days": current.delete_after_days,
        "manual": current.manual,
        "apop": current.apop,
    }
    if (
        "tls" in changes
        and "port" not in changes
        and current.port == default_port(current.protocol, current.tls)
    ):
        del fields["port"]  # follows the new TLS mode's default
    fields.update(changes)
    return fields


def spec_of(data: dict[str, Any]) -> NewRetrieval:
    """An external account from a request body (the password apart)."""
    protocol = _choice(data, "protocol", RetrievalProtocol, None)
    tls = _choice(data, "tls", TlsMode, TlsMode.IMPLICIT)
    port = data.get("port", default_port(protocol, tls))
    if not isinstance(port, int) or isinstance(port, bool):
        raise HTTPException(400, "'port' must be a whole number")
    folders = data.get("remote_folders", ["INBOX"])
    if (
        not isinstance(folders, list)
        or not 0 < len(folders) <= MAX_REMOTE_FOLDERS
        or not all(isinstance(f, str) and f and "\n" not in f for f in folders)
    ):
        raise HTTPException(400, "'remote_folders' must be a list of folder names")
    folder_map = data.get("folder_map", {})
    if not isinstance(folder_map, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in folder_map.items()
    ):
        raise HTTPException(400, "'folder_map' must map remote folder names to local ones")
    if len(folder_map) > MAX_REMOTE_FOLDERS:
        raise HTTPException(400, f"'folder_map' takes at most {MAX_REMOTE_FOLDERS} entries")
    days = data.get("delete_after_days")
    if days is not None and (not isinstance(days, int) or isinstance(days, bool)):
        raise HTTPException(400, "'delete_after_days' must be a whole number of days")
    interval = data.get("interval_s")
    if interval is not None and (not isinstance(interval, int | float) or interval <= 0):
        raise HTTPException(400, "'interval_s' must be a positive number")
    return NewRetrieval(
        protocol=protocol,
        host=must(data, "host"),
        port=port,
        tls=tls,
        username=must(data, "username"),
        password_encrypted="",
        folder=str(data.get("folder") or "INBOX"),
        enabled=_flag(data, "enabled", True),
        leave_on_server=_flag(data, "leave_on_server", False),
        remote_folders=tuple(folders),
        interval_s=None if interval is None else float(interval),
        folder_layout=_choice(data, "folder_layout", FolderLayout, FolderLayout.MERGE),
        folder_map=tuple(sorted(folder_map.items())),
        mark_seen=_flag(data, "mark_seen", False),
        delete_after_days=days,
        manual=_flag(data, "manual", False),
        apop=_flag(data, "apop", False),
    )


def _choice(data: dict[str, Any], key: str, kind: type[E], default: E | None) -> E:
    raw = data.get(key)
    if raw is None and default is not None:
        return default
    try:
        return kind(str(raw))
    except ValueError:
        names = ", ".join(v.value for v in kind)
        raise HTTPException(400, f"{key!r} must be one of {names}") from None


def _flag(data: dict[str, Any], key: str, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise HTTPException(400, f"{key!r} must be true or false")
    return value
