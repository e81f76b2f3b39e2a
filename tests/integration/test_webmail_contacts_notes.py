"""The webmail's Contacts and Notes pages in-process: a contact added, found,
edited and exported; a card made by a CardDAV client edited without loss and
a concurrent edit refused; a .vcf import with a broken card; notes and their
folders."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from roost.control.groupware import Groupware
from roost.control.item_search import item_document
from roost.core.config import DavSettings
from roost.store.groupware import ADDRESSBOOK, NOTES
from tests.webmail_support import USER, Mail, page_csrf, sign_in, webmail

DAV_CARD = (
    "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:urn:uuid:dav-1\r\nFN:Dora Vega\r\nN:Vega;Dora;;;\r\n"
    "EMAIL;TYPE=work;PREF=1:dora@example.org\r\nX-CUSTOM-THING;X-P=1:keep me\r\n"
    "PHOTO:data:image/png;base64,iVBORw0KGgo=\r\nitem1.URL:https://dora.example.org\r\n"
    "item1.X-ABLABEL:blog\r\nEND:VCARD\r\n"
)
IMPORT = (
    "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Imported One\r\nEMAIL:one@example.net\r\n"
    "N:One;Imported;;;\r\nEND:VCARD\r\n"
    "BEGIN:VCARD\r\nVERSION:2.1\r\nN:Old;Card\r\nEND:VCARD\r\n"
    "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:imp-3\r\nN:Three;Imported;;;\r\nFN:Imported Three\r\n"
    "CATEGORIES:Club\r\nEND:VCARD\r\n"
)


async def _book(mail: Mail) -> tuple[int, Groupware]:
    account = await mail.store.read(mail.store.directory.account, USER)
    await mail.store.write(mail.store.groupware.ensure_defaults, account.id)
    book = await mail.store.read(
        mail.store.groupware.collection, account.id, ADDRESSBOOK, "contacts"
    )
    assert book is not None
    return book.id, Groupware(mail.store, DavSettings())


def _contact_form(csrf: str, **changes: str | list[str]) -> dict[str, str | list[str]]:
    form: dict[str, str | list[str]] = {
        "csrf": csrf,
        "book": "contacts",
        "etag": "",
        "given": "Ann",
        "family": "Lopez",
        "full_name": "",
        "org": "Acme Tools",
        "title": "Buyer",
        "email_ref": [""],
        "email_type": ["work"],
        "email": ["ann.lopez@acme.example"],
        "phone_ref": [""],
        "phone_type": ["cell"],
        "phone": ["+1 555 0100"],
        "adr_ref": [""],
        "adr_type": ["work"],
        "street": ["1 Main St"],
        "city": ["Springfield"],
        "region": [""],
        "code": ["12345"],
        "country": ["USA"],
        "birthday": "1985-04-12",
        "groups": "Suppliers, Friends",
        "note": "Met at the fair.",
        "action": "save",
    }
    form.update(changes)
    return form


async def test_a_contact_is_added_found_edited_exported_and_deleted(tmp_path: Path) -> None:
    async with webmail(tmp_path) as mail:
        await sign_in(mail.client)
        csrf = await page_csrf(mail.client, "/mail/contacts/new")
        bad = await mail.client.post("/mail/contacts/new", data=_contact_form(csrf, email=["nope"]))
        assert bad.status_code == 400 and "is not one e-mail address" in bad.text
        assert 'value="Acme Tools"' in bad.text  # the input comes back
        more = await mail.client.post("/mail/contacts/new", data=_contact_form(csrf, action="more"))
        assert more.status_code == 200 and more.text.count('name="email"') == 3  # 1 + 2 empty
        assert (await mail.store.read(mail.store.groupware.change_mark)) == 0  # nothing saved
        made = await mail.client.post("/mail/contacts/new", data=_contact_form(csrf))
        assert made.status_code == 303, made.text
        url = made.headers["location"].split("?")[0]
        listing = await mail.client.get("/mail/contacts", params={"q": "acme"})
        assert "Ann Lopez" in listing.text and "ann.lopez@acme.example" in listing.text
        assert "Ann Lopez" not in (await mail.client.get("/mail/contacts?q=zebra")).text
        grouped = await mail.client.get("/mail/contacts", params={"group": "Suppliers"})
        assert "Ann Lopez" in grouped.text
        assert "Ann Lopez" not in (await mail.client.get("/mail/contacts?group=Nobody")).text

        page = await mail.client.get(url)
        etag = re.search(r'name="etag" value="([0-9a-f]+)"', page.text)
        assert etag is not None
        edit = _contact_form(
            csrf,
            etag=etag[1],
            email_ref=["0", ""],
            email_type=["work", "home"],
            email=["ann.lopez@acme.example", "ann@home.example"],
            phone_ref=["0"],
            phone_type=["cell"],
            phone=["+1 555 0100"],
            adr_ref=["0"],
            title="Head buyer",
        )
        saved = await mail.client.post(url, data=edit)
        assert saved.status_code == 303, saved.text
        # The same form sent again carries the old ETag: refused, not overwritten.
        stale = await mail.client.post(url, data={**edit, "title": "Intern"})
        assert stale.status_code == 412 and "changed elsewhere" in stale.text
        card = await mail.client.get(url + "/export")
        assert card.headers["content-type"].startswith("text/vcard")
        assert "attachment" in card.headers["content-disposition"]
        assert "TITLE:Head buyer" in card.text and "ann@home.example" in card.text
        assert "CATEGORIES:Suppliers,Friends" in card.text and "BDAY:1985-04-12" in card.text
        book = await mail.client.get("/mail/contacts/export?book=contacts")
        assert book.text.count("BEGIN:VCARD") == 1

        confirm = await mail.client.get(url + "/delete")
        assert confirm.status_code == 200 and "Delete" in confirm.text
        etag_now = re.search(r'name="etag" value="([0-9a-f]+)"', confirm.text)
        assert etag_now is not None
        gone = await mail.client.post(url + "/delete", data={"csrf": csrf, "etag": etag_now[1]})
        assert gone.status_code == 303
        assert "Ann Lopez" not in (await mail.client.get("/mail/contacts")).text
        assert (await mail.client.get(url)).status_code == 404


async def test_a_card_from_a_dav_client_keeps_what_the_form_does_not_show(
    tmp_path: Path, backend: str
) -> None:
    async with webmail(tmp_path, backend=backend) as mail:
        book_id, groupware = await _book(mail)
        book = await mail.store.read(mail.store.groupware.collection_by_id, book_id)
        assert book is not None
        first = await groupware.put(book, "dav-1.vcf", DAV_CARD, if_match=None, if_none_match="*")
        await sign_in(mail.client)
        url = "/mail/contacts/c/contacts/dav-1.vcf"
        page = await mail.client.get(url)
        assert 'value="dora@example.org"' in page.text and 'value="Dora"' in page.text
        csrf = await page_csrf(mail.client, url)
        # A CardDAV client changes the card after the form was shown.
        changed = DAV_CARD.replace("FN:Dora Vega", "FN:Dora V.")
        await groupware.put(
            book, "dav-1.vcf", changed, if_match=f'"{first.item.etag}"', if_none_match=None
        )
        form = _contact_form(
            csrf,
            etag=first.item.etag,
            given="Dora",
            family="Vega",
            full_name="Dora Vega",
            email_ref=["0"],
            email_type=["work"],
            email=["dora@example.org"],
            phone_ref=[],
            phone_type=[],
            phone=[],
            adr_ref=[],
            adr_type=[],
            street=[],
            city=[],
            region=[],
            code=[],
            country=[],
            birthday="--04-12",
            groups="",
            note="",
            org="",
            title="",
        )
        refused = await mail.client.post(url, data=form)
        assert refused.status_code == 412 and "changed elsewhere" in refused.text
        item = await mail.store.read(mail.store.groupware.item, book_id, "dav-1.vcf")
        assert item is not None and item.data == changed
        # With the current ETag the edit goes through and keeps the rest.
        saved = await mail.client.post(url, data={**form, "etag": item.etag, "org": "Vega & Co"})
        assert saved.status_code == 303, saved.text
        after = await mail.store.read(mail.store.groupware.item, book_id, "dav-1.vcf")
        assert after is not None
        for line in (
            "X-CUSTOM-THING;X-P=1:keep me",
            "PHOTO:data:image/png;base64,iVBORw0KGgo=",
            "item1.URL:https://dora.example.org",
            "item1.X-ABLABEL:blog",
            "EMAIL;TYPE=work;PREF=1:dora@example.org",
            "UID:urn:uuid:dav-1",
            "VERSION:4.0",
            "ORG:Vega & Co",
            "BDAY:--0412",
        ):
            assert line in after.data, line
        assert item_document("VCARD", after.title, after.data).title == "Dora Vega"


async def test_group_cards_of_another_app_are_ticked_on_the_form(tmp_path: Path) -> None:
    group = (
        "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:urn:uuid:g1\r\nKIND:group\r\nFN:Family\r\nEND:VCARD\r\n"
    )
    other = group.replace("g1", "g2").replace("Family", "Band")
    async with webmail(tmp_path) as mail:
        book_id, groupware = await _book(mail)
        book = await mail.store.read(mail.store.groupware.collection_by_id, book_id)
        assert book is not None
        await groupware.put(book, "g1.vcf", group, if_match=None, if_none_match="*")
        await sign_in(mail.client)
        csrf = await page_csrf(mail.client, "/mail/contacts/new")
        page = await mail.client.get("/mail/contacts/new")
        assert 'name="group_card" value="g1.vcf"' in page.text
        form = _contact_form(csrf, group_card=["g1.vcf"], group_card_shown=["g1.vcf:0"])
        made = await mail.client.post("/mail/contacts/new", data=form)
        assert made.status_code == 303, made.text
        url = made.headers["location"].split("?")[0]
        listing = await mail.client.get("/mail/contacts", params={"group": "Family"})
        assert "Ann Lopez" in listing.text
        stored = await mail.store.read(mail.store.groupware.item, book_id, "g1.vcf")
        assert stored is not None and stored.data.count("MEMBER:urn:uuid:") == 1
        # Another app makes a group with the contact in it after the form was shown.
        page = await mail.client.get(url)
        etag = re.search(r'name="etag" value="([0-9a-f]+)"', page.text)
        assert etag is not None
        uid = re.search(r"MEMBER:urn:uuid:(\S+)", stored.data)
        assert uid is not None
        band = other.replace("END:VCARD", f"MEMBER:urn:uuid:{uid[1]}\r\nEND:VCARD")
        await groupware.put(book, "g2.vcf", band, if_match=None, if_none_match="*")
        # Unticked on the form: out of Family; Band, not on the form then, is left alone.
        edit = _contact_form(csrf, etag=etag[1], group_card=[], group_card_shown=["g1.vcf:1"])
        edit.update(email_ref=["0"], phone_ref=["0"], adr_ref=["0"])
        saved = await mail.client.post(url, data=edit)
        assert saved.status_code == 303, saved.text
        family = await mail.store.read(mail.store.groupware.item, book_id, "g1.vcf")
        assert family is not None and "MEMBER" not in family.data
        kept = await mail.store.read(mail.store.groupware.item, book_id, "g2.vcf")
        assert kept is not None and kept.data == band


async def test_import_keeps_the_good_cards_and_numbers_the_bad(tmp_path: Path) -> None:
    async with webmail(tmp_path, webmail={"contacts_import_max_bytes": 65_536}) as mail:
        book_id, _ = await _book(mail)
        await sign_in(mail.client)
        csrf = await page_csrf(mail.client, "/mail/contacts/import")
        files = {"file": ("contacts.vcf", IMPORT.encode(), "text/vcard")}
        done = await mail.client.post(
            "/mail/contacts/import", data={"csrf": csrf, "book": "contacts"}, files=files
        )
        assert done.status_code == 200, done.text
        assert "2 added, 0 updated, 1 not imported" in done.text
        assert "Card 2: vCard version 2.1 is not read" in done.text
        items = await mail.store.read(mail.store.groupware.items, book_id)
        assert sorted(i.title for i in items) == ["Imported One", "Imported Three"]
        assert all("UID:" in i.data for i in items)
        again = await mail.client.post(
            "/mail/contacts/import", data={"csrf": csrf, "book": "contacts"}, files=files
        )
        # The same cards again replace themselves (those without a UID too).
        assert "0 added, 2 updated, 1 not imported" in again.text
        assert "Club" in (await mail.client.get("/mail/contacts")).text
        forged = await mail.client.post(
            "/mail/contacts/import", data={"csrf": "wrong", "book": "contacts"}, files=files
        )
        assert forged.status_code == 403
        big = {"file": ("big.vcf", b"x" * 100_000, "text/vcard")}
        too_big = await mail.client.post(
            "/mail/contacts/import", data={"csrf": csrf, "book": "contacts"}, files=big
        )
        assert too_big.status_code == 413 and "larger than" in too_big.text
        empty = {"file": ("none.vcf", b"hello", "text/vcard")}
        nothing = await mail.client.post(
            "/mail/contacts/import", data={"csrf": csrf, "book": "contacts"}, files=empty
        )
        assert nothing.status_code == 400 and "holds no vCard" in nothing.text


async def test_notes_and_their_folders(tmp_path: Path, backend: str) -> None:
    async with webmail(tmp_path, backend=backend) as mail:
        await sign_in(mail.client)
        csrf = await page_csrf(mail.client, "/mail/notes")
        form = {"csrf": csrf, "folder": "notes", "title": "", "colour": "yellow", "etag": ""}
        made = await mail.client.post(
            "/mail/notes/new", data={**form, "text": "Shopping\nmilk\neggs"}
        )
        assert made.status_code == 303
        listing = await mail.client.get("/mail/notes")
        assert "Shopping" in listing.text and "note-yellow" in listing.text
        assert "milk" in listing.text
        bad = await mail.client.post(
            "/mail/notes/new", data={**form, "colour": "#ff0000", "text": "x"}
        )
        assert bad.status_code == 400 and "colours offered" in bad.text
        account = await mail.store.read(mail.store.directory.account, USER)
        folder = await mail.store.read(mail.store.groupware.collection, account.id, NOTES, "notes")
        assert folder is not None
        (item,) = await mail.store.read(mail.store.groupware.items, folder.id)
        assert (item.component, item.title, item.data, item.colour) == (
            "NOTE",
            "",
            "Shopping\nmilk\neggs",
            "yellow",
        )
        url = f"/mail/notes/n/notes/{item.name}"
        edit = {**form, "title": "Groceries", "text": "milk", "colour": "blue", "etag": item.etag}
        assert (await mail.client.post(url, data=edit)).status_code == 303
        stale = await mail.client.post(url, data={**edit, "text": "bread"})
        assert stale.status_code == 412 and "changed elsewhere" in stale.text
        assert "Groceries" in (await mail.client.get("/mail/notes")).text

        made_folder = await mail.client.post(
            "/mail/notes/folders", data={"csrf": csrf, "name": "Work ideas"}
        )
        assert (
            made_folder.status_code == 303
            and "folder=work-ideas" in made_folder.headers["location"]
        )
        renamed = await mail.client.post(
            "/mail/notes/folders/work-ideas/rename", data={"csrf": csrf, "name": "Ideas"}
        )
        assert renamed.status_code == 303
        assert "Ideas" in (await mail.client.get("/mail/notes?folder=work-ideas")).text
        gone = await mail.client.post("/mail/notes/folders/work-ideas/delete", data={"csrf": csrf})
        assert gone.status_code == 303
        last = await mail.client.post("/mail/notes/folders/notes/delete", data={"csrf": csrf})
        assert last.status_code == 409 and "only notes folder" in last.text

        current = await mail.store.read(mail.store.groupware.item, folder.id, item.name)
        assert current is not None
        page = await mail.client.get(url + "/delete")
        assert page.status_code == 200
        deleted = await mail.client.post(url + "/delete", data={"csrf": csrf, "etag": current.etag})
        assert deleted.status_code == 303
        assert await mail.store.read(mail.store.groupware.items, folder.id) == []


async def test_other_users_books_are_out_of_reach(tmp_path: Path) -> None:
    async with webmail(tmp_path) as mail:
        await sign_in(mail.client)
        missing = await mail.client.get("/mail/contacts/c/nobook/x.vcf")
        assert missing.status_code == 404
        assert (await mail.client.get("/mail/notes?folder=elsewhere")).status_code == 404
        signed_out = httpx.AsyncClient(transport=mail.client._transport, base_url=mail.base)
        async with signed_out:
            answer = await signed_out.get("/mail/contacts")
            assert answer.status_code == 303 and "/mail/sign-in" in answer.headers["location"]
