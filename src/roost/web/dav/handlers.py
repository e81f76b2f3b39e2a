"""The DAV methods: OPTIONS, PROPFIND, PROPPATCH, REPORT, GET, HEAD, PUT,
DELETE, MKCALENDAR, MKCOL. One place maps `GroupwareError`, `XmlRefused`
and `PathRefused` to a status with a DAV error body that says why."""

from __future__ import annotations

import base64
import binascii
import logging
from urllib.parse import quote
from xml.etree import ElementTree as ET

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from roost.control.auth import Authenticator
from roost.control.dav_xml import (
    CALDAV,
    CARDDAV,
    DAV,
    XmlRefused,
    error_body,
    parse,
    tag,
    to_bytes,
)
from roost.control.dav_xml import text_child as text_el
from roost.control.groupware import Groupware, GroupwareError
from roost.core.errors import AuthenticationFailed, Throttled
from roost.store.groupware import CALENDAR, Collection, Item
from roost.store.types import Account
from roost.web.dav import reports
from roost.web.dav.resources import (
    ALLPROP,
    HOMES,
    PathRefused,
    collection_href,
    collection_prop,
    common_prop,
    content_type,
    href,
    item_href,
    item_prop,
    parse_path,
    parse_sync_token,
    plain_collection_prop,
    sync_token,
)

log = logging.getLogger(__name__)

METHODS = [
    "OPTIONS", "GET", "HEAD", "PUT", "DELETE", "PROPFIND", "PROPPATCH", "REPORT",
    "MKCALENDAR", "MKCOL",
]  # fmt: skip
XML = "application/xml; charset=utf-8"
DAV_HEADER = "1, 3, access-control, calendar-access, addressbook, extended-mkcol"
_SETTABLE = {
    "{DAV:}displayname": "display_name",
    "{http://apple.com/ns/ical/}calendar-color": "colour",
    "{urn:ietf:params:xml:ns:caldav}calendar-description": "description",
    "{urn:ietf:params:xml:ns:carddav}addressbook-description": "description",
}


async def well_known(request: Request) -> Response:
    """RFC 6764 §5: the context path of both services is /dav/."""
    return RedirectResponse("/dav/", status_code=301)


def _error(status: int, message: str, condition: str = "") -> Response:
    if condition:
        return Response(error_body(condition, message), status_code=status, media_type=XML)
    return Response(message + "\n", status_code=status, media_type="text/plain; charset=utf-8")


class DavHandler:
    def __init__(self, groupware: Groupware, auth: Authenticator) -> None:
        self._gw = groupware
        self._store = groupware.store
        self._settings = groupware.settings
        self._auth = auth

    async def handle(self, request: Request) -> Response:
        account = await self._authenticate(request)
        if isinstance(account, Response):
            return account
        try:
            return await self._dispatch(request, account)
        except GroupwareError as exc:
            return _error(exc.status, exc.message, exc.condition)
        except XmlRefused as exc:
            return _error(400, str(exc))
        except PathRefused as exc:
            return _error(400, str(exc))

    async def _authenticate(self, request: Request) -> Account | Response:
        client = request.client.host if request.client else ""
        tls = request.url.scheme == "https"
        challenge = {"WWW-Authenticate": 'Basic realm="Roost", charset="UTF-8"'}
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return Response("sign in with your mail address and password\n", 401, challenge)
        if not self._auth.plaintext_allowed(tls=tls, client=client):
            return _error(403, "passwords are accepted over TLS only: use https")
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return Response("the Authorization header is not valid Basic\n", 401, challenge)
        user, sep, password = decoded.partition(":")
        if not sep:
            return Response("the Authorization header is not valid Basic\n", 401, challenge)
        try:
            return await self._auth.authenticate(user, password, client=client)
        except Throttled as exc:
            return Response(
                str(exc) + "\n", 429, {"Retry-After": str(max(1, int(exc.retry_after_s)))}
            )
        except AuthenticationFailed:
            return Response("invalid credentials\n", 401, challenge)

    async def _dispatch(self, request: Request, account: Account) -> Response:
        target = parse_path(request.url.path)
        segments = target.segments
        user = account.address
        if len(segments) >= 2 and segments[1].lower() != user.lower():
            return _error(403, "you may reach your own calendars and address books only")
        if segments and segments[0] not in ("principals", *HOMES):
            return _error(404, f"no such DAV resource {request.url.path}")
        if len(segments) > (2 if segments and segments[0] == "principals" else 4):
            return _error(404, f"no such DAV resource {request.url.path}")
        method = request.method
        if method == "OPTIONS":
            return Response(
                status_code=200, headers={"DAV": DAV_HEADER, "Allow": ", ".join(METHODS)}
            )
        await self._store.write(self._store.groupware.ensure_defaults, account.id)
        collection: Collection | None = None
        if len(segments) >= 3:
            kind = HOMES[segments[0]]
            collection = await self._store.read(
                self._store.groupware.collection, account.id, kind, segments[2]
            )
            if collection is None and not (
                len(segments) == 3 and method in ("MKCALENDAR", "MKCOL")
            ):
                return _error(404, f"no collection {segments[2]}")
        match method:
            case "PROPFIND":
                return await self._propfind(request, account, segments, collection)
            case "PROPPATCH" if collection is not None and len(segments) == 3:
                return await self._proppatch(request, collection, user)
            case "REPORT" if collection is not None and len(segments) == 3:
                return await self._report(request, collection, user)
            case "MKCALENDAR" | "MKCOL" if len(segments) == 3:
                return await self._mkcol(request, account, segments, collection)
            case "GET" | "HEAD" if collection is not None and len(segments) == 4:
                item = await self._store.read(
                    self._store.groupware.item, collection.id, segments[3]
                )
                if item is None:
                    return _error(404, f"no resource {segments[3]}")
                body = b"" if method == "HEAD" else item.data.encode("utf-8", "surrogatepass")
                return Response(
                    body,
                    media_type=content_type(collection),
                    headers={"ETag": f'"{item.etag}"'},
                )
            case "PUT" if collection is not None and len(segments) == 4:
                return await self._put(request, collection, segments[3])
            case "DELETE" if collection is not None and len(segments) == 4:
                await self._gw.delete(
                    collection, segments[3], if_match=request.headers.get("if-match")
                )
                return Response(status_code=204)
            case "DELETE" if collection is not None and len(segments) == 3:
                await self._store.write(self._store.groupware.delete_collection, collection.id)
                return Response(status_code=204)
            case _:
                return _error(405, f"{method} is not allowed on {request.url.path}")

    # --- bodies

    async def _body(self, request: Request, limit: int, status: int = 413) -> bytes:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise GroupwareError(status, f"the request body is larger than {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise GroupwareError(status, f"the request body is larger than {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def _xml(self, request: Request) -> ET.Element | None:
        body = await self._body(request, self._settings.max_xml_bytes)
        if not body.strip():
            return None
        return parse(
            body, max_bytes=self._settings.max_xml_bytes, max_depth=self._settings.max_xml_depth
        )

    # --- PROPFIND (RFC 4918 §9.1)

    async def _propfind(
        self,
        request: Request,
        account: Account,
        segments: tuple[str, ...],
        collection: Collection | None,
    ) -> Response:
        depth = request.headers.get("depth", "1")
        if depth not in ("0", "1"):
            return _error(403, "Depth: infinity is not supported", "{DAV:}propfind-finite-depth")
        root = await self._xml(request)
        names_only = False
        wanted: list[str] = list(ALLPROP)
        if root is not None:
            if root.tag != tag(DAV, "propfind"):
                return _error(400, "the body of a PROPFIND must be a DAV:propfind element")
            if root.find(tag(DAV, "propname")) is not None:
                names_only = True
            elif root.find(tag(DAV, "prop")) is not None:
                wanted = reports.requested_props(root)
        user = account.address
        out = ET.Element(tag(DAV, "multistatus"))
        role = self._store.groupware
        gw_max = self._settings.max_resource_bytes

        def add(path: str, fill: object) -> None:
            self._response(out, path, wanted, fill, user, names_only)

        if not segments:
            add(href(), ("root", "Roost"))
        elif segments[0] == "principals":
            add(href(*segments), ("principal", user))
        elif len(segments) == 2:
            kind = HOMES[segments[0]]
            add(href(*segments), ("home", user))
            if depth == "1":
                for c in await self._store.read(role.collections, account.id, kind):
                    add(collection_href(c, user), (c, gw_max))
        elif len(segments) == 3 and collection is not None:
            add(collection_href(collection, user), (collection, gw_max))
            if depth == "1":
                for item in await self._store.read(role.items, collection.id):
                    add(item_href(collection, user, item.name), (collection, item))
        elif collection is not None:
            found = await self._store.read(role.items_named, collection.id, [segments[3]])
            if not found:
                return _error(404, f"no resource {segments[3]}")
            item = found[0]
            add(item_href(collection, user, item.name), (collection, item))
        return Response(to_bytes(out), status_code=207, media_type=XML)

    def _response(
        self,
        out: ET.Element,
        path: str,
        wanted: list[str],
        fill: object,
        user: str,
        names_only: bool,
    ) -> None:
        response = ET.SubElement(out, tag(DAV, "response"))
        text_el(response, tag(DAV, "href"), path)
        found = ET.Element(tag(DAV, "prop"))
        missing = ET.Element(tag(DAV, "prop"))
        for name in wanted:
            holder = ET.Element("x")
            ok = common_prop(holder, name, user)
            if not ok:
                match fill:
                    case ("root", str() as display) | ("home", str() as display):
                        ok = plain_collection_prop(holder, name, display, principal=False)
                    case ("principal", str() as display):
                        ok = plain_collection_prop(holder, name, display, principal=True)
                    case (Collection() as c, int() as size):
                        ok = collection_prop(holder, name, c, size)
                    case (Collection() as c, Item() as item):
                        ok = item_prop(holder, name, c, item)
            if ok:
                value = holder[0]
                if names_only:
                    value = ET.Element(value.tag)
                found.append(value)
            else:
                ET.SubElement(missing, name)
        for prop, status in ((found, "200 OK"), (missing, "404 Not Found")):
            if len(prop):
                stat = ET.SubElement(response, tag(DAV, "propstat"))
                stat.append(prop)
                text_el(stat, tag(DAV, "status"), f"HTTP/1.1 {status}")

    # --- PROPPATCH (RFC 4918 §9.2): all or nothing

    async def _proppatch(self, request: Request, collection: Collection, user: str) -> Response:
        root = await self._xml(request)
        if root is None or root.tag != tag(DAV, "propertyupdate"):
            return _error(400, "the body of a PROPPATCH must be a DAV:propertyupdate element")
        changes: dict[str, str] = {}
        names: list[str] = []
        refused: list[str] = []
        for action in root:
            prop = action.find(tag(DAV, "prop"))
            if prop is None:
                continue
            for element in prop:
                names.append(element.tag)
                field = _SETTABLE.get(element.tag)
                if field is None:
                    refused.append(element.tag)
                    continue
                value = "" if action.tag == tag(DAV, "remove") else (element.text or "")
                if len(value) > 255:
                    refused.append(element.tag)
                    continue
                changes[field] = value
        if not refused:
            await self._store.write(
                self._store.groupware.update_collection, collection.id, **changes
            )
        out = ET.Element(tag(DAV, "multistatus"))
        response = ET.SubElement(out, tag(DAV, "response"))
        text_el(response, tag(DAV, "href"), collection_href(collection, user))
        for name in names:
            stat = ET.SubElement(response, tag(DAV, "propstat"))
            ET.SubElement(ET.SubElement(stat, tag(DAV, "prop")), name)
            code = (
                "200 OK"
                if not refused
                else ("403 Forbidden" if name in refused else "424 Failed Dependency")
            )
            text_el(stat, tag(DAV, "status"), f"HTTP/1.1 {code}")
        return Response(to_bytes(out), status_code=207, media_type=XML)

    # --- MKCALENDAR (RFC 4791 §5.3.1) and extended MKCOL (RFC 5689)

    async def _mkcol(
        self,
        request: Request,
        account: Account,
        segments: tuple[str, ...],
        existing: Collection | None,
    ) -> Response:
        kind = HOMES[segments[0]]
        calendar = kind == CALENDAR
        if request.method == "MKCALENDAR" and not calendar:
            return _error(403, "MKCALENDAR makes calendars, under /dav/calendars/ only")
        if existing is not None:
            return _error(405, f"{segments[2]} exists already", "{DAV:}resource-must-be-null")
        root = await self._xml(request)
        values: dict[str, str] = {}
        components: tuple[str, ...] = ("VEVENT", "VTODO") if calendar else ("VCARD",)
        if root is not None:
            for prop in root.iter(tag(DAV, "prop")):
                for element in prop:
                    field = _SETTABLE.get(element.tag)
                    if field is not None:
                        values[field] = (element.text or "")[:255]
                    elif element.tag == tag(CALDAV, "supported-calendar-component-set"):
                        named = tuple(
                            c.get("name", "") for c in element if c.tag == tag(CALDAV, "comp")
                        )
                        if not named or not set(named) <= {"VEVENT", "VTODO", "VJOURNAL"}:
                            return _error(403, "a calendar holds VEVENT, VTODO or VJOURNAL")
                        components = named
                    elif element.tag == tag(DAV, "resourcetype"):
                        wants = tag(CALDAV, "calendar") if calendar else tag(CARDDAV, "addressbook")
                        if element.find(wants) is None:
                            return _error(
                                403,
                                "only calendars under /dav/calendars/ and address books under "
                                "/dav/addressbooks/ may be made",
                                "{DAV:}valid-resourcetype",
                            )
        role = self._store.groupware
        if (
            await self._store.read(role.collection_count, account.id)
            >= self._settings.max_collections
        ):
            return _error(
                507, f"you have the most collections allowed ({self._settings.max_collections})"
            )
        made = await self._store.write(
            role.create_collection,
            account.id,
            kind,
            segments[2],
            display_name=values.get("display_name", ""),
            description=values.get("description", ""),
            colour=values.get("colour", ""),
            components=components,
        )
        if made is None:
            return _error(405, f"{segments[2]} exists already", "{DAV:}resource-must-be-null")
        return Response(status_code=201, headers={"Cache-Control": "no-store"})

    # --- PUT (RFC 4791 §5.3.2, RFC 6352 §6.3.2)

    async def _put(self, request: Request, collection: Collection, name: str) -> Response:
        body = await self._body(request, self._settings.max_resource_bytes)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            kind = "calendar" if collection.kind == CALENDAR else "address"
            raise GroupwareError(400, f"the {kind} data is not UTF-8") from None
        written = await self._gw.put(
            collection,
            name,
            text,
            if_match=request.headers.get("if-match"),
            if_none_match=request.headers.get("if-none-match"),
        )
        return Response(
            status_code=201 if written.created else 204,
            headers={"ETag": f'"{written.item.etag}"'},
        )

    # --- REPORT

    async def _report(self, request: Request, collection: Collection, user: str) -> Response:
        root = await self._xml(request)
        if root is None:
            return _error(400, "a REPORT needs a body")
        base = collection_href(collection, user)
        settings = self._settings
        calendar = collection.kind == CALENDAR
        match root.tag:
            case "{urn:ietf:params:xml:ns:caldav}calendar-query" if calendar:
                answer = await reports.calendar_query(self._store, collection, root, settings)
            case "{urn:ietf:params:xml:ns:caldav}calendar-multiget" if calendar:
                answer = await reports.multiget(self._store, collection, root, base, settings)
            case "{urn:ietf:params:xml:ns:carddav}addressbook-query" if not calendar:
                answer = await reports.addressbook_query(self._store, collection, root, settings)
            case "{urn:ietf:params:xml:ns:carddav}addressbook-multiget" if not calendar:
                answer = await reports.multiget(self._store, collection, root, base, settings)
            case "{DAV:}sync-collection":
                answer = await self._sync(collection, root)
            case _:
                return _error(403, f"unsupported report {root.tag}", "{DAV:}supported-report")
        out = ET.Element(tag(DAV, "multistatus"))
        for item, expanded_text in answer.rows:
            shown = item if expanded_text is None else _with_data(item, expanded_text)
            self._response(
                out,
                item_href(collection, user, item.name),
                answer.props,
                (collection, shown),
                user,
                False,
            )
        for missing in answer.missing:
            response = ET.SubElement(out, tag(DAV, "response"))
            text_el(response, tag(DAV, "href"), _as_href(missing, base))
            text_el(response, tag(DAV, "status"), "HTTP/1.1 404 Not Found")
        if answer.sync_token is not None:
            text_el(out, tag(DAV, "sync-token"), answer.sync_token)
        return Response(to_bytes(out), status_code=207, media_type=XML)

    async def _sync(self, collection: Collection, root: ET.Element) -> reports.ReportAnswer:
        """RFC 6578 §3.2: an empty token is a first sync (everything); another
        token gives the changes since, deleted items answered 404."""
        level = root.findtext(tag(DAV, "sync-level"), "1").strip()
        if level != "1":
            raise GroupwareError(
                403, "sync-level infinite is not supported", "{DAV:}sync-traversal-supported"
            )
        token = (root.findtext(tag(DAV, "sync-token")) or "").strip()
        role = self._store.groupware
        since = 0
        if token:
            number = parse_sync_token(token, collection)
            if number is None:
                raise GroupwareError(
                    403, "the sync token is not one this collection gave", "{DAV:}valid-sync-token"
                )
            since = number
        changes = await self._store.read(role.changes_since, collection.id, since)
        if changes is None:
            raise GroupwareError(
                403, "the sync token is not one this collection gave", "{DAV:}valid-sync-token"
            )
        current = await self._store.read(role.collection_by_id, collection.id)
        assert current is not None
        found = await self._store.read(role.items_named, collection.id, changes.changed)
        deleted = list(changes.deleted) if token else []
        present = {i.name for i in found}
        deleted += [n for n in changes.changed if n not in present]
        return reports.ReportAnswer(
            [(i, None) for i in found],
            deleted,
            reports.requested_props(root),
            sync_token=sync_token(current),
        )


def _with_data(item: Item, data: str) -> Item:
    from dataclasses import replace

    return replace(item, data=data)


def _as_href(value: str, base: str) -> str:
    return value if value.startswith("/") else base + quote(value, safe="@")
