"""The webmail's settings pages in-process: profile, vacation, set-up help and
external accounts, with the bad input the issue names refused in words."""

from __future__ import annotations

from pathlib import Path

from roost.control.directory import Actor
from roost.control.retrieval import PasswordCipher, RetrievalAdmin
from roost.control.user_settings import UserSettings
from roost.core.config import RetrievalSettings, VacationSettings
from roost.store.retrieval import NewRetrieval, RetrievalProtocol, TlsMode
from tests.webmail_support import USER, page_csrf, sign_in, webmail

OTHER = "zoe@example.test"


async def test_profile_is_saved_and_bad_input_is_refused_in_words(tmp_path: Path) -> None:
    async with webmail(tmp_path) as mail:
        await sign_in(mail.client)
        csrf = await page_csrf(mail.client, "/mail/settings")
        good = {
            "csrf": csrf,
            "display_name": "Ann Example",
            "signature": "-- \nAnn, <ann@example.test>",
            "reply_to": "ann.replies@example.net",
            "time_zone": "Europe/Paris",
        }
        saved = await mail.client.post("/mail/settings", data=good)
        assert saved.status_code == 303 and saved.headers["location"] == "/mail/settings?done=saved"
        page = await mail.client.get("/mail/settings?done=saved")
        assert 'value="Ann Example"' in page.text and "Saved." in page.text
        settings = await UserSettings(mail.store, VacationSettings()).get(USER)
        assert (settings.display_name, settings.reply_to, settings.time_zone) == (
            "Ann Example",
            "ann.replies@example.net",
            "Europe/Paris",
        )
        assert settings.signature == "-- \nAnn, <ann@example.test>"
        bad = [
            ({"time_zone": "Mars/Olympus_Mons"}, "is not a time zone name"),
            ({"reply_to": "not an address"}, "is not one e-mail address"),
            ({"signature": "<p>Ann</p>"}, "plain text: it may not contain HTML"),
            ({"display_name": "Ann\r\nBcc: x@example.net"}, "one line of text"),
        ]
        for change, words in bad:
            answer = await mail.client.post("/mail/settings", data={**good, **change})
            assert answer.status_code == 400, change
            assert words in answer.text
            # The user's input comes back to be corrected.
            assert 'value="Ann Example"' in answer.text or "display_name" in change
        again = await UserSettings(mail.store, VacationSettings()).get(USER)
        assert again == settings
        forged = await mail.client.post("/mail/settings", data={**good, "csrf": "wrong"})
        assert forged.status_code == 403


async def test_vacation_is_saved_and_html_or_reversed_dates_refused(tmp_path: Path) -> None:
    async with webmail(tmp_path) as mail:
        await sign_in(mail.client)
        csrf = await page_csrf(mail.client, "/mail/settings/vacation")
        form = {
            "csrf": csrf,
            "enabled": "yes",
            "start": "2026-07-01",
            "end": "2026-07-14",
            "subject": "Away",
            "text": "Back on the 15th.",
            "period_days": "",
        }
        cases = [
            ({"text": "<b>Back</b> on the 15th."}, 400, "plain text: it may not contain HTML"),
            ({"end": "2026-06-30"}, 400, "is before the first day"),
            ({"start": "1 July"}, 400, "is not a date"),
            ({"period_days": "0"}, 400, "from 1 to 365"),
            ({"period_days": "two"}, 400, "whole number of days"),
            ({"text": "  "}, 400, "Write the text"),
        ]
        for change, status, words in cases:
            answer = await mail.client.post("/mail/settings/vacation", data={**form, **change})
            assert answer.status_code == status, (change, answer.text)
            assert words in answer.text
        settings = await UserSettings(mail.store, VacationSettings()).get(USER)
        assert not settings.vacation.enabled
        saved = await mail.client.post("/mail/settings/vacation", data=form)
        assert saved.status_code == 303
        settings = await UserSettings(mail.store, VacationSettings()).get(USER)
        vacation = settings.vacation
        assert vacation.enabled and vacation.subject == "Away"
        assert (vacation.start.isoformat(), vacation.end.isoformat()) == (  # type: ignore[union-attr]
            "2026-07-01",
            "2026-07-14",
        )
        assert vacation.period_days == VacationSettings().default_period_days
        page = await mail.client.get("/mail/settings/vacation")
        assert 'value="2026-07-14"' in page.text and "Back on the 15th." in page.text


async def test_setup_help_names_the_servers(tmp_path: Path) -> None:
    sections: dict[str, dict[str, object]] = {
        "imap": {"listen": ["0.0.0.0:143"], "tls_listen": ["0.0.0.0:993"]},
        "xmpp": {"listen": ["0.0.0.0:5222"], "tls_listen": []},
        "tls": {"host_names": ["mail.example.test"]},
    }
    async with webmail(tmp_path, **sections) as mail:
        await sign_in(mail.client)
        page = await mail.client.get("/mail/settings/setup")
        assert page.status_code == 200
        assert "<td>mail.example.test</td><td>993</td><td>SSL/TLS" in page.text
        assert "<td>mail.example.test</td><td>143</td><td>STARTTLS" in page.text
        assert "XMPP (chat)" in page.text and "SMTP submission" in page.text
        assert "<td>5222</td><td>STARTTLS" in page.text
        assert "emailaddress=ann%40example.test" in page.text


async def test_accounts_are_the_users_own(tmp_path: Path) -> None:
    async with webmail(tmp_path) as mail:
        await mail.directory.add_user(Actor("test"), OTHER, "zoe-password-1")
        admin = RetrievalAdmin(mail.store, RetrievalSettings(), PasswordCipher(tmp_path / "data"))
        theirs = await admin.add(
            Actor("test"),
            OTHER,
            NewRetrieval(RetrievalProtocol.POP3, "127.0.0.1", 110, TlsMode.NONE, "zoe", ""),
            "secret",
        )
        await sign_in(mail.client)
        csrf = await page_csrf(mail.client, "/mail/settings/accounts")
        form = {
            "csrf": csrf,
            "protocol": "imap",
            "host": "127.0.0.1",
            "port": "",
            "tls": "none",
            "username": "ann-remote",
            "password": "remote-secret",
            "remote_folders": "INBOX, Archive",
            "folder": "INBOX",
            "enabled": "yes",
            "manual": "yes",
            # Whatever the form says, the account is the signed-in user's.
            "user": OTHER,
        }
        added = await mail.client.post("/mail/settings/accounts/add", data=form)
        assert added.status_code == 303, added.text
        (mine,) = await admin.list(USER)
        assert mine.spec.remote_folders == ("INBOX", "Archive") and mine.spec.port == 143
        assert mine.spec.manual and not mine.spec.leave_on_server
        assert len(await admin.list(OTHER)) == 1
        page = await mail.client.get("/mail/settings/accounts")
        assert "ann-remote" in page.text and "not fetched yet" in page.text
        assert "zoe" not in page.text
        # Another user's account: refused in words, for every action.
        for path in (
            f"/mail/settings/accounts/{theirs.id}/run",
            f"/mail/settings/accounts/{theirs.id}/remove",
            f"/mail/settings/accounts/{theirs.id}",
        ):
            answer = await mail.client.post(path, data=form)
            assert answer.status_code == 400, path
            assert f"{USER} has no external account {theirs.id}" in answer.text
        shown = await mail.client.get(f"/mail/settings/accounts/{theirs.id}")
        assert shown.status_code == 400 and "has no external account" in shown.text
        assert (await admin.show(OTHER, theirs.id)).status.run_requested_at is None
        # Bad input on the form comes back with the reason.
        refused = await mail.client.post(
            "/mail/settings/accounts/add", data={**form, "host": "mail.example.net"}
        )
        assert refused.status_code == 400 and "without TLS is allowed only to loopback" in (
            refused.text
        )
        no_password = await mail.client.post(
            "/mail/settings/accounts/add", data={**form, "password": ""}
        )
        assert no_password.status_code == 400 and "Give the password" in no_password.text
        # Run now, edit, remove: the user's own.
        run = await mail.client.post(f"/mail/settings/accounts/{mine.id}/run", data=form)
        assert run.status_code == 303
        assert "waiting to fetch" in (await mail.client.get("/mail/settings/accounts")).text
        edited = await mail.client.post(
            f"/mail/settings/accounts/{mine.id}",
            data={**form, "password": "", "folder": "Fetched", "protocol": "pop3"},
        )
        assert edited.status_code == 303, edited.text
        after = await admin.show(USER, mine.id)
        assert after.spec.folder == "Fetched"
        assert after.spec.protocol is RetrievalProtocol.IMAP  # not changed by a form field
        assert after.spec.password_encrypted == mine.spec.password_encrypted
        removed = await mail.client.post(f"/mail/settings/accounts/{mine.id}/remove", data=form)
        assert removed.status_code == 303
        assert await admin.list(USER) == []
