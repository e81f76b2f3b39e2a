"""Benchmark: CalDAV and CardDAV sync, Roost against Radicale, on the same data.

Data (seeded, so both servers get the same items): --contacts (10,000)
vCards in one address book (3.0 and 4.0; phones, addresses, notes; one in
twenty with a 2-6 KB photo) and --events (10,000) events in one calendar
(half in Europe/Berlin with its VTIMEZONE, the rest UTC or all-day; one in
five recurring, some with an EXDATE or an overridden instance; attendees,
alarms, descriptions). Both servers run as their own process on 127.0.0.1:

- Roost (`python -m roost --config FILE serve`), the web listener only,
  its default `contacts` address book and `calendar`;
- Radicale (PyPI `radicale`, the dev dependency the DAV tests use as their
  peer) with a plain htpasswd file and owner-only rights, an address book
  made by extended MKCOL and a calendar by MKCALENDAR.

One client (httpx, one keep-alive connection, HTTP Basic sent up front, the
replies parsed as a sync client parses them) does, per collection and server:

  seed              PUT of every item, If-None-Match: * (reported, no target);
                    Radicale by default gets one PUT of the whole collection
                    (its import), as its PUT of a new item reads every item of
                    the collection for the UID check (`has_uid`): item by item
                    (--peer-seed put) 2,000 contacts took 213 s, and 10,000
                    would take hours. The item names are the UID and a suffix,
                    the names Radicale gives on such an import.
  first, PROPFIND   PROPFIND Depth 1 (getetag, getcontenttype), then
                    addressbook-/calendar-multiget of every href in batches of
                    --batch (100): the vdirsyncer way
  first, sync       sync-collection (RFC 6578) with an empty token, then the
                    same multigets: the DAVx5 way; the token is kept
  changes           --changes (10) edits by another client: three in five
                    modified, the rest half new items, half deleted (no target)
  incr., sync       sync-collection with the kept token, multiget of the
                    changed hrefs; the deleted ones must come back as 404
  incr., PROPFIND   PROPFIND Depth 1, etags compared with the local copy,
                    multiget of what differs

Every answer is checked (counts, every item's data and ETag, exactly the
changed names), so a fast wrong answer fails the run. Each sync step is
timed --rounds (3) times, the servers taking turns, and the best run is
kept; with it the server's CPU time (its process tree, from /proc).
Printed per step: Roost s, Radicale s, ratio = Radicale / Roost (>= 1.0:
Roost at least as fast), the same for CPU, and the target (issue 16: sync at
least Radicale's speed).

    .venv/bin/python bench/dav.py [--contacts 10000] [--events 10000] [--changes 10]
        [--batch 100] [--rounds 3] [--seed N] [--quick] [--peer-seed whole|put]
        [--skip-peers] [--profile FILE]

--quick: 500 of each and 2 rounds. --profile FILE runs Roost under cProfile
and writes its statistics there when it stops (timings are then Roost's
under the profiler: read them for where the time goes, not as figures).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import importlib.util
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote
from xml.etree import ElementTree as ET

import httpx

from imap_peers import BenchError, cpu_between, free_port, tree

HOST = "127.0.0.1"
USER = "bench@example.org"
PASSWORD = "bench-password-1"
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 60.0
IO_TIMEOUT_S = 600.0
TARGET_RATIO = 1.0
CPU_RESOLUTION_S = 0.05
"""Below this (five clock ticks) a CPU ratio is not shown."""
ROOST = [sys.executable, "-m", "roost"]
DAV_NS = "DAV:"
CARDDAV_NS = "urn:ietf:params:xml:ns:carddav"
CALDAV_NS = "urn:ietf:params:xml:ns:caldav"
CONTACTS_LABEL, EVENTS_LABEL = "contacts", "events"

FIRST = ("Anna", "Ben", "Chloé", "David", "Emma", "Felix", "Greta", "Hugo", "Ida", "Jonas",
         "Klara", "Lukas", "Mia", "Noah", "Olga")  # fmt: skip
LAST = ("Müller", "Schmidt", "Smith", "Jones", "García", "Rossi", "Dubois", "Novak", "Berg",
        "Larsen", "Kowalski", "Silva")  # fmt: skip
WORDS = ("meeting", "review", "budget", "lunch", "planning", "call", "dentist", "team",
         "quarterly", "release", "offsite", "workshop", "training", "interview", "school",
         "football", "concert", "dinner", "flight", "project", "kickoff", "retro",
         "sync")  # fmt: skip
DAYS = ("MO", "TU", "WE", "TH", "FR")
BERLIN = (
    "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nX-LIC-LOCATION:Europe/Berlin\r\n"
    "BEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\n"
    "DTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\n"
    "BEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\n"
    "DTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\n"
    "END:VTIMEZONE\r\n"
)


# -- the data --------------------------------------------------------------------------


def fold(line: str) -> str:
    """RFC 5545 §3.1 / RFC 6350 §3.2: lines over 75 octets continue after CRLF SPACE,
    never inside a UTF-8 sequence."""
    if line.isascii():
        if len(line) <= 75:
            return line + "\r\n"
        parts = [line[:75]] + [line[i : i + 74] for i in range(75, len(line), 74)]
        return "\r\n ".join(parts) + "\r\n"
    parts, current, size, limit = [], "", 0, 75
    for char in line:
        octets = len(char.encode())
        if size + octets > limit:
            parts.append(current)
            current, size, limit = "", 0, 74
        current += char
        size += octets
    return "\r\n ".join([*parts, current]) + "\r\n"


def uid_of(label: str, seed: int, number: int) -> str:
    return f"{label}-{seed}-{number:06d}"


def _sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def vcard(seed: int, number: int, revision: int) -> str:
    """Contact `number`; a new `revision` changes its note and phone, as an edit does."""
    rng = random.Random(f"{seed}-card-{number}")
    first, last = rng.choice(FIRST), rng.choice(LAST)
    v4 = number % 3 == 0
    lines = [
        "BEGIN:VCARD",
        f"VERSION:{'4.0' if v4 else '3.0'}",
        f"UID:{uid_of(CONTACTS_LABEL, seed, number)}",
    ]
    lines += [f"FN:{first} {last}", f"N:{last};{first};;;"]
    mail = f"{first.lower()}.{last.lower()}{number}@example.com".encode("ascii", "ignore").decode()
    for n in range(rng.randint(1, 3)):
        kind = ("home", "work", "other")[n]
        lines.append(f"EMAIL;TYPE={kind if v4 else 'INTERNET,' + kind.upper()}:{n}{mail}")
    for n in range(rng.randint(1, 3)):
        kind = ("cell", "work", "home")[n]
        digits = rng.randint(1_000_000, 9_999_999) + revision
        lines.append(f"TEL;TYPE={kind if v4 else kind.upper()}:+49 17{n} {digits}")
    if rng.random() < 0.6:
        street = f"{rng.choice(LAST)}straße {rng.randint(1, 200)}"
        lines.append(
            f"ADR;TYPE={'home' if v4 else 'HOME'}:;;{street};Berlin;;1{number % 10000:04d};Germany"
        )
    if rng.random() < 0.5:
        lines += [f"ORG:{rng.choice(LAST)} {rng.choice(('GmbH', 'Ltd', 'AG', 'SA'))}"]
        lines += [f"TITLE:{rng.choice(WORDS).capitalize()} lead"]
    if rng.random() < 0.4:
        lines.append(
            f"BDAY:{rng.randint(1950, 2010)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        )
    if revision or rng.random() < 0.5:
        note = _sentence(rng, rng.randint(5, 60)) + (f" Edited {revision}." if revision else "")
        lines.append(f"NOTE:{note}")
    if number % 20 == 7:
        photo = base64.b64encode(rng.randbytes(rng.randint(1500, 4500))).decode()
        lines.append(
            f"PHOTO:data:image/jpeg;base64,{photo}" if v4 else f"PHOTO;ENCODING=b;TYPE=JPEG:{photo}"
        )
    lines += [f"REV:2025{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}T120000Z", "END:VCARD"]
    return "".join(fold(line) for line in lines)


def vevent(seed: int, number: int, revision: int) -> str:
    """Event `number`; a new `revision` changes its summary and sequence, as an edit does."""
    rng = random.Random(f"{seed}-event-{number}")
    uid = uid_of(EVENTS_LABEL, seed, number)
    month, day, hour = rng.randint(1, 12), rng.randint(1, 27), rng.randint(7, 19)
    year = rng.choice((2025, 2026, 2027))
    style = rng.random()
    if style < 0.5:
        zone = "Europe/Berlin"
        start = f"DTSTART;TZID={zone}:{year}{month:02d}{day:02d}T{hour:02d}0000"
        end = f"DTEND;TZID={zone}:{year}{month:02d}{day:02d}T{hour + 1:02d}0000"
    elif style < 0.85:
        zone = ""
        start = f"DTSTART:{year}{month:02d}{day:02d}T{hour:02d}3000Z"
        end = f"DTEND:{year}{month:02d}{day:02d}T{hour + 1:02d}0000Z"
    else:
        zone = ""
        start = f"DTSTART;VALUE=DATE:{year}{month:02d}{day:02d}"
        end = f"DTEND;VALUE=DATE:{year}{month:02d}{day + 1:02d}"
    summary = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 4))).capitalize()
    if revision:
        summary += f" (moved, {revision})"
    main = [
        "BEGIN:VEVENT",
        f"UID:{uid}",
        "DTSTAMP:20250101T090000Z",
        "CREATED:20241201T090000Z",
        f"LAST-MODIFIED:2025010{1 + revision % 9}T090000Z",
        f"SEQUENCE:{revision}",
        f"SUMMARY:{summary}",
        start,
        end,
    ]
    if rng.random() < 0.6:
        main.append(f"LOCATION:Room {rng.randint(1, 40)}\\, {rng.choice(LAST)} building")
    if rng.random() < 0.5:
        main.append(f"DESCRIPTION:{_sentence(rng, rng.randint(5, 120))}")
    recurring = number % 5 == 2
    overridden = ""
    if recurring:
        match rng.randint(0, 3):
            case 0:
                main.append(
                    f"RRULE:FREQ=WEEKLY;BYDAY={rng.choice(DAYS)};COUNT={rng.randint(5, 52)}"
                )
            case 1:
                main.append(f"RRULE:FREQ=DAILY;UNTIL={year}1231T235959Z")
            case 2:
                main.append("RRULE:FREQ=MONTHLY;INTERVAL=1")
            case _:
                main.append("RRULE:FREQ=YEARLY")
        if number % 25 == 2 and "VALUE=DATE" not in start:
            moved = start.split(":", 1)[1]
            main.append(start.replace("DTSTART", "EXDATE").replace(moved[:8], f"{year + 1}0105"))
        if number % 50 == 12 and "VALUE=DATE" not in start:
            overridden = start.split(":", 1)[1].replace(str(year), str(year + 2), 1)
    if rng.random() < 0.4:
        organizer = rng.choice(FIRST)
        main.append(f"ORGANIZER;CN={organizer}:mailto:{organizer.lower()}@example.com")
        for n in range(rng.randint(1, 6)):
            who = rng.choice(FIRST)
            main.append(
                f"ATTENDEE;CN={who};PARTSTAT={rng.choice(('ACCEPTED', 'NEEDS-ACTION'))};"
                f"ROLE=REQ-PARTICIPANT;RSVP=TRUE:mailto:{who.lower()}{n}@example.com"
            )
    if rng.random() < 0.5:
        main += ["BEGIN:VALARM", "ACTION:DISPLAY", "DESCRIPTION:Reminder"]
        main += [f"TRIGGER:-PT{rng.choice((5, 10, 15, 30))}M", "END:VALARM"]
    main.append("END:VEVENT")
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Roost//bench//EN", *main]
    if overridden:
        tzid = f";TZID={zone}" if zone else ""
        lines += [
            "BEGIN:VEVENT",
            f"UID:{uid}",
            "DTSTAMP:20250101T090000Z",
            f"RECURRENCE-ID{tzid}:{overridden}",
            f"DTSTART{tzid}:{overridden[:9]}1500{overridden[13:]}",
            f"DTEND{tzid}:{overridden[:9]}1600{overridden[13:]}",
            f"SUMMARY:{summary} (this once later)",
            "END:VEVENT",
        ]
    text = "".join(fold(line) for line in [*lines, "END:VCALENDAR"])
    if zone:
        text = text.replace("BEGIN:VEVENT", BERLIN + "BEGIN:VEVENT", 1)
    return text


@dataclass(frozen=True)
class Kind:
    """One collection type: its items, its media type and its multiget."""

    label: str
    suffix: str
    media_type: str
    namespace: str
    multiget: str
    data: str
    make: Callable[[int, int, int], str]


CONTACTS = Kind(
    CONTACTS_LABEL, ".vcf", "text/vcard", CARDDAV_NS, "addressbook-multiget", "address-data", vcard
)
EVENTS = Kind(
    EVENTS_LABEL, ".ics", "text/calendar", CALDAV_NS, "calendar-multiget", "calendar-data", vevent
)


def whole_collection(kind: Kind, texts: list[str]) -> str:
    """The items as one body: vCards one after the other, or one VCALENDAR (RFC 5545
    §3.4) with the time zone once and every item's components."""
    if kind is CONTACTS:
        return "".join(texts)
    components = [t[t.index("BEGIN:VEVENT") : t.rindex("END:VEVENT") + 12] for t in texts]
    head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Roost//bench//EN\r\n" + BERLIN
    return head + "".join(components) + "END:VCALENDAR\r\n"


def item_name(kind: Kind, seed: int, number: int) -> str:
    """The UID and the suffix: the name Radicale gives an item of a collection PUT whole."""
    return uid_of(kind.label, seed, number) + kind.suffix


# -- the servers ------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    pid: int
    origin: str
    collections: dict[str, str]
    """Path of the collection for each Kind's label, ending in /."""


def wait_for_http(origin: str, alive: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if not alive():
            raise BenchError(f"{what} exited while starting")
        with contextlib.suppress(httpx.TransportError):
            httpx.get(origin + "/", timeout=2)
            return
        time.sleep(0.1)
    raise BenchError(f"{what} did not answer HTTP at {origin} within {START_TIMEOUT_S:g} s")


@contextlib.contextmanager
def running(command: list[str], log: Path, origin: str, what: str) -> Iterator[int]:
    """A server process until the block ends; SIGTERM then, so a profiler can write."""
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        try:
            try:
                wait_for_http(origin, lambda: proc.poll() is None, what)
            except BenchError as exc:
                tail = log.read_text(errors="replace")[-2000:]
                raise BenchError(f"{exc}; its output ends:\n{tail}") from None
            yield proc.pid
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=STOP_TIMEOUT_S)


@contextlib.contextmanager
def roost_server(folder: Path, profile: Path | None) -> Iterator[Server]:
    """Roost's web listener only, on a free port; the account made through the API."""
    from roost.core.config import load
    from roost.local_api import local_api

    port = free_port()
    config = folder / "roost.toml"
    config.write_text(
        '[roost]\ndata_dir = "data"\nnode_name = "bench"\n'
        f'[web]\nlisten = ["{HOST}:{port}"]\ntls_listen = []\n'
        "[smtp]\nmx_listen = []\nsubmission_listen = []\nsubmissions_listen = []\n"
        "[pop]\nlisten = []\ntls_listen = []\n[imap]\nlisten = []\ntls_listen = []\n"
        "[xmpp]\nlisten = []\ntls_listen = []\n"
        '[dns]\nnameservers = ["127.0.0.1:9"]\ntimeout_s = 0.2\n'
        '[log]\nlevel = "warning"\n'
    )

    async def fill() -> None:
        async with local_api(load(config)) as api:
            (await api.post("/api/v1/domains", json={"name": "example.org"})).raise_for_status()
            body = {"address": USER, "password": PASSWORD}
            (await api.post("/api/v1/accounts", json=body)).raise_for_status()

    asyncio.run(fill())
    command = [*ROOST, "--config", str(config), "serve"]
    if profile is not None:
        command = [sys.executable, "-m", "cProfile", "-o", str(profile), *command[1:]]
    origin = f"http://{HOST}:{port}"
    with running(command, folder / "serve.log", origin, "Roost") as pid:
        yield Server(
            "Roost",
            pid,
            origin,
            {
                CONTACTS.label: f"/dav/addressbooks/{USER}/contacts/",
                EVENTS.label: f"/dav/calendars/{USER}/calendar/",
            },
        )


MKCOL_ADDRESSBOOK = (
    f'<?xml version="1.0" encoding="utf-8"?><D:mkcol xmlns:D="{DAV_NS}" xmlns:C="{CARDDAV_NS}">'
    "<D:set><D:prop><D:resourcetype><D:collection/><C:addressbook/></D:resourcetype>"
    "<D:displayname>Contacts</D:displayname></D:prop></D:set></D:mkcol>"
)


@contextlib.contextmanager
def radicale_server(folder: Path) -> Iterator[Server]:
    """Radicale as the DAV tests run it (tests/dav_support.py), logging warnings only;
    the address book and the calendar made as a client makes them."""
    (folder / "users").write_text(f"{USER}:{PASSWORD}\n")
    port = free_port()
    command = [
        sys.executable, "-m", "radicale",
        "--server-hosts", f"{HOST}:{port}",
        "--storage-filesystem-folder", str(folder / "collections"),
        "--auth-type", "htpasswd",
        "--auth-htpasswd-filename", str(folder / "users"),
        "--auth-htpasswd-encryption", "plain",
        "--rights-type", "owner_only",
        "--logging-level", "warning",
    ]  # fmt: skip
    origin = f"http://{HOST}:{port}"
    with running(command, folder / "radicale.log", origin, "Radicale") as pid:
        server = Server(
            "Radicale",
            pid,
            origin,
            {CONTACTS.label: f"/{USER}/contacts/", EVENTS.label: f"/{USER}/calendar/"},
        )
        with DavClient(server) as client:
            client.call("PROPFIND", f"/{USER}/", b"", {"Depth": "0"}, (207,))
            client.call("MKCOL", server.collections[CONTACTS.label], MKCOL_ADDRESSBOOK, {}, (201,))
            client.call("MKCALENDAR", server.collections[EVENTS.label], b"", {}, (201,))
        yield server


def radicale_problem() -> str | None:
    if importlib.util.find_spec("radicale") is None:
        return "the radicale package is not installed (it is a dev dependency)"
    return None


# -- the client -------------------------------------------------------------------------


@dataclass
class Entry:
    """What a multistatus says of one href."""

    href: str
    status: int
    etag: str = ""
    data: str = ""


@dataclass
class Replica:
    """The client's copy of one collection: name -> (etag, data), and its sync token."""

    items: dict[str, tuple[str, str]] = field(default_factory=dict)
    token: str = ""


def name_of(href: str) -> str:
    return unquote(href.rstrip("/").rsplit("/", 1)[-1])


def _status(text: str | None) -> int:
    parts = (text or "").split()
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def parse_multistatus(body: bytes, kind: Kind | None) -> tuple[list[Entry], str]:
    """The responses of a 207 and its sync-token (RFC 4918 §14.16, RFC 6578 §6.4)."""
    root = ET.fromstring(body)
    if root.tag != f"{{{DAV_NS}}}multistatus":
        raise BenchError(f"not a multistatus: {body[:200]!r}")
    entries = []
    data_tag = f"{{{kind.namespace}}}{kind.data}" if kind else ""
    for response in root.iter(f"{{{DAV_NS}}}response"):
        href = response.findtext(f"{{{DAV_NS}}}href") or ""
        entry = Entry(href, _status(response.findtext(f"{{{DAV_NS}}}status")))
        for stat in response.iter(f"{{{DAV_NS}}}propstat"):
            if _status(stat.findtext(f"{{{DAV_NS}}}status")) != 200:
                continue
            entry.status = 200
            prop = stat.find(f"{{{DAV_NS}}}prop")
            if prop is None:
                continue
            entry.etag = prop.findtext(f"{{{DAV_NS}}}getetag") or entry.etag
            if data_tag:
                entry.data = prop.findtext(data_tag) or entry.data
        entries.append(entry)
    return entries, root.findtext(f"{{{DAV_NS}}}sync-token") or ""


class DavClient:
    """One keep-alive HTTP/1.1 connection, Basic credentials sent with every request."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.http = httpx.Client(
            base_url=server.origin,
            auth=(USER, PASSWORD),
            timeout=IO_TIMEOUT_S,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        )

    def __enter__(self) -> DavClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def call(
        self,
        method: str,
        path: str,
        body: bytes | str,
        headers: dict[str, str],
        expect: tuple[int, ...],
    ) -> httpx.Response:
        content = body.encode() if isinstance(body, str) else body
        if content and "Content-Type" not in headers:
            headers = {**headers, "Content-Type": "application/xml; charset=utf-8"}
        answer = self.http.request(method, path, content=content, headers=headers)
        if answer.status_code not in expect:
            raise BenchError(
                f"{self.server.name}: {method} {path} answered {answer.status_code}: "
                f"{answer.text[:300]}"
            )
        return answer

    def put(self, kind: Kind, collection: str, name: str, text: str, etag: str = "") -> str:
        precondition = {"If-Match": etag} if etag else {"If-None-Match": "*"}
        answer = self.call(
            "PUT",
            collection + name,
            text,
            {"Content-Type": f"{kind.media_type}; charset=utf-8", **precondition},
            (201, 204),
        )
        if not (etag := str(answer.headers.get("etag", ""))):
            raise BenchError(f"{self.server.name}: PUT {name} answered without an ETag")
        return etag

    def put_whole(self, kind: Kind, collection: str, body: str) -> None:
        """Radicale's import: a PUT on the collection replaces it with the items in the body."""
        headers = {"Content-Type": f"{kind.media_type}; charset=utf-8"}
        self.call("PUT", collection, body, headers, (201, 204))

    def propfind(self, collection: str) -> dict[str, tuple[str, str]]:
        """href -> (name, etag) of every item in the collection (Depth 1)."""
        body = (
            f'<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="{DAV_NS}"><D:prop>'
            "<D:resourcetype/><D:getcontenttype/><D:getetag/></D:prop></D:propfind>"
        )
        answer = self.call("PROPFIND", collection, body, {"Depth": "1"}, (207,))
        entries, _ = parse_multistatus(answer.content, None)
        return {
            e.href: (name_of(e.href), e.etag)
            for e in entries
            if e.status == 200 and not e.href.endswith("/")
        }

    def sync(self, collection: str, token: str) -> tuple[list[Entry], str]:
        body = (
            f'<?xml version="1.0" encoding="utf-8"?><D:sync-collection xmlns:D="{DAV_NS}">'
            f"<D:sync-token>{token}</D:sync-token><D:sync-level>1</D:sync-level>"
            "<D:prop><D:getetag/></D:prop></D:sync-collection>"
        )
        answer = self.call("REPORT", collection, body, {"Depth": "1"}, (207,))
        entries, new_token = parse_multistatus(answer.content, None)
        if not new_token:
            raise BenchError(f"{self.server.name}: sync-collection gave no token")
        return [e for e in entries if not e.href.endswith("/")], new_token

    def multiget(self, kind: Kind, collection: str, hrefs: list[str], batch: int) -> list[Entry]:
        found: list[Entry] = []
        for start in range(0, len(hrefs), batch):
            named = "".join(f"<D:href>{h}</D:href>" for h in hrefs[start : start + batch])
            body = (
                f'<?xml version="1.0" encoding="utf-8"?><C:{kind.multiget} xmlns:D="{DAV_NS}" '
                f'xmlns:C="{kind.namespace}"><D:prop><D:getetag/><C:{kind.data}/></D:prop>'
                f"{named}</C:{kind.multiget}>"
            )
            answer = self.call("REPORT", collection, body, {"Depth": "1"}, (207,))
            entries, _ = parse_multistatus(answer.content, kind)
            found += entries
        return found


# -- the steps --------------------------------------------------------------------------


@dataclass
class Timing:
    wall_s: float
    cpu_s: float


@contextlib.contextmanager
def timed(server: Server, into: list[Timing]) -> Iterator[None]:
    before = tree(server.pid)
    began = time.perf_counter()
    yield
    wall = time.perf_counter() - began
    into.append(Timing(wall, cpu_between(before, tree(server.pid))))


def fetch_all(
    client: DavClient, kind: Kind, collection: str, listing: dict[str, str], batch: int
) -> dict[str, tuple[str, str]]:
    """Multiget of every href in `listing` (href -> etag): name -> (etag, data)."""
    got = client.multiget(kind, collection, list(listing), batch)
    items = {}
    for entry in got:
        if entry.status != 200 or not entry.data or not entry.etag:
            raise BenchError(f"{client.server.name}: multiget of {entry.href} gave no data")
        items[name_of(entry.href)] = (entry.etag, entry.data)
    if len(items) != len(listing):
        raise BenchError(f"{client.server.name}: asked for {len(listing)}, got {len(items)}")
    return items


def check_complete(server: Server, items: Mapping[str, object], expected: set[str]) -> None:
    if set(items) != expected:
        missing, extra = len(expected - set(items)), len(set(items) - expected)
        raise BenchError(f"{server.name}: the sync is {missing} items short, {extra} too many")


def first_sync_propfind(
    client: DavClient, kind: Kind, collection: str, batch: int
) -> dict[str, tuple[str, str]]:
    listing = client.propfind(collection)
    items = fetch_all(client, kind, collection, {h: e for h, (_n, e) in listing.items()}, batch)
    for _href, (name, etag) in listing.items():
        if items[name][0] != etag:
            raise BenchError(f"{client.server.name}: {name}'s ETag differs between reports")
    return items


def first_sync_collection(client: DavClient, kind: Kind, collection: str, batch: int) -> Replica:
    entries, token = client.sync(collection, "")
    listing = {e.href: e.etag for e in entries if e.status == 200}
    return Replica(fetch_all(client, kind, collection, listing, batch), token)


def incremental_sync(
    client: DavClient, kind: Kind, collection: str, replica: Replica, batch: int
) -> tuple[set[str], set[str]]:
    """RFC 6578 §3.8: what changed since the token; the replica is brought up to date.
    Returns the names changed and the names deleted."""
    entries, replica.token = client.sync(collection, replica.token)
    changed = {e.href: e.etag for e in entries if e.status == 200}
    deleted = {name_of(e.href) for e in entries if e.status == 404}
    replica.items.update(fetch_all(client, kind, collection, changed, batch))
    for name in deleted:
        replica.items.pop(name, None)
    return {name_of(h) for h in changed}, deleted


def incremental_propfind(
    client: DavClient, kind: Kind, collection: str, replica: Replica, batch: int
) -> tuple[set[str], set[str]]:
    """The vdirsyncer way: every href's ETag, compared with the local copy."""
    listing = client.propfind(collection)
    stale = {h: e for h, (n, e) in listing.items() if replica.items.get(n, ("", ""))[0] != e}
    present = {n for n, _e in listing.values()}
    deleted = set(replica.items) - present
    replica.items.update(fetch_all(client, kind, collection, stale, batch))
    for name in deleted:
        del replica.items[name]
    return {name_of(h) for h in stale}, deleted


@dataclass
class Plan:
    """One round's changes, the same for every server."""

    modified: list[int]
    added: list[int]
    deleted: list[int]

    def names(self, kind: Kind, seed: int) -> tuple[set[str], set[str]]:
        changed = {item_name(kind, seed, n) for n in self.modified + self.added}
        return changed, {item_name(kind, seed, n) for n in self.deleted}


def plan_changes(rng: random.Random, alive: list[int], next_number: int, changes: int) -> Plan:
    modified_count = max(1, changes * 3 // 5) if changes > 1 else changes
    rest = changes - modified_count
    picked = rng.sample(alive, modified_count + rest - rest // 2)
    added = list(range(next_number, next_number + rest // 2))
    return Plan(picked[:modified_count], added, picked[modified_count:])


def apply_changes(
    client: DavClient,
    kind: Kind,
    collection: str,
    plan: Plan,
    seed: int,
    revision: int,
    etags: dict[str, str],
) -> None:
    """Another client's edits: If-Match PUTs, new items, DELETEs."""
    for number in plan.modified:
        name = item_name(kind, seed, number)
        text = kind.make(seed, number, revision)
        etags[name] = client.put(kind, collection, name, text, etags[name])
    for number in plan.added:
        name = item_name(kind, seed, number)
        etags[name] = client.put(kind, collection, name, kind.make(seed, number, 0))
    for number in plan.deleted:
        name = item_name(kind, seed, number)
        client.call("DELETE", collection + name, b"", {"If-Match": etags.pop(name)}, (204, 200))


# -- the run ----------------------------------------------------------------------------

STEPS = (
    ("seed", "seed ({n:,} PUT)", False),
    ("first_propfind", "first sync: PROPFIND + multiget", True),
    ("first_sync", "first sync: sync-collection + multiget", True),
    ("changes", "{c} changes (PUT, DELETE)", False),
    ("incr_sync", "incremental: sync-collection + multiget", True),
    ("incr_propfind", "incremental: PROPFIND + multiget", True),
)


@dataclass
class Results:
    """Timings by (kind label, step key, server name)."""

    runs: dict[tuple[str, str, str], list[Timing]] = field(default_factory=dict)

    def slot(self, kind: Kind, step: str, server: Server) -> list[Timing]:
        return self.runs.setdefault((kind.label, step, server.name), [])

    def best(self, label: str, step: str, name: str) -> Timing | None:
        runs = self.runs.get((label, step, name))
        return min(runs, key=lambda t: t.wall_s) if runs else None


def bench_kind(
    kind: Kind,
    count: int,
    servers: list[Server],
    clients: dict[str, DavClient],
    args: argparse.Namespace,
    results: Results,
) -> None:
    seed = args.seed
    texts = [kind.make(seed, n, 0) for n in range(count)]
    octets = sum(len(t.encode()) for t in texts)
    print(
        f"\n{kind.label}: {count:,} items, {octets / 1e6:.1f} MB "
        f"(mean {octets / max(count, 1) / 1024:.1f} KB)",
        flush=True,
    )
    etags: dict[str, dict[str, str]] = {s.name: {} for s in servers}
    for server in servers:
        client, collection = clients[server.name], server.collections[kind.label]
        whole = server.name != "Roost" and args.peer_seed == "whole"
        with timed(server, results.slot(kind, "seed", server)):
            if whole:
                client.put_whole(kind, collection, whole_collection(kind, texts))
            else:
                for number, text in enumerate(texts):
                    name = item_name(kind, seed, number)
                    etags[server.name][name] = client.put(kind, collection, name, text)
        took = results.slot(kind, "seed", server)[-1].wall_s
        if whole:
            etags[server.name] = {n: e for n, e in client.propfind(collection).values()}
            check_complete(
                server, etags[server.name], {item_name(kind, seed, n) for n in range(count)}
            )
            print(
                f"  {server.name:<8} seeded in {took:.1f} s (one PUT of the collection)", flush=True
            )
        else:
            print(
                f"  {server.name:<8} seeded in {took:.1f} s ({count / took:.0f} PUT/s)", flush=True
            )
    alive = list(range(count))
    next_number = count
    rng = random.Random(f"{seed}-changes-{kind.label}")
    for round_number in range(1, args.rounds + 1):
        plan = plan_changes(rng, alive, next_number, args.changes)
        expected_changed, expected_deleted = plan.names(kind, seed)
        order = servers if round_number % 2 else servers[::-1]
        for server in order:
            client, collection = clients[server.name], server.collections[kind.label]
            expected = set(etags[server.name])
            with timed(server, results.slot(kind, "first_propfind", server)):
                items = first_sync_propfind(client, kind, collection, args.batch)
            check_complete(server, items, expected)
            with timed(server, results.slot(kind, "first_sync", server)):
                replica = first_sync_collection(client, kind, collection, args.batch)
            check_complete(server, replica.items, expected)
            by_propfind = Replica(dict(replica.items))
            with timed(server, results.slot(kind, "changes", server)):
                apply_changes(
                    client, kind, collection, plan, seed, round_number, etags[server.name]
                )
            for step, sync in (
                ("incr_sync", incremental_sync),
                ("incr_propfind", incremental_propfind),
            ):
                copy = replica if step == "incr_sync" else by_propfind
                with timed(server, results.slot(kind, step, server)):
                    changed, deleted = sync(client, kind, collection, copy, args.batch)
                if changed != expected_changed or deleted != expected_deleted:
                    raise BenchError(
                        f"{server.name}: {step} found {len(changed)} changed, {len(deleted)} "
                        f"deleted; expected {len(expected_changed)} and {len(expected_deleted)}"
                    )
                check_complete(server, copy.items, set(etags[server.name]))
        alive = [n for n in alive if n not in plan.deleted] + plan.added
        next_number += len(plan.added)
        line = ", ".join(
            f"{s.name} {results.slot(kind, 'first_propfind', s)[-1].wall_s:.2f}/"
            f"{results.slot(kind, 'incr_sync', s)[-1].wall_s:.3f} s"
            for s in servers
        )
        print(f"  round {round_number}: first (PROPFIND) / incremental (sync): {line}", flush=True)


def report(results: Results, counts: dict[str, int], args: argparse.Namespace) -> bool:
    names = sorted({name for (_l, _s, name) in results.runs}, key=lambda n: n != "Roost")
    peer = "Radicale" if "Radicale" in names else ""
    print(f"\nBest of {args.rounds} rounds (sync steps); ratio = Radicale / Roost, >= 1 is faster")
    head = f"{'step':<52} {'Roost s':>9} {'Radicale s':>10} {'ratio':>6}"
    head += f" {'Roost CPU':>9} {'Rad. CPU':>9} {'ratio':>6}  target"
    print(head)
    print("-" * len(head))
    all_met = True
    for kind in (CONTACTS, EVENTS):
        if not counts[kind.label]:
            continue
        for step, title, is_target in STEPS:
            label = f"{kind.label}: " + title.format(n=counts[kind.label], c=args.changes)
            ours = results.best(kind.label, step, "Roost")
            theirs = results.best(kind.label, step, peer) if peer else None
            if ours is None:
                continue
            row = f"{label:<52} {ours.wall_s:9.3f}"
            verdict = ""
            if theirs is not None:
                ratio = theirs.wall_s / ours.wall_s
                unlike = step == "seed" and args.peer_seed == "whole"
                shown = f"{'~' if unlike else f'{ratio:.2f}':>6}"
                row += f" {theirs.wall_s:10.3f} {shown} {ours.cpu_s:9.2f} {theirs.cpu_s:9.2f}"
                if unlike:
                    row += f" {'~':>6}"
                elif min(ours.cpu_s, theirs.cpu_s) >= CPU_RESOLUTION_S:
                    row += f" {theirs.cpu_s / ours.cpu_s:6.2f}"
                else:  # a few clock ticks: the ratio would be noise
                    row += f" {'~':>6}"
                if is_target:
                    met = ratio >= TARGET_RATIO
                    all_met &= met
                    verdict = "met" if met else "NOT met"
                else:
                    verdict = "(Radicale: one PUT of all)" if unlike else "(no target)"
            else:
                row += f" {'-':>10} {'-':>6} {ours.cpu_s:9.2f}"
            print(f"{row}  {verdict}".rstrip())
    if peer:
        print(
            f"target: every sync step at least Radicale's speed (ratio >= {TARGET_RATIO:g}): "
            f"{'met' if all_met else 'NOT met'}"
        )
    return all_met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--changes", type=int, default=10)
    parser.add_argument("--batch", type=int, default=100, help="hrefs per multiget")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--quick", action="store_true", help="500 of each, 2 rounds")
    parser.add_argument(
        "--peer-seed",
        choices=("whole", "put"),
        default="whole",
        help="seed Radicale with one PUT of the whole collection (default: its PUT of a new "
        "item reads the whole collection, so 10,000 of them take hours) or item by item",
    )
    parser.add_argument("--skip-peers", action="store_true", help="Roost only")
    parser.add_argument("--profile", type=Path, help="run Roost under cProfile, stats here")
    args = parser.parse_args()
    if args.quick:
        args.contacts, args.events, args.rounds = 500, 500, 2
    if min(args.contacts, args.events, args.changes) < 0 or args.rounds < 1 or args.batch < 1:
        parser.error("counts must be >= 0, --rounds and --batch >= 1")
    if any(0 < count < args.changes for count in (args.contacts, args.events)):
        parser.error("--changes must not exceed the items in a collection")
    print(
        f"DAV sync: {args.contacts:,} contacts, {args.events:,} events, {args.changes} changes, "
        f"multiget batches of {args.batch}; {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.2f}",
        flush=True,
    )
    problem = "--skip-peers" if args.skip_peers else radicale_problem()
    if problem is not None:
        print(f"Skipped Radicale: {problem}")
    results = Results()
    with contextlib.ExitStack() as stack:
        servers = []
        roost_folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="roost-dav-")))
        servers.append(stack.enter_context(roost_server(roost_folder, args.profile)))
        if problem is None:
            peer_folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="radicale-")))
            servers.append(stack.enter_context(radicale_server(peer_folder)))
        clients = {s.name: stack.enter_context(DavClient(s)) for s in servers}
        for kind, count in ((CONTACTS, args.contacts), (EVENTS, args.events)):
            if count:
                bench_kind(kind, count, servers, clients, args, results)
    report(results, {CONTACTS.label: args.contacts, EVENTS.label: args.events}, args)
    print(f"Load average at the end: {os.getloadavg()[0]:.2f}")
    if args.profile is not None:
        print(f"Roost's profile: {args.profile} (python -m pstats {args.profile})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
