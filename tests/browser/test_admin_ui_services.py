"""Manage → Services in chromium: actions with their effects, and changes made elsewhere."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.browser_support import Harness, expect, row

LIVE_MS = 5_000
"""The issue's bound: a change made elsewhere is on the page within 5 s."""


def state(page: Any, service: str) -> Any:
    return row(page, service).locator('[data-field="state"]')


async def smtp_greeting(port: int) -> bytes:
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 10)
    try:
        return await asyncio.wait_for(reader.readline(), 10)
    finally:
        writer.close()
        await writer.wait_closed()


async def test_stop_and_start_smtp_from_its_row(admin_page: Any, roost: Harness) -> None:
    page = admin_page
    assert (await smtp_greeting(roost.smtp_port)).startswith(b"220 ")
    smtp = row(page, "smtp")
    # The greeting's session (or a health probe's) ends a moment after the
    # client closes; the dialog counts what the page last saw.
    await expect(smtp.locator('[data-field="sessions"]')).to_have_text("0", timeout=LIVE_MS)
    await smtp.locator("summary").click()
    await smtp.get_by_role("button", name="Stop SMTP").click()
    dialog = page.locator("#confirm-dialog")
    await expect(dialog).to_be_visible()
    await expect(page.locator("#confirm-title")).to_have_text("Stop SMTP?")
    await expect(page.locator("#confirm-effects")).to_have_text(
        "SMTP: inbound mail and submission refused; 0 sessions closed after up to 2 s"
    )
    await page.click("#confirm-ok")
    await expect(page.locator("#results-list")).to_have_text("SMTP: stopped")
    await expect(state(page, "smtp")).to_have_text("stopped")
    await expect(smtp).to_have_class("state-stopped")
    with pytest.raises(ConnectionRefusedError):
        await smtp_greeting(roost.smtp_port)
    # Stopped on purpose: no banner.
    await expect(page.locator("#banner")).to_be_hidden()
    # Stopping it again changes nothing and says so.
    await smtp.locator("summary").click()
    await smtp.get_by_role("button", name="Stop SMTP").click()
    await expect(page.locator("#confirm-effects")).to_have_text(
        "SMTP: already stopped; nothing changes"
    )
    await page.click("#confirm-ok")
    await expect(page.locator("#results-list")).to_have_text(
        "SMTP: was already stopped; nothing changed"
    )
    await page.check("#pick-smtp")
    await page.click(".toolbar button[value=start]")
    await expect(page.locator("#confirm-effects")).to_have_text(
        "SMTP: accepts inbound mail and submission again"
    )
    await page.click("#confirm-ok")
    await expect(page.locator("#results-list")).to_have_text("SMTP: started")
    await expect(state(page, "smtp")).to_have_text("running")
    assert (await smtp_greeting(roost.smtp_port)).startswith(b"220 ")
    # The stop event names the admin who stopped it.
    await page.goto(roost.base + "/admin/events?object=service%3Asmtp&actor=admin")
    stopped = page.locator("tbody tr", has_text="stopping → stopped")
    await expect(stopped).to_have_count(1)
    await expect(stopped.locator(".actor")).to_have_text("admin:admin")
    await expect(stopped).to_contain_text("127.0.0.1")


async def test_restart_two_services_at_once(admin_page: Any, roost: Harness) -> None:
    page = admin_page
    await page.check("#pick-imap")
    await page.check("#pick-pop")
    await expect(page.locator("#selection-count")).to_have_text("2 selected")
    await page.click(".toolbar button[value=restart]")
    await expect(page.locator("#confirm-title")).to_have_text("Restart 2 services?")
    effects = page.locator("#confirm-effects li")
    await expect(effects).to_have_text(
        [
            "IMAP: 0 sessions closed after up to 2 s, then it starts again "
            "(mailbox access over IMAP refused meanwhile)",
            "POP: 0 sessions closed after up to 2 s, then it starts again "
            "(mailbox download over POP3 refused meanwhile)",
        ]
    )
    await page.click("#confirm-ok")
    await expect(page.locator("#results-list li")).to_have_text(
        ["IMAP: restarted", "POP: restarted"]
    )
    await expect(state(page, "imap")).to_have_text("running")
    await expect(state(page, "pop")).to_have_text("running")
    await expect(page.locator("#pick-imap")).to_be_checked()
    for name in ("imap", "pop"):
        events = await roost.roost.store.read(
            roost.roost.store.events.list, object=f"service:{name}", limit=4
        )
        assert [e.new_state for e in events] == ["running", "starting", "stopped", "stopping"]
        assert {e.actor for e in events} == {"admin:admin"}


async def test_a_stop_from_the_cli_appears_without_navigation(
    admin_page: Any, roost: Harness
) -> None:
    page = admin_page
    await page.evaluate("window.roostMarker = 'still the same page'")
    await page.check("#pick-smtp")
    await page.check("#pick-spool")
    await page.focus("#pick-spool")
    code, output = await roost.cli("service", "stop", "imap")
    assert code == 0, output
    await expect(state(page, "imap")).to_have_text("stopped", timeout=LIVE_MS)
    await expect(row(page, "imap")).to_have_class("state-stopped")
    assert await page.evaluate("window.roostMarker") == "still the same page"
    await expect(page.locator("#pick-smtp")).to_be_checked()
    await expect(page.locator("#pick-spool")).to_be_checked()
    await expect(page.locator("#pick-imap")).not_to_be_checked()
    assert await page.evaluate("document.activeElement.id") == "pick-spool"
    await expect(page.locator("#live-text")).to_contain_text("Updated")
    await expect(page.locator("#recent-list li").first).to_contain_text(
        "imap: stopping → stopped by cli:"
    )
    # The supervisor's and the API's changes arrive the same way; the banner
    # shows while a service is not in the state chosen.
    await roost.roost.supervisor.start("imap", "cli:test")
    await expect(state(page, "imap")).to_have_text("running", timeout=LIVE_MS)


async def test_the_page_says_when_its_updates_stop(admin_page: Any, roost: Harness) -> None:
    page = admin_page
    await expect(page.locator("#live-text")).to_contain_text("Updated")
    await page.route("**/admin/services/status", lambda route: route.abort())
    await expect(page.locator("#live-text")).to_contain_text("Stale: no update since")
    await expect(page.locator("body")).to_have_class("stale")
    await page.unroute("**/admin/services/status")
    await expect(page.locator("body")).not_to_have_class("stale")
    await expect(page.locator("#live-text")).to_contain_text("Updated")


async def test_unknown_service_and_bad_action_get_a_clear_answer(
    admin_page: Any, roost: Harness
) -> None:
    page = admin_page
    csrf = await page.locator("#services-form input[name=csrf]").input_value()
    answer = await page.request.post(
        roost.base + "/admin/services/action",
        form={"csrf": csrf, "action": "stop", "service": "gopher"},
    )
    assert answer.status == 404
    assert "no service named &#39;gopher&#39;" in await answer.text()
    await page.set_content(await answer.text())
    await expect(page.locator("main .error")).to_contain_text("no service named 'gopher'")
