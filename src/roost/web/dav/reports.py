"""REPORT bodies: calendar-query and calendar-multiget (RFC 4791 §7.8, §7.9),
addressbook-query and addressbook-multiget (RFC 6352 §8.6, §8.7), and
sync-collection (RFC 6578 §3.2)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit
from xml.etree import ElementTree as ET

import icalendar

from roost.control.dav_xml import CALDAV, CARDDAV, DAV, tag
from roost.control.groupware import GroupwareError, card_values, expanded, overlaps
from roost.core.config import DavSettings
from roost.store.groupware import Collection, Item
from roost.store.store import Store

Props = list[str]
Row = tuple[Item, str | None]
"""An item and, when the query asked to expand it, its expanded text."""


@dataclass(frozen=True, slots=True)
class ReportAnswer:
    rows: list[Row]
    missing: list[str]
    """Hrefs of a multiget or sync report that name no resource (answered 404)."""
    props: Props
    sync_token: str | None = None


def requested_props(root: ET.Element) -> Props:
    prop = root.find(tag(DAV, "prop"))
    return [] if prop is None else [child.tag for child in prop]


def parse_utc(text: str | None, what: str) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise GroupwareError(
            400, f"the {what} {text[:40]!r} is not a UTC date-time like 20260301T000000Z"
        ) from None


def _expand_range(root: ET.Element) -> tuple[datetime, datetime] | None:
    expand = root.find(f".//{tag(CALDAV, 'calendar-data')}/{tag(CALDAV, 'expand')}")
    if expand is None:
        return None
    start = parse_utc(expand.get("start"), "expand start")
    end = parse_utc(expand.get("end"), "expand end")
    if start is None or end is None or end <= start:
        raise GroupwareError(400, "expand needs a start before its end")
    return start, end


async def calendar_query(
    store: Store, collection: Collection, root: ET.Element, settings: DavSettings
) -> ReportAnswer:
    top = root.find(f"{tag(CALDAV, 'filter')}/{tag(CALDAV, 'comp-filter')}")
    if top is None or top.get("name") != "VCALENDAR":
        raise GroupwareError(
            403,
            "a calendar-query needs a filter with a VCALENDAR comp-filter",
            "{urn:ietf:params:xml:ns:caldav}valid-filter",
        )
    inner = [c for c in top if c.tag == tag(CALDAV, "comp-filter")]
    unsupported = [
        c.tag for c in top if c.tag not in (tag(CALDAV, "comp-filter"), tag(CALDAV, "time-range"))
    ]
    if len(inner) > 1 or unsupported:
        raise GroupwareError(
            403,
            "this server answers comp-filter and time-range filters only",
            "{urn:ietf:params:xml:ns:caldav}supported-filter",
        )
    component: str | None = None
    start = end = None
    prop_tests: list[Callable[[Any], bool]] = []
    if inner:
        component = inner[0].get("name", "")
        for part in inner[0]:
            if part.tag == tag(CALDAV, "time-range"):
                start = parse_utc(part.get("start"), "time-range start")
                end = parse_utc(part.get("end"), "time-range end")
            elif part.tag == tag(CALDAV, "is-not-defined"):
                component = "(none)"
            elif part.tag == tag(CALDAV, "prop-filter"):
                prop_tests.append(_ical_prop_test(part))
            else:
                raise GroupwareError(
                    403,
                    f"this server answers comp-filter and time-range filters only (not {part.tag})",
                    "{urn:ietf:params:xml:ns:caldav}supported-filter",
                )
    components = [component] if component else list(collection.components)
    rows: list[Row] = []
    window = _expand_range(root)
    role = store.groupware
    for name in components:
        candidates = await store.read(role.items_in_range, collection.id, name, start, end)
        for item in candidates:
            if not overlaps(item, start, end, settings.max_instances):
                continue
            if prop_tests and not _ical_matches(item, prop_tests):
                continue
            text = None
            if window is not None and item.recurring:
                text = expanded(item, window[0], window[1], settings.max_instances)
            rows.append((item, text))
    return ReportAnswer(rows, [], requested_props(root))


def names_of(root: ET.Element, base: str, settings: DavSettings) -> tuple[list[str], list[str]]:
    """The item names a multiget's hrefs name in this collection, and the hrefs
    that name nothing here."""
    hrefs = [h.text or "" for h in root.findall(tag(DAV, "href"))]
    if len(hrefs) > settings.max_hrefs:
        raise GroupwareError(403, f"a multiget may name at most {settings.max_hrefs} resources")
    names: list[str] = []
    elsewhere: list[str] = []
    for value in hrefs:
        path = unquote(urlsplit(value.strip()).path)
        name = path[len(base) :] if path.startswith(base) else ""
        if not name or "/" in name or name in (".", ".."):
            elsewhere.append(value)
        else:
            names.append(name)
    return names, elsewhere


async def multiget(
    store: Store, collection: Collection, root: ET.Element, base: str, settings: DavSettings
) -> ReportAnswer:
    names, elsewhere = names_of(root, unquote(base), settings)
    found = await store.read(store.groupware.items_named, collection.id, names)
    present = {i.name for i in found}
    missing = [*elsewhere, *(n for n in names if n not in present)]
    window = _expand_range(root)
    rows: list[Row] = []
    for item in found:
        text = None
        if window is not None and item.recurring:
            text = expanded(item, window[0], window[1], settings.max_instances)
        rows.append((item, text))
    return ReportAnswer(rows, missing, requested_props(root))


_MATCHES: dict[str, Callable[[str, str], bool]] = {
    "contains": lambda value, needle: needle in value,
    "equals": lambda value, needle: value == needle,
    "starts-with": lambda value, needle: value.startswith(needle),
    "ends-with": lambda value, needle: value.endswith(needle),
}


async def addressbook_query(
    store: Store, collection: Collection, root: ET.Element, settings: DavSettings
) -> ReportAnswer:
    filter_ = root.find(tag(CARDDAV, "filter"))
    tests: list[Callable[[dict[str, list[str]]], bool]] = []
    any_of = True
    if filter_ is not None:
        any_of = filter_.get("test", "anyof") != "allof"
        for prop in filter_:
            if prop.tag != tag(CARDDAV, "prop-filter"):
                raise GroupwareError(
                    403,
                    f"unknown filter element {prop.tag}",
                    "{urn:ietf:params:xml:ns:carddav}supported-filter",
                )
            tests.append(_prop_test(prop))
    rows: list[Row] = []
    limit = root.find(f"{tag(CARDDAV, 'limit')}/{tag(CARDDAV, 'nresults')}")
    count = "" if limit is None else (limit.text or "").strip()
    most = int(count) if count.isdigit() else None
    for item in await store.read(store.groupware.items, collection.id):
        if tests:
            values = card_values(item.data)
            results = (t(values) for t in tests)
            if not (any(results) if any_of else all(results)):
                continue
        rows.append((item, None))
        if most is not None and len(rows) >= most:
            break
    return ReportAnswer(rows, [], requested_props(root))


def _prop_test(
    prop: ET.Element,
) -> Callable[
    [
        dict[str, list[str]],
    ],
    bool,
]:
    name = prop.get("name", "").upper()
    any_of = prop.get("test", "anyof") != "allof"
    checks: list[Callable[[list[str]], bool]] = []
    defined = True
    for part in prop:
        if part.tag == tag(CARDDAV, "is-not-defined"):
            defined = False
        elif part.tag == tag(CARDDAV, "text-match"):
            kind = part.get("match-type", "contains")
            if kind not in _MATCHES:
                raise GroupwareError(
                    403,
                    f"unknown match-type {kind!r}",
                    "{urn:ietf:params:xml:ns:carddav}supported-filter",
                )
            needle = (part.text or "").casefold()
            negate = part.get("negate-condition") == "yes"
            match = _MATCHES[kind]

            def check(values: list[str], match=match, needle=needle, negate=negate) -> bool:  # type: ignore[no-untyped-def]
                hit = any(match(v.casefold(), needle) for v in values)
                return bool(hit != negate)

            checks.append(check)
        else:
            raise GroupwareError(
                403,
                "this server answers text-match and is-not-defined in a prop-filter only",
                "{urn:ietf:params:xml:ns:carddav}supported-filter",
            )

    def test(card: dict[str, list[str]]) -> bool:
        values = card.get(name)
        if not defined:
            return values is None
        if values is None:
            return False
        if not checks:
            return True
        results = (c(values) for c in checks)
        return any(results) if any_of else all(results)

    return test


def _ical_matches(item: Item, tests: list[Callable[[Any], bool]]) -> bool:
    """Whether any component of the item passes every prop-filter (RFC 4791 §9.7.1)."""
    try:
        calendar = icalendar.Calendar.from_ical(item.data)
    except ValueError:
        return False
    return any(all(t(component) for t in tests) for component in calendar.walk(item.component))


def _ical_prop_test(prop: ET.Element) -> Callable[[Any], bool]:
    """RFC 4791 §9.7.2: is-not-defined, or text-match (case-insensitive) on a property."""
    name = prop.get("name", "").upper()
    defined = True
    needles: list[tuple[str, bool]] = []
    for part in prop:
        if part.tag == tag(CALDAV, "is-not-defined"):
            defined = False
        elif part.tag == tag(CALDAV, "text-match"):
            needles.append(((part.text or "").casefold(), part.get("negate-condition") == "yes"))
        else:
            raise GroupwareError(
                403,
                "this server answers is-not-defined and text-match in a prop-filter only",
                "{urn:ietf:params:xml:ns:caldav}supported-filter",
            )

    def test(component: Any) -> bool:
        present = name in component
        if not defined:
            return not present
        if not present:
            return False
        values = component.get(name)
        texts = [str(v) for v in values] if isinstance(values, list) else [str(values)]
        return all(
            any(needle in t.casefold() for t in texts) != negate for needle, negate in needles
        )

    return test
