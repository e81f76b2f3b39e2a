"""The dashboard and the Spool page over HTTP: figures, listing, paging, actions, escaping."""

from __future__ import annotations

import re
from pathlib import Path

from roost.store.store import Store
from roost.store.types import NewRecipient, QueueState
from tests.admin_support import console, csrf_of, page_csrf, sign_in

HOSTILE = "<img src=x onerror=alert(1)>"


def message(subject: str = "hello", sender: str = "a@example.org") -> bytes:
    return (f"From: {sender}\r\nTo: b@example.net\r\nSubject: {subject}\r\n\r\nbody\r\n").encode()


async def enqueue(
    store: Store, data: bytes, sender: str = "a@example.org", to: str = "b@example.net"
) -> int:
    blob = await store.blobs.stage(data)
    return await store.write(store.queue.enqueue, blob, sender, [NewRecipient(to)], source="smtp")


async def state_of(store: Store, entry_id: int) -> QueueState:
    return (await store.read(store.queue.entry, entry_id)).state


def listed_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr data-entry="(\d+)"', html)]


async def test_admin_is_the_dashboard_and_sign_in_lands_there(tmp_path: Path) -> None:
    async with console(tmp_path) as c:
        signed_out = await c.client.get("/admin")
        assert signed_out.status_code == 303
        assert signed_out.headers["location"].startswith("/admin/sign-in?next=%2Fadmin&")
        form = await c.client.get("/admin/sign-in")
        assert 'name="next" value="/admin"' in form.text
        await sign_in(c.client)
        await enqueue(c.store, message())
        page = await c.client.get("/admin")
        assert page.status_code == 200
        assert "<h1>Dashboard" in page.text and 'aria-current="page">Dashboard' in page.text
        assert 'data-dash="spool_queued">1<' in page.text
        assert 'data-dash="sessions_pop">not running here<' in page.text
        assert "No warnings." in page.text
        assert '<polyline class="line-received"' in page.text
        data = (
            await c.client.get("/admin/dashboard/data", headers={"Accept": "application/json"})
        ).json()
        assert data["fields"]["spool_total"] == "1"
        assert data["fields"]["backend"] in ("SQLite", "PostgreSQL")
        assert [s["name"] for s in data["strip"]] == ["imap", "smtp"]
        assert len(data["plot"]["lines"]["received"].split()) == 60


async def test_dashboard_warns_about_disk_and_database(tmp_path: Path) -> None:
    limits = {"disk_free_warning_percent": 100.0, "database_size_warning_bytes": 1}
    async with console(tmp_path, admin=limits) as c:
        await sign_in(c.client)
        page = await c.client.get("/admin")
        assert "disk_free_warning_percent" in page.text
        assert "database_size_warning_bytes" in page.text
        assert "No warnings." in page.text  # present but hidden
        assert '<p id="no-warnings" class="muted" hidden>' in page.text


async def test_outsiders_fields_are_inert_in_the_list_and_the_view(tmp_path: Path) -> None:
    async with console(tmp_path) as c:
        await sign_in(c.client)
        entry = await enqueue(
            c.store, message(subject=HOSTILE, sender=f'"{HOSTILE}" <x@example.org>')
        )
        for path in ("/admin/spool", f"/admin/spool/{entry}"):
            page = await c.client.get(path)
            assert page.status_code == 200
            assert "<img" not in page.text
            assert "&lt;img src=x onerror=alert(1)&gt;" in page.text
        view = await c.client.get(f"/admin/spool/{entry}")
        assert "Subject" in view.text and 'id="message-source"' in view.text


async def test_paging_and_filters(tmp_path: Path) -> None:
    async with console(tmp_path, admin={"spool_page_size": 10}) as c:
        await sign_in(c.client)
        ids = [
            await enqueue(c.store, message(f"n{n}"), f"s{n % 2}@example.org", f"r@d{n % 3}.example")
            for n in range(25)
        ]
        first = await c.client.get("/admin/spool")
        assert listed_ids(first.text) == ids[:10] and "25 entries match" in first.text
        second = await c.client.get(f"/admin/spool?tab=all&after={ids[9]}")
        assert listed_ids(second.text) == ids[10:20]
        back = await c.client.get(f"/admin/spool?tab=all&before={ids[10]}")
        assert listed_ids(back.text) == ids[:10]
        assert "Next page" in back.text and "Previous page" not in back.text
        last = await c.client.get(f"/admin/spool?tab=all&after={ids[19]}")
        assert listed_ids(last.text) == ids[20:] and "Next page" not in last.text
        by_sender = await c.client.get("/admin/spool?sender=S1@")
        assert listed_ids(by_sender.text) == ids[1::2][:10] and "12 entries" in by_sender.text
        by_domain = await c.client.get("/admin/spool?domain=D2.example")
        assert listed_ids(by_domain.text) == ids[2::3]
        assert (await c.client.get("/admin/spool?tab=waiting")).text.count("<tr data-entry") == 0
        for bad, words in (
            ("tab=bogus", "Unknown tab"),
            ("after=x1", "must be a queue entry number"),
            ("domain=a@b", "must be a domain name"),
        ):
            answer = await c.client.get(f"/admin/spool?{bad}")
            assert answer.status_code == 400 and words in answer.text
        missing = await c.client.get("/admin/spool/999999")
        assert missing.status_code == 404 and "no queue entry 999999" in missing.text
        assert (await c.client.get("/admin/spool/abc")).status_code == 400


async def test_actions_on_ticked_rows_are_audited(tmp_path: Path) -> None:
    async with console(tmp_path) as c:
        await sign_in(c.client)
        one, two, three = [await enqueue(c.store, message(f"m{n}")) for n in range(3)]
        csrf = await page_csrf(c.client, "/admin/spool")
        held = await c.client.post(
            "/admin/spool/action",
            data={"csrf": csrf, "action": "hold", "scope": "selected", "id": [str(one), str(two)]},
        )
        assert held.status_code == 200 and "Hold: 2 entries held." in held.text
        assert await state_of(c.store, one) is QueueState.HELD
        assert await state_of(c.store, three) is QueueState.QUEUED
        waiting = await c.client.get("/admin/spool?tab=waiting")
        assert listed_ids(waiting.text) == [one, two]
        released = await c.client.post(
            "/admin/spool/action",
            data={"csrf": csrf, "action": "release", "scope": "selected", "id": str(one)},
        )
        assert "Release: 1 entry released" in released.text
        assert await state_of(c.store, one) is QueueState.QUEUED
        # Delete asks first, then does it.
        ask = await c.client.post(
            "/admin/spool/action",
            data={"csrf": csrf, "action": "delete", "scope": "selected", "id": str(three)},
        )
        assert "are you sure" in ask.text and 'name="confirm" value="yes"' in ask.text
        assert await state_of(c.store, three) is QueueState.QUEUED
        done = await c.client.post(
            "/admin/spool/action",
            data={
                "csrf": csrf_of(ask.text),
                "action": "delete",
                "scope": "selected",
                "id": str(three),
                "confirm": "yes",
            },
        )
        assert "Delete: 1 entry deleted." in done.text
        assert three not in listed_ids(done.text)
        gone = await c.client.post(
            "/admin/spool/action",
            data={"csrf": csrf, "action": "retry", "scope": "selected", "id": str(three)},
        )
        assert "0 entries forced" in gone.text and "1 had already left the queue" in gone.text
        events = await c.store.read(c.store.events.list, limit=20, object_prefix="queue:")
        assert sorted((e.object, e.action, e.actor) for e in events) == sorted(
            [
                (f"queue:{one}", "hold", "admin:root"),
                (f"queue:{two}", "hold", "admin:root"),
                (f"queue:{one}", "release", "admin:root"),
                (f"queue:{three}", "delete", "admin:root"),
            ]
        )
        assert all(e.source_address == "127.0.0.1" for e in events)


async def test_all_matching_is_confirmed_and_bounded(tmp_path: Path) -> None:
    async with console(tmp_path, admin={"spool_page_size": 10}) as c:
        await sign_in(c.client)
        ours = [await enqueue(c.store, message(), "bulk@example.org") for _ in range(15)]
        other = await enqueue(c.store, message(), "keep@example.org")
        page = await c.client.get("/admin/spool?sender=bulk")
        upto = re.search(r'name="upto" value="(\d+)"', page.text)
        assert upto and int(upto[1]) == ours[-1]
        form = {
            "csrf": csrf_of(page.text),
            "action": "hold",
            "scope": "all",
            "tab": "all",
            "sender": "bulk",
            "domain": "",
            "upto": upto[1],
        }
        ask = await c.client.post("/admin/spool/action", data=form)
        assert "15 now" in ask.text and "sender containing “bulk”" in ask.text
        assert await state_of(c.store, ours[0]) is QueueState.QUEUED
        late = await enqueue(c.store, message(), "bulk@example.org")  # after the confirmation
        done = await c.client.post("/admin/spool/action", data={**form, "confirm": "yes"})
        assert "Hold: 15 entries held." in done.text
        assert {await state_of(c.store, i) for i in ours} == {QueueState.HELD}
        assert await state_of(c.store, late) is QueueState.QUEUED
        assert await state_of(c.store, other) is QueueState.QUEUED
        events = await c.store.read(c.store.events.list, limit=100, object_prefix="queue:")
        assert len(events) == 15


async def test_a_form_without_its_csrf_token_changes_nothing(tmp_path: Path) -> None:
    async with console(tmp_path) as c:
        await sign_in(c.client)
        entry = await enqueue(c.store, message())
        csrf = await page_csrf(c.client, "/admin/spool")
        for data in (
            {"action": "delete", "scope": "selected", "id": str(entry), "confirm": "yes"},
            {
                "csrf": csrf[:-1] + "x",
                "action": "hold",
                "scope": "all",
                "upto": str(entry),
                "confirm": "yes",
            },
        ):
            refused = await c.client.post("/admin/spool/action", data=data)
            assert refused.status_code == 403
            assert (
                "CSRF token does not match" in refused.text
                and "Nothing was changed" in refused.text
            )
        assert await state_of(c.store, entry) is QueueState.QUEUED
        assert not await c.store.read(c.store.events.list, limit=5, object_prefix="queue:")
        for data, words in (
            ({"csrf": csrf, "action": "explode", "id": str(entry)}, "Choose an action"),
            ({"csrf": csrf, "action": "hold", "scope": "selected"}, "Tick at least one entry"),
            ({"csrf": csrf, "action": "hold", "id": "1; drop"}, "must be a queue entry number"),
            ({"csrf": csrf, "action": "hold", "scope": "everything"}, "neither the ticked"),
        ):
            answer = await c.client.post("/admin/spool/action", data=data)
            assert answer.status_code == 400 and words in answer.text, answer.text
        assert await state_of(c.store, entry) is QueueState.QUEUED
