"""Webmail sign-in over HTTP: sessions, cookies, CSRF, sign-out, password change, and
the separation from the admin console's sessions."""

from __future__ import annotations

from pathlib import Path

from roost.control.directory import Actor
from tests.admin_support import sign_in as admin_sign_in
from tests.webmail_support import (
    MAIL_COOKIE,
    PASSWORD,
    USER,
    csrf_of,
    page_csrf,
    sign_in,
    webmail,
)


async def test_sign_in_sets_a_strict_http_only_cookie_and_opens_the_folders(
    tmp_path: Path, backend: str
) -> None:
    async with webmail(tmp_path, backend=backend) as m:
        signed_out = await m.client.get("/mail")
        assert signed_out.status_code == 303
        assert signed_out.headers["location"] == "/mail/sign-in?next=%2Fmail&reason=signed-out"
        done = await sign_in(m.client)
        assert done.status_code == 303 and done.headers["location"] == "/mail"
        cookie = next(
            v for k, v in done.headers.multi_items() if k == "set-cookie" and MAIL_COOKIE + "=" in v
        )
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
        page = await m.client.get("/mail")
        assert page.status_code == 200
        assert USER in page.text and "INBOX" in page.text and "Trash" in page.text
        csp = page.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
        assert "unsafe-inline" not in csp and "<script>" not in page.text
        assert page.headers["x-content-type-options"] == "nosniff"


async def test_wrong_password_and_unknown_address_are_refused_alike(
    tmp_path: Path, backend: str
) -> None:
    async with webmail(tmp_path, backend=backend) as m:
        wrong = await sign_in(m.client, password="not-the-password")
        unknown = await sign_in(m.client, address="nobody@example.test")
        assert wrong.status_code == unknown.status_code == 401
        assert (
            "Wrong address or password." in wrong.text
            and "Wrong address or password." in unknown.text
        )
        assert MAIL_COOKIE not in m.client.cookies


async def test_repeated_failures_are_throttled_by_the_directory(
    tmp_path: Path, backend: str
) -> None:
    async with webmail(
        tmp_path, backend=backend, auth={"lockout_failures": 3, "free_failures": 3}
    ) as m:
        for _ in range(3):
            assert (await sign_in(m.client, password="wrong-password")).status_code == 401
        locked = await sign_in(m.client)
        assert locked.status_code == 429 and "locked" in locked.text


async def test_tls_cookie_has_the_host_prefix(tmp_path: Path, backend: str) -> None:
    async with webmail(tmp_path, backend=backend, https=True) as m:
        done = await sign_in(m.client)
        assert done.status_code == 303
        cookie = next(
            v
            for k, v in done.headers.multi_items()
            if k == "set-cookie" and "__Host-roost_mail=" in v
        )
        assert "Secure" in cookie and "Path=/" in cookie and "Domain" not in cookie
        assert (await m.client.get("/mail")).status_code == 200


async def test_csrf_is_checked_on_sign_in_and_every_post(tmp_path: Path, backend: str) -> None:
    async with webmail(tmp_path, backend=backend) as m:
        await m.client.get("/mail/sign-in")
        refused = await m.client.post(
            "/mail/sign-in", data={"csrf": "x" * 40, "address": USER, "password": PASSWORD}
        )
        assert refused.status_code == 403 and "CSRF" in refused.text
        assert (await sign_in(m.client)).status_code == 303
        wrong = await m.client.post("/mail/folders/create", data={"csrf": "wrong", "name": "Bills"})
        assert wrong.status_code == 403 and "CSRF" in wrong.text
        token = await page_csrf(m.client)
        other_site = await m.client.post(
            "/mail/folders/create",
            data={"csrf": token, "name": "Bills"},
            headers={"Origin": "http://evil.example"},
        )
        assert other_site.status_code == 403
        names = [b.name for b in await m.store.read(m.store.mail.mailboxes, 1)]
        assert "Bills" not in names


async def test_sign_out_ends_the_session_and_the_old_cookie(tmp_path: Path, backend: str) -> None:
    async with webmail(tmp_path, backend=backend) as m:
        await sign_in(m.client)
        old = m.client.cookies[MAIL_COOKIE]
        token = await page_csrf(m.client)
        out = await m.client.post("/mail/sign-out", data={"csrf": token})
        assert out.status_code == 303 and out.headers["location"] == "/mail/sign-in?reason=bye"
        m.client.cookies.set(MAIL_COOKIE, old)
        assert (await m.client.get("/mail")).status_code == 303
        assert m.auth.sessions.count("webmail") == 0


async def test_sign_in_rotates_the_session_id(tmp_path: Path, backend: str) -> None:
    async with webmail(tmp_path, backend=backend) as m:
        await sign_in(m.client)
        first = m.client.cookies[MAIL_COOKIE]
        m.client.cookies.delete(MAIL_COOKIE)
        await sign_in(m.client)
        second = m.client.cookies[MAIL_COOKIE]
        assert first != second
        # A fixed id planted before sign-in is never kept.
        planted = m.browser()
        planted.cookies.set(MAIL_COOKIE, "planted-id-planted-id-planted-id")
        done = await sign_in(planted)
        assert f"{MAIL_COOKIE}=" in done.headers["set-cookie"]
        assert "planted-id" not in done.headers["set-cookie"]
        await planted.aclose()


async def test_idle_and_absolute_timeouts(tmp_path: Path, backend: str) -> None:
    async with webmail(
        tmp_path, backend=backend, webmail={"session_idle_s": 600, "session_absolute_s": 3600}
    ) as m:
        await sign_in(m.client)
        m.clock.advance(601)
        expired = await m.client.get("/mail")
        assert expired.status_code == 303 and "reason=expired" in expired.headers["location"]
        await sign_in(m.client)
        for _ in range(7):
            m.clock.advance(500)
            assert (await m.client.get("/mail")).status_code == 200
        m.clock.advance(500)
        assert (await m.client.get("/mail")).status_code == 303


async def test_password_change_ends_the_other_sessions_everywhere(
    tmp_path: Path, backend: str
) -> None:
    async with webmail(tmp_path, backend=backend) as m:
        await sign_in(m.client)
        other = m.browser()
        await sign_in(other)
        assert m.auth.sessions.count("webmail") == 2
        token = await page_csrf(m.client, "/mail/password")
        wrong = await m.client.post(
            "/mail/password",
            data={
                "csrf": token,
                "current": "wrong-password",
                "new": "new-pass-1",
                "repeat": "new-pass-1",
            },
        )
        assert wrong.status_code == 401 and "current password is wrong" in wrong.text
        differ = await m.client.post(
            "/mail/password",
            data={"csrf": token, "current": PASSWORD, "new": "new-pass-1", "repeat": "new-pass-2"},
        )
        assert differ.status_code == 400 and "differ" in differ.text
        done = await m.client.post(
            "/mail/password",
            data={"csrf": token, "current": PASSWORD, "new": "new-pass-1", "repeat": "new-pass-1"},
        )
        assert done.status_code == 303 and done.headers["location"] == "/mail?done=password"
        assert (await m.client.get("/mail")).status_code == 200  # this browser goes on
        ended = await other.get("/mail")
        assert ended.status_code == 303 and "reason=expired" in ended.headers["location"]
        assert (await sign_in(other, password=PASSWORD)).status_code == 401
        assert (await sign_in(other, password="new-pass-1")).status_code == 303
        await other.aclose()


async def test_an_admin_password_reset_or_disabling_ends_the_session(
    tmp_path: Path, backend: str
) -> None:
    async with webmail(tmp_path, backend=backend) as m:
        await sign_in(m.client)
        await m.directory.set_password(Actor("test"), USER, "reset-by-admin-1")
        assert (await m.client.get("/mail")).status_code == 303
        await sign_in(m.client, password="reset-by-admin-1")
        assert (await m.client.get("/mail")).status_code == 200
        await m.directory.set_enabled(Actor("test"), USER, False)
        assert (await m.client.get("/mail")).status_code == 303
        assert (await sign_in(m.client, password="reset-by-admin-1")).status_code == 401


async def test_a_session_ended_while_the_registry_did_not_know_it(
    tmp_path: Path, backend: str
) -> None:
    """After a restart the registry is empty: the password stamp still ends the session."""
    async with webmail(tmp_path, backend=backend) as m:
        await sign_in(m.client)
        hashed, scram = await m.auth._passwords.hash_with_scram("changed-elsewhere-1")
        await m.store.write(m.store.directory.set_password, USER, hashed, scram)
        assert (await m.client.get("/mail")).status_code == 303


async def test_the_admin_cookie_does_not_open_the_webmail_nor_the_reverse(
    tmp_path: Path, backend: str
) -> None:
    async with webmail(tmp_path, backend=backend) as m:
        assert (await admin_sign_in(m.client, "root", "root-password-1")).status_code == 303
        admin_cookie = m.client.cookies["roost_admin"]
        assert (await m.client.get("/admin/services")).status_code == 200
        assert (await m.client.get("/mail")).status_code == 303  # signed in to the console only
        m.client.cookies.set(MAIL_COOKIE, admin_cookie)
        assert (await m.client.get("/mail")).status_code == 303
        user = m.browser()
        await sign_in(user)
        mail_cookie = user.cookies[MAIL_COOKIE]
        assert (await user.get("/mail")).status_code == 200
        assert (await user.get("/admin/services")).status_code == 303
        user.cookies.set("roost_admin", mail_cookie)
        assert (await user.get("/admin/services")).status_code == 303
        await user.aclose()


async def test_next_page_stays_in_the_webmail(tmp_path: Path, backend: str) -> None:
    async with webmail(tmp_path, backend=backend) as m:
        for target in ("//evil.example/", "https://evil.example/", "/admin/services", "/mail\\x"):
            page = await m.client.get("/mail/sign-in", params={"next": target})
            assert 'name="next" value="/mail"' in page.text
        page = await m.client.get("/mail/sign-in")
        assert csrf_of(page.text)


async def test_housekeeping_removes_timed_out_sessions_and_forgets_them(
    tmp_path: Path, backend: str
) -> None:
    async with webmail(tmp_path, backend=backend, webmail={"session_idle_s": 600}) as m:
        await sign_in(m.client)
        other = m.browser()
        await sign_in(other)
        assert m.auth.sessions.count("webmail") == 2
        m.clock.advance(300)
        assert (await other.get("/mail")).status_code == 200
        m.clock.advance(400)  # the first is idle past 600 s, the other is not
        assert await m.access.remove_expired() == 1
        assert m.auth.sessions.count("webmail") == 1
        assert (await m.client.get("/mail")).status_code == 303
        assert (await other.get("/mail")).status_code == 200
        await other.aclose()
