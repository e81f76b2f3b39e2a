"""Admin console pages over HTTP: headers, CSRF, bad input with its status, escaping, events."""

from __future__ import annotations

from pathlib import Path

import pytest

from roost.control.directory import Actor
from tests.admin_support import console, csrf_of, page_csrf, sign_in

HOSTILE = "<script>alert(1)</script>"


async def test_every_page_has_the_security_headers(tmp_path: Path) -> None:
    async with console(tmp_path) as c:
        signed_out = await c.client.get("/admin/sign-in")
        await sign_in(c.client)
        for response in (
            signed_out,
            await c.client.get("/admin/services"),
            await c.client.get("/admin/events"),
            await c.client.get("/admin/account"),
            await c.client.get("/admin/password"),
            await c.client.get("/admin/nowhere"),
        ):
            csp = response.headers["content-security-policy"]
            assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
            assert "script-src 'self'" in csp and "unsafe-inline" not in csp
            assert response.headers["x-frame-options"] == "DENY"
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["cache-control"] == "no-store"
            assert "<script>" not in response.text  # no inline script anywhere
        assert (await c.client.get("/admin/nowhere")).status_code == 404
        css = await c.client.get("/admin/static/admin.css")
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
        assert (await c.client.get("/admin/static/other.js")).status_code == 404


async def test_signed_out_requests(tmp_path: Path) -> None:
    async with console(tmp_path) as c:
        page = await c.client.get("/admin/events?actor=x")
        assert page.status_code == 303
        assert page.headers["location"] == "/admin/sign-in?next=%2Fadmin%2Fevents&reason=signed-out"
        status = await c.client.get(
            "/admin/services/status", headers={"Accept": "application/json"}
        )
        assert status.status_code == 401 and status.json()["sign_in"] == "/admin/sign-in"
        post = await c.client.post("/admin/services/action", data={"csrf": "x", "action": "stop"})
        assert post.status_code == 401 and "sign in again" in post.text
        landing = (await c.client.get("/admin")).headers["location"]
        assert landing == "/admin/sign-in?next=%2Fadmin&reason=signed-out"
        # Somewhere else to go after signing in must be a page of the console.
        form = await c.client.get("/admin/sign-in?next=//evil.example/")
        assert 'name="next" value="/admin"' in form.text


async def test_csrf_is_checked_on_every_form(tmp_path: Path) -> None:
    async with console(tmp_path) as c:
        # The sign-in form: its token must match its cookie.
        form = await c.client.get("/admin/sign-in")
        c.client.cookies.delete("roost_signin")
        answer = await c.client.post(
            "/admin/sign-in",
            data={"csrf": csrf_of(form.text), "name": "root", "password": "root-password-1"},
        )
        assert answer.status_code == 403 and "CSRF token does not match" in answer.text
        await sign_in(c.client)
        csrf = await page_csrf(c.client)
        for data in (
            {"action": "stop", "service": "smtp"},
            {"csrf": "", "action": "stop", "service": "smtp"},
            {"csrf": csrf[:-1] + "x", "action": "stop", "service": "smtp"},
        ):
            refused = await c.client.post("/admin/services/action", data=data)
            assert refused.status_code == 403
            assert "CSRF token does not match" in refused.text
        for path in ("/admin/sign-out", "/admin/password", "/admin/account/totp/begin"):
            assert (await c.client.post(path, data={"csrf": "nope"})).status_code == 403
        # Another site's form is refused by its Origin even with the token.
        foreign = await c.client.post(
            "/admin/services/action",
            data={"csrf": csrf, "action": "stop", "service": "smtp"},
            headers={"Origin": "http://evil.example"},
        )
        assert foreign.status_code == 403
        assert c.supervisor.status("smtp").state.value == "running"
        # A token from before signing in again is stale.
        await sign_in(c.client)
        stale = await c.client.post(
            "/admin/services/action", data={"csrf": csrf, "action": "stop", "service": "smtp"}
        )
        assert stale.status_code == 403
        fresh = await page_csrf(c.client)
        done = await c.client.post(
            "/admin/services/action",
            data={"csrf": fresh, "action": "stop", "service": "smtp"},
            headers={"Origin": "http://roost.test"},
        )
        assert done.status_code == 200 and "SMTP: stopped" in done.text


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ({"action": "stop", "service": "gopher"}, 404, "no service named &#39;gopher&#39;"),
        ({"action": "stop", "service": HOSTILE}, 404, "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ({"action": "explode", "service": "smtp"}, 400, "Unknown action &#39;explode&#39;"),
        ({"action": "stop"}, 400, "Choose at least one service"),
        ({"row": "smtp:explode"}, 400, "Unknown action"),
    ],
)
async def test_bad_service_actions(
    tmp_path: Path, data: dict[str, str], status: int, message: str
) -> None:
    async with console(tmp_path) as c:
        await sign_in(c.client)
        csrf = await page_csrf(c.client)
        answer = await c.client.post("/admin/services/action", data={"csrf": csrf, **data})
        assert answer.status_code == status
        assert message in answer.text
        assert HOSTILE not in answer.text
        assert c.supervisor.status("smtp").state.value == "running"
        as_json = await c.client.post(
            "/admin/services/action",
            data={"csrf": csrf, **data},
            headers={"Accept": "application/json"},
        )
        assert as_json.status_code == status and "error" in as_json.json()


async def test_actions_report_per_service(tmp_path: Path) -> None:
    async with console(tmp_path) as c:
        await sign_in(c.client)
        csrf = await page_csrf(c.client)
        headers = {"Accept": "application/json"}
        stop = {"csrf": csrf, "action": "stop", "service": ["smtp", "IMAP"]}
        first = await c.client.post("/admin/services/action", data=stop, headers=headers)
        assert first.status_code == 200
        assert [(r["service"], r["message"]) for r in first.json()["results"]] == [
            ("smtp", "stopped"),
            ("imap", "stopped"),
        ]
        again = await c.client.post("/admin/services/action", data=stop, headers=headers)
        assert again.status_code == 409
        assert again.json()["results"][0]["message"] == "was already stopped; nothing changed"
        page = await c.client.post(
            "/admin/services/action", data={"csrf": csrf, "row": "smtp:stop"}
        )
        assert page.status_code == 409 and "SMTP: was already stopped" in page.text
        # A start that fails is reported as such.
        c.services["smtp"].fail_start = "cannot listen on 127.0.0.1:25: Address already in use"
        failed = await c.client.post(
            "/admin/services/action",
            data={"csrf": csrf, "action": "start", "service": "smtp"},
            headers=headers,
        )
        result = failed.json()["results"][0]
        assert failed.status_code == 200 and not result["ok"] and result["state"] == "failed"
        assert "Address already in use" in result["message"]
        status = await c.client.get("/admin/services/status", headers=headers)
        smtp = next(s for s in status.json()["services"] if s["name"] == "smtp")
        assert smtp["state"] == "failed" and "Next try at" in smtp["state_note"]
        assert status.json()["banner"] == [
            "SMTP is failed (wanted running): failed to start: cannot listen on "
            "127.0.0.1:25: Address already in use"
        ]
        # Every page shows the banner while a service is not as chosen.
        for path in ("/admin/events", "/admin/account"):
            shown = await c.client.get(path)
            assert "SMTP is failed (wanted running)" in shown.text
        # The confirmation page (without the script) names each effect.
        confirm = await c.client.post(
            "/admin/services/confirm",
            data={"csrf": csrf, "action": "stop", "service": ["smtp", "imap"]},
        )
        assert confirm.status_code == 200
        assert "SMTP: inbound mail and submission refused; 0 sessions closed" in confirm.text
        assert "IMAP: already stopped; nothing changes" in confirm.text


async def test_wrong_password_and_html_in_fields(tmp_path: Path) -> None:
    async with console(tmp_path, auth={"delay_initial_s": 0.0, "delay_max_s": 0.0}) as c:
        wrong = await sign_in(c.client, name=HOSTILE, password="x" * 5000)
        assert wrong.status_code == 401
        assert "Wrong name or password." in wrong.text
        assert HOSTILE not in wrong.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in wrong.text
        await sign_in(c.client)
        await c.supervisor.stop("imap", HOSTILE, HOSTILE)
        events = await c.client.get("/admin/events")
        assert events.status_code == 200
        assert HOSTILE not in events.text
        assert "admin:&lt;script&gt;alert(1)&lt;/script&gt;" in events.text  # the failed sign-in
        assert events.text.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 4  # the stop's actor
        echoed = await c.client.get("/admin/events", params={"actor": HOSTILE})
        assert HOSTILE not in echoed.text and 'value="&lt;script&gt;' in echoed.text
        for path in ("/admin/services", "/admin/events"):
            shown = await c.client.get(path)
            assert HOSTILE not in shown.text
        status = await c.client.get(
            "/admin/services/status", headers={"Accept": "application/json"}
        )
        assert HOSTILE in status.text  # JSON, put into the page as text by the script
        csrf = await page_csrf(c.client, "/admin/password")
        weak = await c.client.post(
            "/admin/password",
            data={"csrf": csrf, "current": "root-password-1", "new": "short", "repeat": "short"},
        )
        assert weak.status_code == 400 and "a password has 8 to 512 characters" in weak.text
        wrong_current = await c.client.post(
            "/admin/password",
            data={"csrf": csrf, "current": "nope", "new": "long-enough", "repeat": "long-enough"},
        )
        assert wrong_current.status_code == 401
        assert "The current password is wrong." in wrong_current.text
        big = await c.client.post(
            "/admin/services/action", data={"csrf": csrf, "service": "x" * 70_000}
        )
        assert big.status_code == 413


async def test_events_filters_and_paging(tmp_path: Path) -> None:
    async with console(tmp_path, admin={"events_page_size": 10}) as c:
        await sign_in(c.client)
        for n in range(12):
            await c.directory.add_domain(Actor(f"cli:user{n % 2}"), f"d{n}.example")
        c.clock.advance(600)
        await c.supervisor.stop("smtp", "admin:root")
        only = await c.client.get("/admin/events", params={"actor": "CLI:USER1"})
        assert only.text.count("<tr data-event=") == 6
        objects = await c.client.get("/admin/events", params={"object": "service:smtp"})
        assert objects.text.count("<tr data-event=") == 4  # boot: 2, stop: 2
        assert "admin:root" in objects.text
        since = (c.clock.now().replace(second=0, microsecond=0)).strftime("%Y-%m-%dT%H:%M")
        recent = await c.client.get("/admin/events", params={"since": since, "object": "service:"})
        assert recent.text.count("<tr data-event=") == 2
        until = await c.client.get("/admin/events", params={"until": since, "object": "domain:"})
        assert until.text.count("<tr data-event=") == 10 and "Older events" in until.text
        bad = await c.client.get("/admin/events", params={"since": "yesterday"})
        assert bad.status_code == 400 and "From must be a date and time" in bad.text
        bad = await c.client.get("/admin/events", params={"before": "-3"})
        assert bad.status_code == 400
        first = await c.client.get("/admin/events", params={"object": "domain:"})
        assert first.text.count("<tr data-event=") == 10
        older_link = first.text.split('href="/admin/events?')[-1].split('"')[0]
        older = await c.client.get("/admin/events?" + older_link.replace("&amp;", "&"))
        assert older.text.count("<tr data-event=") == 2


async def test_the_api_names_and_filters_actors(tmp_path: Path) -> None:
    async with console(tmp_path) as c:
        cli = {"Authorization": "Bearer cli-token", "X-Roost-User": "alice"}
        stopped = await c.client.post("/api/v1/services/imap/stop", headers=cli)
        assert stopped.status_code == 200
        await sign_in(c.client)
        csrf = await page_csrf(c.client)
        await c.client.post(
            "/admin/services/action", data={"csrf": csrf, "action": "stop", "service": "smtp"}
        )
        by_cli = await c.client.get("/api/v1/events", params={"actor": "CLI:"}, headers=cli)
        assert {(e["object"], e["actor"]) for e in by_cli.json()} == {("service:imap", "cli:alice")}
        by_admin = await c.client.get("/api/v1/events", params={"actor": "admin:"}, headers=cli)
        assert {e["object"] for e in by_admin.json()} == {"service:smtp", "admin:root"}
