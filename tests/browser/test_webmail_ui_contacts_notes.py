"""Contacts and Notes in a real browser against a running Roost: a contact is
added, found with the search box, edited and exported; a note is added; and
the contact made in the webmail is what a CardDAV client then reads."""

from __future__ import annotations

from typing import Any

import httpx

from roost.control.directory import Actor
from tests.browser_support import Harness, expect
from tests.webmail_support import PASSWORD, USER

BOOK = "/dav/addressbooks/ann%40example.test/contacts/"
QUERY = (
    '<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">'
    "<D:prop><D:getetag/><C:address-data/></D:prop><C:filter>"
    '<C:prop-filter name="EMAIL"><C:text-match match-type="contains">acme.example'
    "</C:text-match></C:prop-filter></C:filter></C:addressbook-query>"
)


async def test_contacts_and_notes(page: Any, roost: Harness) -> None:
    directory = roost.roost.directory
    await directory.add_domain(Actor("test"), "example.test")
    await directory.add_user(Actor("test"), USER, PASSWORD)
    await page.goto(roost.base + "/mail/contacts")
    await page.fill("#address", USER)
    await page.fill("#password", PASSWORD)
    await page.click("form button.primary")
    await page.wait_for_url("**/mail/contacts")
    await expect(page.locator("p.empty")).to_contain_text("No contacts yet")

    # Add a contact through the form.
    await page.click("#new-contact")
    await page.fill("#given", "Ann")
    await page.fill("#family", "Lopez")
    await page.fill("#org", "Acme Tools")
    await page.fill("#email-1", "ann.lopez@acme.example")
    await page.fill("#phone-1", "+1 555 0100")
    await page.fill("#groups", "Suppliers")
    await page.click("form.contact-form button.primary")
    await expect(page.locator("p.notice")).to_have_text("The contact was added.")

    # Found with the search box; a group filter shows it too.
    await page.click("text=← All contacts")
    await page.fill("#contact-q", "acme")
    await page.click("form.contact-search button")
    row = page.locator("table.contact-list tbody tr")
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text("ann.lopez@acme.example")
    await expect(page.locator('a[data-group="Suppliers"]')).to_contain_text("1")

    # Edit it.
    await row.locator("td.name a").click()
    await page.fill("#job_title", "Head buyer")
    await page.click("form.contact-form button.primary")
    await expect(page.locator("p.notice")).to_have_text("Saved.")
    await expect(page.locator("#job_title")).to_have_value("Head buyer")

    # Export it as a .vcf file.
    async with page.expect_download() as download_info:
        await page.click("a.export-one")
    download = await download_info.value
    assert download.suggested_filename == "Ann Lopez.vcf"
    exported = (await download.path()).read_text()
    assert "FN:Ann Lopez" in exported and "TITLE:Head buyer" in exported

    # A note with a colour.
    await page.goto(roost.base + "/mail/notes")
    await page.click("#new-note")
    await page.fill("#note-title", "Call Ann")
    await page.fill("#note-text", "About the order\nbefore Friday")
    await page.check('input[name="colour"][value="green"]')
    await page.click("form.note-form button.primary")
    await expect(page.locator("p.notice")).to_have_text("The note was added.")
    card = page.locator("li.note-card")
    await expect(card).to_have_class("note-card note-green")
    await expect(card.locator(".preview")).to_have_text("About the order\nbefore Friday")

    # A CardDAV client reads the contact made in the webmail.
    async with httpx.AsyncClient(base_url=roost.base, auth=(USER, PASSWORD), timeout=30) as dav:
        found = await dav.request("REPORT", BOOK, content=QUERY, headers={"Depth": "1"})
        assert found.status_code == 207, found.text
        assert "FN:Ann Lopez" in found.text and "TITLE:Head buyer" in found.text
        assert "CATEGORIES:Suppliers" in found.text
