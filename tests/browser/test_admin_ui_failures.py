"""Failures in chromium: a port taken by someone else, a service's task killed.

In both, the Services page shows `failed` with the reason, the banner says a
service is not in the state chosen, and the supervisor brings the service
back by itself once it can (no admin action).
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from tests.browser_support import Harness, expect, row

COME_BACK_MS = 20_000
"""Bound on a return to running: retries come every 3 s in these tests."""

WATCH_STATES = """
(name) => {
  window.seenStates = [];
  const tr = document.querySelector(`tr[data-service="${name}"]`);
  new MutationObserver(() => window.seenStates.push(tr.dataset.state))
    .observe(tr, { attributes: true, attributeFilter: ["data-state"] });
}
"""


def state(page: Any, service: str) -> Any:
    return row(page, service).locator('[data-field="state"]')


async def test_port_in_use_then_freed(admin_page: Any, roost: Harness) -> None:
    page = admin_page
    await roost.roost.supervisor.stop("smtp", "test")
    await expect(state(page, "smtp")).to_have_text("stopped")
    squatter = socket.socket()
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    squatter.bind(("127.0.0.1", roost.smtp_port))
    squatter.listen(1)
    try:
        smtp = row(page, "smtp")
        await smtp.locator("summary").click()
        await smtp.get_by_role("button", name="Restart SMTP").click()
        await page.click("#confirm-ok")
        await expect(page.locator("#results-list")).to_contain_text("SMTP: is failed")
        await expect(state(page, "smtp")).to_have_text("failed")
        note = smtp.locator('[data-field="state_note"]')
        await expect(note).to_contain_text("address already in use", ignore_case=True)
        await expect(note).to_contain_text(f"127.0.0.1:{roost.smtp_port}")
        await expect(note).to_contain_text("Next try at")
        # The supervisor keeps trying on its own.
        await expect(smtp.locator('[data-field="restarts"]')).not_to_have_text(
            "0", timeout=COME_BACK_MS
        )
        await expect(note).to_contain_text("attempt 3", timeout=COME_BACK_MS)
        await expect(page.locator("#banner")).to_be_visible()
        await expect(page.locator("#banner-list")).to_contain_text(
            "SMTP is failed (wanted running)"
        )
    finally:
        squatter.close()
    await expect(state(page, "smtp")).to_have_text("running", timeout=COME_BACK_MS)
    await expect(page.locator("#banner")).to_be_hidden(timeout=COME_BACK_MS)
    await expect(row(page, "smtp").locator('[data-field="last_error"]')).to_contain_text(
        "address already in use", ignore_case=True
    )
    reader, writer = await asyncio.open_connection("127.0.0.1", roost.smtp_port)
    assert (await asyncio.wait_for(reader.readline(), 10)).startswith(b"220 ")
    writer.close()
    await writer.wait_closed()


async def test_a_killed_task_fails_then_comes_back(admin_page: Any, roost: Harness) -> None:
    page = admin_page
    await page.evaluate(WATCH_STATES, "spool")
    killed = [t for t in asyncio.all_tasks() if t.get_name() == "spool-loop"]
    assert len(killed) == 1
    killed[0].cancel()
    spool = row(page, "spool")
    await expect(state(page, "spool")).to_have_text("failed")
    await expect(spool.locator('[data-field="state_note"]')).to_contain_text(
        "crashed: spool-loop was cancelled"
    )
    await expect(page.locator("#banner-list")).to_contain_text("Spool is failed (wanted running)")
    await expect(state(page, "spool")).to_have_text("running", timeout=COME_BACK_MS)
    await expect(spool.locator('[data-field="restarts"]')).to_have_text("1")
    await expect(spool.locator('[data-field="last_error"]')).to_contain_text(
        "crashed: spool-loop was cancelled"
    )
    seen = await page.evaluate("window.seenStates")
    changes = [s for i, s in enumerate(seen) if i == 0 or seen[i - 1] != s]
    # Failed first, running at the end; a poll may catch `starting` in between.
    assert changes[0] == "failed" and changes[-1] == "running", changes
    assert set(changes) <= {"failed", "starting", "running"}, changes
    events = await roost.roost.store.read(
        roost.roost.store.events.list, object="service:spool", limit=2
    )
    assert [(e.new_state, e.actor) for e in events] == [
        ("running", "supervisor"),
        ("starting", "supervisor"),
    ]
