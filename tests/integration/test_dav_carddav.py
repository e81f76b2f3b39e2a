"""CardDAV with raw httpx requests, and bad input on both DAV faces: each
refused with its status and a message that says why."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.dav_support import OTHER, roost_dav

BOOK = "/dav/addressbooks/ann%40example.test/contacts/"
CAL = "/dav/calendars/ann%40example.test/calendar/"
CARD3 = (
    "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:c1\r\nFN:Carla Diaz\r\nN:Diaz;Carla;;;\r\n"
    "EMAIL:carla@example.org\r\nEND:VCARD\r\n"
)
CARD4 = (
    "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:c2\r\nFN:Dan Eck\r\nEMAIL:dan@example.org\r\nEND:VCARD\r\n"
)
MULTIGET = (
    '<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">'
    "<D:prop><D:getetag/><C:address-data/></D:prop>"
    f"<D:href>{BOOK}c1.vcf</D:href><D:href>{BOOK}nope.vcf</D:href>"
    "</C:addressbook-multiget>"
)
QUERY = (
    '<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">'
    '<D:prop><D:getetag/></D:prop><C:filter><C:prop-filter name="EMAIL">'
    '<C:text-match match-type="contains">dan@</C:text-match></C:prop-filter></C:filter>'
    "</C:addressbook-query>"
)
BOMB = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
    '<D:propfind xmlns:D="DAV:"><D:prop><D:displayname>&lol2;</D:displayname></D:prop></D:propfind>'
)


async def test_carddav_contacts(tmp_path: Path) -> None:
    async with roost_dav(tmp_path) as server:
        base = server.url.split("/.well-known")[0]
        async with httpx.AsyncClient(base_url=base, auth=(server.user, server.password)) as c:
            found = await c.request("PROPFIND", "/.well-known/carddav", headers={"Depth": "0"})
            assert found.status_code == 301 and found.headers["location"] == "/dav/"
            root = await c.request("PROPFIND", "/dav/", headers={"Depth": "0"})
            assert root.status_code == 207 and "/dav/principals/ann@example.test/" in root.text
            home = await c.request(
                "PROPFIND", "/dav/addressbooks/ann%40example.test/", headers={"Depth": "1"}
            )
            assert home.status_code == 207 and "addressbook" in home.text
            assert "/dav/addressbooks/ann@example.test/contacts/" in home.text
            made = await c.put(BOOK + "c1.vcf", content=CARD3, headers={"If-None-Match": "*"})
            assert made.status_code == 201 and made.headers["etag"]
            again = await c.put(BOOK + "c1.vcf", content=CARD3, headers={"If-None-Match": "*"})
            assert again.status_code == 412
            assert (await c.put(BOOK + "c2.vcf", content=CARD4)).status_code == 201
            got = await c.get(BOOK + "c1.vcf")
            assert got.text == CARD3 and got.headers["etag"] == made.headers["etag"]
            multi = await c.request("REPORT", BOOK, content=MULTIGET, headers={"Depth": "1"})
            assert multi.status_code == 207
            assert "Carla Diaz" in multi.text and "404 Not Found" in multi.text
            query = await c.request("REPORT", BOOK, content=QUERY, headers={"Depth": "1"})
            assert "c2.vcf" in query.text and "c1.vcf" not in query.text
            dup = await c.put(BOOK + "other.vcf", content=CARD3)
            assert dup.status_code == 409 and "no-uid-conflict" in dup.text
            stale = await c.delete(BOOK + "c1.vcf", headers={"If-Match": '"stale"'})
            assert stale.status_code == 412
            deleted = await c.delete(BOOK + "c1.vcf", headers={"If-Match": made.headers["etag"]})
            assert deleted.status_code == 204
            assert (await c.get(BOOK + "c1.vcf")).status_code == 404


async def test_bad_input_is_refused_with_a_reason(tmp_path: Path) -> None:
    async with roost_dav(tmp_path, dav={"max_resource_bytes": 2048}) as server:
        base = server.url.split("/.well-known")[0]
        async with httpx.AsyncClient(base_url=base, auth=(server.user, server.password)) as c:
            broken = await c.put(BOOK + "x.vcf", content="BEGIN:VCARD\r\nVERSION:4.0\r\nFN")
            assert broken.status_code == 403 and "valid-address-data" in broken.text
            no_uid = await c.put(BOOK + "y.vcf", content=CARD4.replace("UID:c2\r\n", ""))
            assert no_uid.status_code == 403 and "no UID" in no_uid.text
            bad_ical = await c.put(CAL + "e.ics", content="BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n")
            assert bad_ical.status_code == 403 and "valid-calendar-data" in bad_ical.text
            zone = (
                "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:z\r\n"
                "DTSTAMP:20260101T000000Z\r\nDTSTART;TZID=Mars/Olympus:20260101T100000\r\n"
                "END:VEVENT\r\nEND:VCALENDAR\r\n"
            )
            unknown = await c.put(CAL + "z.ics", content=zone)
            assert unknown.status_code == 403 and "unknown time zone" in unknown.text
            big = await c.put(BOOK + "big.vcf", content=CARD4 + "NOTE:" + "x" * 4000)
            assert big.status_code == 413 and "larger than 2048 bytes" in big.text
            bomb = await c.request("PROPFIND", BOOK, content=BOMB, headers={"Depth": "0"})
            assert bomb.status_code == 400 and "DOCTYPE" in bomb.text
            climb = await c.get("/dav/addressbooks/ann%40example.test/contacts/%2e%2e/x")
            assert climb.status_code == 400 and "climb out" in climb.text
            theirs = await c.request("PROPFIND", f"/dav/calendars/{OTHER}/", headers={"Depth": "0"})
            assert theirs.status_code == 403
            # Nothing else was disturbed: the address book still answers.
            ok = await c.request("PROPFIND", BOOK, headers={"Depth": "1"})
            assert ok.status_code == 207
        async with httpx.AsyncClient(base_url=base) as anonymous:
            refused = await anonymous.request("PROPFIND", BOOK)
            assert refused.status_code == 401 and "Basic" in refused.headers["www-authenticate"]
        async with httpx.AsyncClient(base_url=base, auth=(server.user, "wrong")) as wrong:
            assert (await wrong.request("PROPFIND", BOOK)).status_code == 401
