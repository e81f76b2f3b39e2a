"""Admin console sessions over HTTP: rotation, timeouts, revocation, throttling, two-step codes."""

from __future__ import annotations

from pathlib import Path

from roost.control import totp
from roost.control.admin_access import hash_session_id
from roost.control.directory import Actor
from roost.control.maintenance import Maintenance
from roost.store.admin_access import AdminSession
from tests.admin_support import PASSWORD, Console, console, csrf_of, page_csrf, sign_in

COOKIE = "roost_admin"


async def test_sign_in_makes_a_new_server_side_session_each_time(tmp_path: Path) -> None:
    async with console(tmp_path) as c:
        first = await sign_in(c.client)
        assert first.status_code == 303 and first.headers["location"] == "/admin/services"
        set_cookie = first.headers["set-cookie"]
        assert "HttpOnly" in set_cookie and "SameSite=strict" in set_cookie
        assert "Secure" not in set_cookie  # plain HTTP on loopback
        one = c.client.cookies[COOKIE]
        assert len(one) >= 43  # 256 bits in URL-safe base64
        # Only a hash of the id is kept.
        assert await c.store.read(c.store.admin_access.session, hash_session_id(one)) is not None
        assert await c.store.read(c.store.admin_access.session, one) is None
        # Signing in again from a browser that has a session replaces it.
        page = await c.client.get("/admin/sign-in?next=/admin/events")
        assert page.status_code == 303 and page.headers["location"] == "/admin/events"
        c.client.cookies.delete(COOKIE)
        form = await c.client.get("/admin/sign-in")
        c.client.cookies.set(COOKIE, one, domain="roost.test")
        again = await c.client.post(
            "/admin/sign-in",
            data={"csrf": csrf_of(form.text), "name": "root", "password": PASSWORD},
        )
        assert again.status_code == 303
        two = c.client.cookies[COOKIE]
        assert two != one
        assert await c.store.read(c.store.admin_access.session, hash_session_id(one)) is None
        events = await c.store.read(c.store.events.list, object="admin:root")
        assert [e.action for e in events[:2]] == ["sign-in", "sign-in"]
        assert events[0].actor == "admin:root" and events[0].source_address == "127.0.0.1"


async def test_cookies_over_tls_are_secure_and_host_only(tmp_path: Path) -> None:
    async with console(tmp_path, https=True) as c:
        answer = await sign_in(c.client)
        assert answer.status_code == 303
        set_cookie = answer.headers["set-cookie"]
        assert set_cookie.startswith("__Host-roost_admin=")
        assert "Secure" in set_cookie and "Path=/" in set_cookie and "Domain" not in set_cookie
        assert (await c.client.get("/admin/services")).status_code == 200


async def test_idle_and_absolute_timeouts(tmp_path: Path) -> None:
    async with console(tmp_path) as c:
        await sign_in(c.client)
        c.clock.advance(1700)
        assert (await c.client.get("/admin/services")).status_code == 200
        # The page's own updates do not keep a session alive.
        for _ in range(3):
            c.clock.advance(1000)
            status = await c.client.get(
                "/admin/services/status", headers={"Accept": "application/json"}
            )
            if status.status_code != 200:
                break
        assert status.status_code == 401
        assert status.json()["error"] == "Your session has expired."
        expired = await c.client.get("/admin/services")
        assert expired.status_code == 303
        assert (
            expired.headers["location"]
            == "/admin/sign-in?next=%2Fadmin%2Fservices&reason=signed-out"
        )
        # Used all along, a session still ends 12 h after its sign-in.
        await sign_in(c.client)
        for _ in range(12 * 4 + 1):
            c.clock.advance(15 * 60)
            answer = await c.client.get("/admin/events")
            if answer.status_code != 200:
                break
        assert answer.status_code == 303
        assert "reason=expired" in answer.headers["location"]
        page = await c.client.get(answer.headers["location"])
        assert "Your session has expired: sign in again." in page.text


async def test_expired_session_on_a_form_post_is_401_with_the_sign_in_page(tmp_path: Path) -> None:
    async with console(tmp_path) as c:
        await sign_in(c.client)
        csrf = await page_csrf(c.client)
        c.clock.advance(1801)
        answer = await c.client.post(
            "/admin/services/action", data={"csrf": csrf, "action": "stop", "service": "smtp"}
        )
        assert answer.status_code == 401
        assert "Your session has expired: sign in again." in answer.text
        assert c.supervisor.status("smtp").state.value == "running"


async def test_password_change_and_admin_removal_end_sessions(tmp_path: Path) -> None:
    async with console(tmp_path) as c, c.client_for() as other:
        await sign_in(c.client)
        await sign_in(other)
        before = c.client.cookies[COOKIE]
        csrf = await page_csrf(c.client, "/admin/password")
        changed = await c.client.post(
            "/admin/password",
            data={
                "csrf": csrf,
                "current": PASSWORD,
                "new": "brand-new-pw",
                "repeat": "brand-new-pw",
            },
        )
        assert changed.status_code == 303
        assert c.client.cookies[COOKIE] != before  # this browser has a new session
        assert (await c.client.get("/admin/services")).status_code == 200
        assert (await other.get("/admin/services")).status_code == 303  # the other is gone
        # A password set through the API or the CLI ends sessions too.
        await c.directory.set_admin_password(Actor("cli:root"), "root", "another-new-pw")
        assert (await c.client.get("/admin/services")).status_code == 303
        await sign_in(c.client, password="another-new-pw")
        await c.directory.add_admin(Actor("test"), "second", "second-password")
        await c.directory.remove_admin(Actor("admin:second"), "root")
        assert (await c.client.get("/admin/services")).status_code == 303


async def test_wrong_passwords_are_throttled_and_audited(tmp_path: Path) -> None:
    async with console(
        tmp_path, auth={"delay_initial_s": 0.0, "delay_max_s": 0.0, "lockout_failures": 3}
    ) as c:
        for _ in range(3):
            wrong = await sign_in(c.client, password="wrong-password")
            assert wrong.status_code == 401
            assert "Wrong name or password." in wrong.text
        locked = await sign_in(c.client)
        assert locked.status_code == 429
        assert "Too many failed sign-ins from 127.0.0.1" in locked.text
        events = await c.store.read(c.store.events.list, object="admin:root")
        assert [e.action for e in events if e.action != "add"] == ["sign-in-failed"] * 3
        assert events[0].actor == "anonymous" and events[0].reason == "wrong name or password"
        assert "wrong-password" not in str(events)
        c.clock.advance(901)
        assert (await sign_in(c.client)).status_code == 303


async def test_sessions_per_admin_are_capped(tmp_path: Path) -> None:
    async with console(tmp_path, admin={"max_sessions_per_admin": 2}) as c:
        await sign_in(c.client)
        oldest = c.client.cookies[COOKIE]
        for _ in range(2):
            c.clock.advance(1)
            async with c.client_for() as other:
                await sign_in(other)
        c.client.cookies.set(COOKIE, oldest, domain="roost.test")
        assert (await c.client.get("/admin/services")).status_code == 303


async def test_two_step_codes(tmp_path: Path) -> None:
    async with console(tmp_path, auth={"delay_initial_s": 0.0, "delay_max_s": 0.0}) as c:
        await sign_in(c.client)
        csrf = await page_csrf(c.client, "/admin/account")
        began = await c.client.post("/admin/account/totp/begin", data={"csrf": csrf})
        assert began.status_code == 200 and "otpauth://totp/Roost%3Aroot?secret=" in began.text
        pending = await c.access.totp_of(await _session(c))
        assert pending is not None and not pending.enabled
        now = c.clock.now().timestamp()
        bad = await c.client.post(
            "/admin/account/totp/confirm", data={"csrf": csrf, "code": "12345x"}
        )
        assert bad.status_code == 401 and "does not match" in bad.text
        good = await c.client.post(
            "/admin/account/totp/confirm",
            data={"csrf": csrf, "code": totp.code_at(pending.secret, now)},
        )
        assert good.status_code == 303
        fresh = c.client_for()
        async with fresh:
            assert (await sign_in(fresh)).status_code == 401
            # The code used to confirm is spent; one step later is in the window.
            used = totp.code_at(pending.secret, now)
            assert (await sign_in(fresh, code=used)).status_code == 401
            c.clock.advance(totp.STEP_S)
            later = totp.code_at(pending.secret, now + 2 * totp.STEP_S)
            assert (await sign_in(fresh, code=later)).status_code == 303
            assert (await sign_in(fresh, code=later)).status_code == 401  # once only
            far = totp.code_at(pending.secret, now + 10 * totp.STEP_S)
            assert (await sign_in(fresh, code=far)).status_code == 401
        csrf = await page_csrf(c.client, "/admin/account")
        wrong = await c.client.post(
            "/admin/account/totp/disable", data={"csrf": csrf, "password": "nope-nope"}
        )
        assert wrong.status_code == 401
        off = await c.client.post(
            "/admin/account/totp/disable", data={"csrf": csrf, "password": PASSWORD}
        )
        assert off.status_code == 303
        actions = [e.action for e in await c.store.read(c.store.events.list, object="admin:root")]
        assert "two-step-on" in actions and "two-step-off" in actions


async def test_housekeeping_removes_old_events_and_dead_sessions(tmp_path: Path) -> None:
    async with console(tmp_path, admin={"events_retention_days": 30}) as c:
        await sign_in(c.client)
        c.clock.advance(31 * 86400)
        await c.supervisor.stop("imap", "test")
        maintenance = Maintenance(c.store, 600, events_retention_days=30, admin_access=c.access)
        await maintenance.run_once()
        events = await c.store.read(c.store.events.list, limit=1000)
        assert events and all(e.object == "service:imap" for e in events)
        assert await c.store.read(c.store.admin_access.sessions_of, 1) == []


async def _session(c: Console) -> AdminSession:
    found = await c.access.lookup(c.client.cookies[COOKIE], activity=False)
    assert found.session is not None
    return found.session
