"""Manage → Domains and Users in chromium: a user added, disabled (their open IMAP session
ends) and enabled again; a domain's DNS records checked against a DNS server on 127.0.0.1;
bad input refused with a message."""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from roost.services.imap.service import ImapService
from tests.browser_support import Harness, expect, running_roost, sign_in
from tests.dns_server import dns_server

DOMAIN = "example.test"
USER = f"ana@{DOMAIN}"
USER_PASSWORD = "ana-password-1"
CLOSE_WAIT_S = 10.0
"""A generous bound for the IMAP session to be ended after the user is disabled."""


def imap_port(harness: Harness) -> int:
    service = next(s for s in harness.roost.services if isinstance(s, ImapService))
    (address,) = service.addresses["imap-imap"]
    return int(address.rpartition(":")[2])


def imap_login(port: int) -> imaplib.IMAP4:
    client = imaplib.IMAP4("127.0.0.1", port, timeout=CLOSE_WAIT_S)
    try:
        client.login(USER, USER_PASSWORD)
    except BaseException:
        client.shutdown()
        raise
    return client


def closed_within(client: imaplib.IMAP4, bound_s: float) -> bool:
    """True once the server ends the session (BYE or a closed socket), within `bound_s`."""
    deadline = time.monotonic() + bound_s
    while time.monotonic() < deadline:
        try:
            client.noop()
        except (imaplib.IMAP4.abort, imaplib.IMAP4.error, OSError):
            return True
        if client.untagged_responses.get("BYE"):
            return True
        time.sleep(0.2)
    return False


async def add_domain_and_user(page: Any, harness: Harness) -> None:
    await page.click("nav >> text=Domains")
    await page.fill("#new-domain", DOMAIN)
    await page.click("text=Add domain")
    await expect(page.locator("h1")).to_have_text(DOMAIN)
    await page.click("nav >> text=Users")
    await page.fill("#new-address", USER)
    await page.fill("#new-name", "Ana")
    await page.fill("#new-password", USER_PASSWORD)
    await page.fill("#new-quota", "100")
    await page.click("text=Add user")
    await expect(page.locator("h1")).to_have_text(USER)
    await expect(page.locator(".notice")).to_have_text("The user is added.")


async def test_add_disable_and_enable_a_user(admin_page: Any, roost: Harness) -> None:
    page = admin_page
    await add_domain_and_user(page, roost)
    port = imap_port(roost)
    client = await asyncio.to_thread(imap_login, port)
    try:
        await page.click("#disable-user")
        await expect(page.locator(".notice")).to_contain_text("The user is disabled")
        await expect(page.locator("#user-state")).to_contain_text("Disabled")
        # The open IMAP session of the user is ended (the session registry).
        assert await asyncio.to_thread(closed_within, client, CLOSE_WAIT_S), (
            "the user's IMAP session stayed open after the user was disabled"
        )
        with pytest.raises(imaplib.IMAP4.error):
            await asyncio.to_thread(imap_login, port)
    finally:
        with contextlib.suppress(Exception):
            client.shutdown()
    await page.click("#enable-user")
    await expect(page.locator(".notice")).to_have_text(
        "The user is enabled: they can sign in again."
    )
    again = await asyncio.to_thread(imap_login, port)
    await asyncio.to_thread(again.logout)
    # Each change is in the audit log, by this admin.
    await page.goto(roost.base + f"/admin/events?object=user%3A{USER}")
    for action in ("add", "disable", "enable"):
        row = page.locator("tbody tr", has=page.locator("td", has_text=action))
        await expect(row.first.locator(".actor")).to_have_text("admin:admin")


async def test_bad_input_is_refused_with_a_message(admin_page: Any, roost: Harness) -> None:
    page = admin_page
    await add_domain_and_user(page, roost)
    await page.fill("#quota", "-1")
    await page.click("text=Set quota")
    await expect(page.locator(".error")).to_contain_text("The quota must be a whole number of MiB")
    await expect(page.locator(".error")).to_contain_text("Nothing was changed.")
    await page.goto(roost.base + f"/admin/users/edit?address={USER}")
    await expect(page.locator("#quota")).to_have_value("100")
    await page.goto(roost.base + "/admin/domains")
    await page.fill("#new-domain", "my domain.test")
    await page.click("text=Add domain")
    await expect(page.locator(".error")).to_have_text(
        "'my domain.test' is not a valid domain name. Nothing was changed."
    )
    # A POST without the form's CSRF token (the browser's cookie alone) changes nothing.
    response = await page.request.post(
        roost.base + "/admin/domains/add", form={"name": "other.test"}
    )
    assert response.status == 403
    assert "Nothing was changed" in await response.text()
    await page.goto(roost.base + "/admin/domains")
    await expect(page.locator("tbody tr[data-domain]")).to_have_count(1)


@pytest.fixture
async def zone() -> dict[tuple[str, str], list[str] | str]:
    return {}


@pytest.fixture
async def dns_roost(
    browser: Any, tmp_path: Path, zone: dict[tuple[str, str], list[str] | str]
) -> AsyncIterator[Harness]:
    async with (
        dns_server(zone) as nameserver,
        running_roost(
            tmp_path, {"dns": {"nameservers": [nameserver], "mail_host": "mx.example.test"}}
        ) as harness,
    ):
        yield harness


async def test_dns_records_check(
    page: Any, dns_roost: Harness, zone: dict[tuple[str, str], list[str] | str]
) -> None:
    await sign_in(page, dns_roost)
    await page.goto(dns_roost.base + "/admin/domains")
    await page.fill("#new-domain", DOMAIN)
    await page.click("text=Add domain")
    await page.click("text=Generate a DKIM key")
    await expect(page.locator(".selectors li")).to_contain_text("active")
    zone[(DOMAIN, "MX")] = ["10 mx.example.test."]
    zone[(DOMAIN, "TXT")] = ['"v=spf1 ip4:192.0.2.1 -all"']
    zone[(f"_imaps._tcp.{DOMAIN}", "SRV")] = ["0 1 993 mx.example.test."]
    await page.click("#check-dns")
    # Fifteen look-ups, each allowed the resolver's timeout: a loaded machine
    # may take longer than the default five seconds to show the answer.
    await expect(page.locator("#check-summary")).to_contain_text("2 found", timeout=30_000)

    def state(name: str, rtype: str) -> Any:
        return page.locator(f'tr[data-record="{name} {rtype}"] [data-field="state"]')

    await expect(state(DOMAIN, "MX")).to_have_text("found")
    await expect(state(f"_imaps._tcp.{DOMAIN}", "SRV")).to_have_text("found")
    await expect(state(DOMAIN, "TXT")).to_have_text("different")
    await expect(page.locator(f'tr[data-record="{DOMAIN} TXT"]')).to_contain_text(
        "v=spf1 ip4:192.0.2.1 -all"
    )
    await expect(state(f"_dmarc.{DOMAIN}", "TXT")).to_have_text("missing")
    await expect(state(f"autoconfig.{DOMAIN}", "CNAME")).to_have_text("missing")
