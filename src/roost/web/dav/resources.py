"""DAV resources: what a path under /dav names, and the properties each has.

    /dav/                                   the root (current-user-principal)
    /dav/principals/USER/                   the user's principal (RFC 3744)
    /dav/calendars/USER/                    calendar home (RFC 4791 §6.2.1)
    /dav/calendars/USER/NAME/               a calendar or task list
    /dav/calendars/USER/NAME/ITEM           a calendar object resource
    /dav/addressbooks/USER/...              the same for CardDAV (RFC 6352 §7.1.1)

USER is the account's address; a user sees only their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote
from xml.etree import ElementTree as ET

from roost.control.dav_xml import CALDAV, CARDDAV, DAV, tag, text_child
from roost.store.groupware import ADDRESSBOOK, CALENDAR, Collection, Item

PREFIX = "/dav/"
HOMES = {"calendars": CALENDAR, "addressbooks": ADDRESSBOOK}
SYNC_TOKEN_PREFIX = "http://roost.example/ns/sync/"  # noqa: S105  a URI, not a secret


class PathRefused(ValueError):
    """A path that names nothing this server can have (it climbs out, or is malformed)."""


@dataclass(frozen=True, slots=True)
class Target:
    """What a request path names, before the store is asked."""

    segments: tuple[str, ...]

    @property
    def depth(self) -> int:
        return len(self.segments)


def parse_path(path: str) -> Target:
    if not path.startswith(PREFIX.rstrip("/")):
        raise PathRefused("not a DAV path")
    rest = path[len(PREFIX) :] if path.startswith(PREFIX) else ""
    parts = rest.split("/")
    if parts and parts[-1] == "":
        parts.pop()
    for part in parts:
        if part in ("", ".", "..") or "\\" in part or "\x00" in part:
            raise PathRefused(
                f"the path segment {part!r} is not allowed: a path may not climb out of "
                "its collection"
            )
        if len(part) > 255:
            raise PathRefused("a path segment is longer than 255 characters")
    return Target(tuple(parts))


def href(*segments: str, collection: bool = True) -> str:
    path = PREFIX + "/".join(quote(s, safe="@") for s in segments)
    return path + "/" if collection and segments else path


def principal_href(user: str) -> str:
    return href("principals", user)


def home_href(kind: str, user: str) -> str:
    return href("calendars" if kind == CALENDAR else "addressbooks", user)


def collection_href(collection: Collection, user: str) -> str:
    home = "calendars" if collection.kind == CALENDAR else "addressbooks"
    return href(home, user, collection.name)


def item_href(collection: Collection, user: str, item_name: str) -> str:
    home = "calendars" if collection.kind == CALENDAR else "addressbooks"
    return href(home, user, collection.name, item_name, collection=False)


def sync_token(collection: Collection) -> str:
    return f"{SYNC_TOKEN_PREFIX}{collection.id}-{collection.modseq}"


def parse_sync_token(token: str, collection: Collection) -> int | None:
    """The change number a token names, or None when it is not one of this collection's."""
    if not token.startswith(SYNC_TOKEN_PREFIX):
        return None
    ident, _, number = token[len(SYNC_TOKEN_PREFIX) :].partition("-")
    if ident != str(collection.id) or not number.isdigit():
        return None
    return int(number)


# --- properties: each returns the value element filled in, or False when absent

Prop = ET.Element


def _set(parent: Prop, name: str) -> Prop:
    return ET.SubElement(parent, name)


def _href(parent: Prop, name: str, value: str) -> None:
    text_child(_set(parent, name), tag(DAV, "href"), value)


def _privileges(parent: Prop) -> None:
    holder = _set(parent, tag(DAV, "current-user-privilege-set"))
    for privilege in ("read", "write", "write-properties", "write-content", "bind", "unbind"):
        _set(_set(holder, tag(DAV, "privilege")), tag(DAV, privilege))


def common_prop(parent: Prop, name: str, user: str) -> bool:
    """Properties every resource answers."""
    match name:
        case "{DAV:}current-user-principal":
            _href(parent, name, principal_href(user))
        case "{DAV:}principal-URL" | "{DAV:}owner":
            _href(parent, name, principal_href(user))
        case "{DAV:}current-user-privilege-set":
            _privileges(parent)
        case "{urn:ietf:params:xml:ns:caldav}calendar-home-set":
            _href(parent, name, home_href(CALENDAR, user))
        case "{urn:ietf:params:xml:ns:carddav}addressbook-home-set":
            _href(parent, name, home_href(ADDRESSBOOK, user))
        case "{urn:ietf:params:xml:ns:caldav}calendar-user-address-set":
            _href(parent, name, f"mailto:{user}")
        case _:
            return False
    return True


def plain_collection_prop(parent: Prop, name: str, display: str, principal: bool) -> bool:
    """The root, a principal and the homes: plain collections."""
    match name:
        case "{DAV:}resourcetype":
            kinds = _set(parent, name)
            _set(kinds, tag(DAV, "collection"))
            if principal:
                _set(kinds, tag(DAV, "principal"))
        case "{DAV:}displayname":
            text_child(parent, name, display)
        case _:
            return False
    return True


def collection_prop(parent: Prop, name: str, collection: Collection, max_bytes: int) -> bool:
    calendar = collection.kind == CALENDAR
    match name:
        case "{DAV:}resourcetype":
            kinds = _set(parent, name)
            _set(kinds, tag(DAV, "collection"))
            _set(kinds, tag(CALDAV, "calendar") if calendar else tag(CARDDAV, "addressbook"))
        case "{DAV:}displayname":
            text_child(parent, name, collection.display_name)
        case "{DAV:}sync-token":
            text_child(parent, name, sync_token(collection))
        case "{http://calendarserver.org/ns/}getctag":
            text_child(parent, name, sync_token(collection))
        case "{DAV:}supported-report-set":
            reports = _set(parent, name)
            names = (
                [tag(CALDAV, "calendar-query"), tag(CALDAV, "calendar-multiget")]
                if calendar
                else [tag(CARDDAV, "addressbook-query"), tag(CARDDAV, "addressbook-multiget")]
            )
            for report in [*names, tag(DAV, "sync-collection")]:
                _set(_set(_set(reports, tag(DAV, "supported-report")), tag(DAV, "report")), report)
        case "{urn:ietf:params:xml:ns:caldav}supported-calendar-component-set" if calendar:
            holder = _set(parent, name)
            for component in collection.components:
                _set(holder, tag(CALDAV, "comp")).set("name", component)
        case "{urn:ietf:params:xml:ns:caldav}calendar-description" if calendar:
            text_child(parent, name, collection.description)
        case "{urn:ietf:params:xml:ns:carddav}addressbook-description" if not calendar:
            text_child(parent, name, collection.description)
        case "{http://apple.com/ns/ical/}calendar-color" if calendar:
            text_child(parent, name, collection.colour)
        case "{urn:ietf:params:xml:ns:caldav}max-resource-size" if calendar:
            text_child(parent, name, str(max_bytes))
        case "{urn:ietf:params:xml:ns:carddav}max-resource-size" if not calendar:
            text_child(parent, name, str(max_bytes))
        case "{urn:ietf:params:xml:ns:caldav}supported-calendar-data" if calendar:
            kind = _set(_set(parent, name), tag(CALDAV, "calendar-data"))
            kind.set("content-type", "text/calendar")
            kind.set("version", "2.0")
        case "{urn:ietf:params:xml:ns:carddav}supported-address-data" if not calendar:
            for version in ("3.0", "4.0"):
                kind = _set(_set(parent, name), tag(CARDDAV, "address-data-type"))
                kind.set("content-type", "text/vcard")
                kind.set("version", version)
        case _:
            return False
    return True


def content_type(collection: Collection) -> str:
    return (
        "text/calendar; charset=utf-8"
        if collection.kind == CALENDAR
        else "text/vcard; charset=utf-8"
    )


def item_prop(parent: Prop, name: str, collection: Collection, item: Item) -> bool:
    match name:
        case "{DAV:}resourcetype":
            _set(parent, name)
        case "{DAV:}getetag":
            text_child(parent, name, f'"{item.etag}"')
        case "{DAV:}getcontenttype":
            text_child(parent, name, content_type(collection))
        case "{DAV:}getcontentlength":
            text_child(parent, name, str(len(item.data.encode("utf-8", "surrogatepass"))))
        case "{DAV:}getlastmodified":
            text_child(parent, name, item.updated_at.strftime("%a, %d %b %Y %H:%M:%S GMT"))
        case "{urn:ietf:params:xml:ns:caldav}calendar-data" if collection.kind == CALENDAR:
            text_child(parent, name, item.data)
        case "{urn:ietf:params:xml:ns:carddav}address-data" if collection.kind == ADDRESSBOOK:
            text_child(parent, name, item.data)
        case _:
            return False
    return True


ALLPROP = (
    "{DAV:}resourcetype",
    "{DAV:}displayname",
    "{DAV:}getetag",
    "{DAV:}getcontenttype",
    "{DAV:}getcontentlength",
    "{DAV:}getlastmodified",
    "{DAV:}sync-token",
    "{DAV:}current-user-principal",
)
