"""The Spool page in chromium: hostile headers stay text; actions on one row and on all matching.

The Spool service is stopped first, so that what SMTP accepts stays in the queue.
"""

from __future__ import annotations

from typing import Any

from roost.control.directory import Actor
from roost.store.types import QueueState
from tests.browser_support import Harness, expect, send_messages

ACTOR = Actor("test")
HOSTILE = "<img src=x onerror=document.title='pwned'>"


async def prepare(roost: Harness) -> None:
    await roost.roost.directory.add_domain(ACTOR, "example.org")
    await roost.roost.directory.add_user(ACTOR, "alice@example.org", "alice-password-1")
    await roost.roost.supervisor.stop("spool", "cli:test")


async def states(roost: Harness) -> dict[int, QueueState]:
    store = roost.roost.store
    return {e.id: e.state for e in await store.read(store.queue.entries, limit=1000)}


def entry_row(page: Any, entry_id: int) -> Any:
    return page.locator(f'tr[data-entry="{entry_id}"]')


async def act(page: Any, action: str, *, every: bool = False) -> None:
    await page.select_option("#spool-action", action)
    await page.click("#apply-all" if every else "#apply-selected")


async def test_hostile_from_and_subject_are_inert(admin_page: Any, roost: Harness) -> None:
    page = admin_page
    await prepare(roost)
    await send_messages(roost, 1, from_header=f'"{HOSTILE}" <evil@example.net>', subject=HOSTILE)
    (entry_id,) = await states(roost)
    await page.click('nav[aria-label="Admin console"] >> text=Spool')
    await expect(page).to_have_url(roost.base + "/admin/spool")
    row = entry_row(page, entry_id)
    await expect(row.locator(".subject")).to_have_text(HOSTILE)
    await expect(row.locator(".from")).to_contain_text(HOSTILE)
    assert await page.locator("main img").count() == 0
    await row.get_by_role("link", name=str(entry_id)).click()
    await expect(page.locator("dd.subject")).to_have_text(HOSTILE)
    await expect(page.locator("#message-source")).to_contain_text(f"Subject: {HOSTILE}")
    assert await page.locator("main img").count() == 0
    assert await page.title() != "pwned"


async def test_actions_on_one_row(admin_page: Any, roost: Harness) -> None:
    page = admin_page
    await prepare(roost)
    await send_messages(roost, 3)
    first, second, third = sorted(await states(roost))
    await page.goto(roost.base + "/admin/spool")
    await expect(page.locator("#spool-count")).to_contain_text("3 entries match")

    await page.check(f"#pick-{first}")
    await act(page, "hold")
    await expect(page.locator(".notice")).to_have_text("Hold: 1 entry held.")
    await expect(entry_row(page, first).locator(".qstate")).to_have_text("held")
    assert (await states(roost))[first] is QueueState.HELD
    await page.click("text=Waiting to deliver")
    await expect(page.locator("tr[data-entry]")).to_have_count(1)

    await page.check(f"#pick-{first}")
    await act(page, "release")
    await expect(page.locator(".notice")).to_have_text("Release: 1 entry released (due now).")
    assert (await states(roost))[first] is QueueState.QUEUED

    await page.goto(roost.base + "/admin/spool")
    await page.check(f"#pick-{second}")
    await act(page, "retry")
    await expect(page.locator(".notice")).to_have_text("Force: 1 entry forced (due now).")
    await expect(entry_row(page, second)).to_contain_text("due now")

    await page.check(f"#pick-{third}")
    await act(page, "delete")
    await expect(page.locator("#confirm-effect")).to_contain_text(f"({third}) will be deleted")
    await page.click("#confirm-button")
    await expect(page.locator(".notice")).to_have_text("Delete: 1 entry deleted.")
    await expect(entry_row(page, third)).to_have_count(0)
    assert sorted(await states(roost)) == [first, second]
    store = roost.roost.store
    events = await store.read(store.events.list, limit=10, object_prefix="queue:")
    assert [(e.action, e.actor) for e in reversed(events)] == [
        ("hold", "admin:admin"),
        ("release", "admin:admin"),
        ("retry", "admin:admin"),
        ("delete", "admin:admin"),
    ]


async def test_actions_on_all_matching(admin_page: Any, roost: Harness) -> None:
    page = admin_page
    await prepare(roost)
    await send_messages(roost, 4, sender="bulk@example.net")
    await send_messages(roost, 2, sender="keep@example.net")
    bulk = sorted(await states(roost))[:4]
    await page.goto(roost.base + "/admin/spool")
    await page.fill("#f-sender", "bulk@")
    await page.click("form[role=search] button.primary")
    await expect(page.locator("#spool-count")).to_contain_text("4 entries match")

    for action, effect, state in (
        ("hold", "held", QueueState.HELD),
        ("release", "released (due now)", QueueState.QUEUED),
        ("retry", "forced (due now)", QueueState.QUEUED),
    ):
        await act(page, action, every=True)
        await expect(page.locator("#confirm-effect")).to_contain_text("sender containing")
        await page.click("#confirm-button")
        await expect(page.locator(".notice")).to_contain_text(f"4 entries {effect}.")
        found = await states(roost)
        assert {found[i] for i in bulk} == {state}
        assert len(found) == 6
    await expect(page.locator("#f-sender")).to_have_value("bulk@")

    await act(page, "delete", every=True)
    await expect(page.locator("#confirm-effect")).to_contain_text("4 now")
    await page.click("#confirm-button")
    await expect(page.locator(".notice")).to_have_text("Delete: 4 entries deleted.")
    await expect(page.locator("#spool-count")).to_contain_text("0 entries match")
    assert len(await states(roost)) == 2
