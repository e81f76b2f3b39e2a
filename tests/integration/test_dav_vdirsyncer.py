"""Debian's vdirsyncer against a DAV server, Radicale first (to prove the test)
and then Roost: discovery (RFC 6764), a first sync of a calendar and an
address book into local folders, a collection made on the server from a local
folder, edits and a delete on each side synced again, and a conflicting edit
that vdirsyncer reports and then resolves by rule. khal and khard each read
the synced folders once."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import httpx

from tests.conftest import require_tool
from tests.dav_support import DavServer, radicale_dav, roost_dav

RUN_TIMEOUT_S = 120


def event(uid: str, summary: str, day: int) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n"
        f"DTSTART:202606{day:02d}T090000Z\r\nDTEND:202606{day:02d}T100000Z\r\n"
        f"SUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def card(uid: str, name: str) -> str:
    return (
        f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{name}\r\n"
        f"N:{name.split()[-1]};{name.split()[0]};;;\r\n"
        f"EMAIL:{uid}@example.org\r\nEND:VCARD\r\n"
    )


MKCOL_BOOK = (
    '<D:mkcol xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:set><D:prop>'
    "<D:resourcetype><D:collection/><CR:addressbook/></D:resourcetype>"
    "<D:displayname>People</D:displayname></D:prop></D:set></D:mkcol>"
)


class Vdirsyncer:
    """vdirsyncer with its own home, config and status folder."""

    def __init__(self, folder: Path, server: DavServer) -> None:
        self.binary = require_tool("vdirsyncer", "vdirsyncer")
        self.folder = folder
        self.server = server
        self.calendars = folder / "calendars"
        self.contacts = folder / "contacts"
        self.calendars.mkdir(parents=True)
        self.contacts.mkdir()
        self.config = folder / "config"
        self.write_config("null")

    def write_config(self, conflict_resolution: str) -> None:
        s = self.server
        self.config.write_text(
            f'[general]\nstatus_path = "{self.folder / "status"}"\n\n'
            "[pair cal]\n"
            'a = "cal_local"\nb = "cal_remote"\n'
            'collections = ["from a", "from b"]\n'
            f"conflict_resolution = {conflict_resolution}\n\n"
            "[storage cal_local]\n"
            f'type = "filesystem"\npath = "{self.calendars}"\nfileext = ".ics"\n\n'
            "[storage cal_remote]\n"
            f'type = "caldav"\nurl = "{s.origin}/"\n'
            f'username = "{s.user}"\npassword = "{s.password}"\n\n'
            "[pair card]\n"
            'a = "card_local"\nb = "card_remote"\n'
            'collections = ["from b"]\n'
            f"conflict_resolution = {conflict_resolution}\n\n"
            "[storage card_local]\n"
            f'type = "filesystem"\npath = "{self.contacts}"\nfileext = ".vcf"\n\n'
            "[storage card_remote]\n"
            f'type = "carddav"\nurl = "{s.origin}/"\n'
            f'username = "{s.user}"\npassword = "{s.password}"\n'
        )

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "HOME": str(self.folder),
            "XDG_CONFIG_HOME": str(self.folder / "xdg"),
        }
        return subprocess.run(
            [self.binary, "-c", str(self.config), *args],
            input="y\n" * 20,
            capture_output=True,
            text=True,
            env=env,
            timeout=RUN_TIMEOUT_S,
            check=False,
        )

    def ok(self, *args: str) -> str:
        done = self.run(*args)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout + done.stderr


def local_file(folder: Path, uid: str) -> Path:
    """The local file that holds UID (vdirsyncer picks its file names)."""
    found = [p for p in folder.iterdir() if f"UID:{uid}" in p.read_text().splitlines()]
    assert len(found) == 1, (uid, sorted(p.name for p in folder.iterdir()))
    return found[0]


def uids(folder: Path) -> list[str]:
    out = []
    for path in folder.iterdir():
        for line in path.read_text().splitlines():
            if line.startswith("UID:"):
                out.append(line[4:].strip())
    return sorted(out)


def scenario(server: DavServer, folder: Path) -> None:
    sync = Vdirsyncer(folder, server)
    auth = (server.user, server.password)
    work = server.calendar_home + "work/"
    people = server.addressbook_home + "people/"
    with httpx.Client(auth=auth, timeout=30) as http:
        # The server side before the first sync: a calendar and an address book.
        assert http.request("MKCALENDAR", work).status_code == 201
        assert http.request("MKCOL", people, content=MKCOL_BOOK).status_code == 201
        for n, name in enumerate(("Standup", "Lunch", "Review"), start=1):
            assert http.put(work + f"e{n}.ics", content=event(f"e{n}", name, n)).status_code == 201
        for uid, name in (("c1", "Carla Diaz"), ("c2", "Dan Eck"), ("c3", "Eve Fox")):
            assert http.put(people + f"{uid}.vcf", content=card(uid, name)).status_code == 201
        # A calendar that exists only here: discover offers to make it on the server.
        (sync.calendars / "trips").mkdir()
        (sync.calendars / "trips" / "t1.ics").write_text(event("t1", "Trip", 20))

        sync.ok("discover")
        sync.ok("sync")
        assert uids(sync.calendars / "work") == ["e1", "e2", "e3"]
        assert uids(sync.contacts / "people") == ["c1", "c2", "c3"]
        trip = http.get(server.calendar_home + "trips/" + _remote_name(http, server, "t1"))
        assert trip.status_code == 200 and "SUMMARY:Trip" in trip.text

        # An edit on each side, a new card here, a delete there; sync again.
        mine = local_file(sync.calendars / "work", "e1")
        mine.write_text(mine.read_text().replace("Standup", "Daily standup"))
        (sync.contacts / "people" / "c4.vcf").write_text(card("c4", "Finn Gray"))
        theirs = http.get(work + "e2.ics")
        edited = http.put(
            work + "e2.ics",
            content=theirs.text.replace("Lunch", "Long lunch"),
            headers={"If-Match": theirs.headers["etag"]},
        )
        assert edited.status_code in (201, 204)
        assert http.delete(people + "c3.vcf").status_code in (200, 204)
        sync.ok("sync")
        assert "SUMMARY:Daily standup" in http.get(work + "e1.ics").text
        assert "SUMMARY:Long lunch" in local_file(sync.calendars / "work", "e2").read_text()
        assert uids(sync.contacts / "people") == ["c1", "c2", "c4"]
        assert "FN:Finn Gray" in http.get(people + _book_name(http, people, "c4")).text

        # A conflict: the same event changed on both sides. vdirsyncer refuses
        # to pick one and leaves the server's copy alone ...
        review = local_file(sync.calendars / "work", "e3")
        review.write_text(review.read_text().replace("Review", "Review (local)"))
        theirs = http.get(work + "e3.ics")
        http.put(
            work + "e3.ics",
            content=theirs.text.replace("Review", "Review (server)"),
            headers={"If-Match": theirs.headers["etag"]},
        ).raise_for_status()
        failed = sync.run("sync")
        assert failed.returncode != 0
        assert "conflict" in (failed.stdout + failed.stderr).lower()
        assert "Review (server)" in http.get(work + "e3.ics").text
        # ... and resolves it when told which side wins (a PUT with If-Match).
        sync.write_config('"a wins"')
        sync.ok("sync")
        assert "Review (local)" in http.get(work + "e3.ics").text
        assert "Review (local)" in local_file(sync.calendars / "work", "e3").read_text()
        sync.ok("sync")

    read_with_khal(folder, sync.calendars / "work")
    read_with_khard(folder, sync.contacts / "people")


def _remote_name(http: httpx.Client, server: DavServer, uid: str) -> str:
    return _book_name(http, server.calendar_home + "trips/", uid)


def _book_name(http: httpx.Client, collection: str, uid: str) -> str:
    """The name the client chose on the server for UID, found by PROPFIND."""
    listing = http.request("PROPFIND", collection, headers={"Depth": "1"})
    assert listing.status_code == 207
    for segment in listing.text.split("href>"):
        name = segment.split("<")[0].rstrip("/").rsplit("/", 1)[-1]
        if uid in name and not name.endswith("/"):
            return name
    raise AssertionError(f"no resource for {uid} in {listing.text}")


def read_with_khal(folder: Path, calendar: Path) -> None:
    khal = require_tool("khal", "khal")
    config = folder / "khal.conf"
    config.write_text(
        f"[calendars]\n[[work]]\npath = {calendar}\ntype = calendar\n\n"
        f"[sqlite]\npath = {folder / 'khal.db'}\n\n"
        "[locale]\ntimeformat = %H:%M\ndateformat = %Y-%m-%d\nlongdateformat = %Y-%m-%d\n"
        "datetimeformat = %Y-%m-%d %H:%M\nlongdatetimeformat = %Y-%m-%d %H:%M\n"
        "default_timezone = UTC\nlocal_timezone = UTC\n"
    )
    done = subprocess.run(
        [khal, "-c", str(config), "search", "standup"],
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": str(folder)},
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Daily standup" in done.stdout


def read_with_khard(folder: Path, book: Path) -> None:
    khard = require_tool("khard", "khard")
    config = folder / "khard.conf"
    config.write_text(
        f"[addressbooks]\n[[people]]\npath = {book}\n\n"
        "[general]\ndebug = no\ndefault_action = list\neditor = /bin/true\n"
        "merge_editor = /bin/true\n"
    )
    done = subprocess.run(
        [khard, "-c", str(config), "list"],
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": str(folder)},
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Finn Gray" in done.stdout and "Carla Diaz" in done.stdout
    assert "Eve Fox" not in done.stdout


def test_vdirsyncer_against_radicale(tmp_path: Path) -> None:
    with radicale_dav(tmp_path) as server:
        scenario(server, tmp_path / "client")


async def test_vdirsyncer_against_roost(tmp_path: Path) -> None:
    async with roost_dav(tmp_path) as server:
        await asyncio.to_thread(scenario, server, tmp_path / "client")
