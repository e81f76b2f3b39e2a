"""Manage → Domains, Users, Aliases over HTTP: changes with their audit events, bad input
that changes nothing, DKIM keys where the signer reads them, and the DNS record check."""

from __future__ import annotations

from pathlib import Path

from roost.control.directory import MIB, Actor
from roost.control.mailauth.keys import domain_folder, signing_keys
from tests.admin_support import Console, console, page_csrf, sign_in
from tests.dns_server import dns_server

DOMAIN = "example.test"
USER = f"ana@{DOMAIN}"


async def events(c: Console, prefix: str) -> list[tuple[str, str, str]]:
    found = await c.store.read(c.store.events.list, limit=50, object_prefix=prefix)
    return [(e.object, e.action, e.actor) for e in found]


async def signed_in(c: Console) -> str:
    await sign_in(c.client)
    return await page_csrf(c.client, "/admin/domains")


async def test_domain_user_alias_lifecycle_is_audited(tmp_path: Path) -> None:
    async with console(tmp_path) as c:
        csrf = await signed_in(c)
        added = await c.client.post("/admin/domains/add", data={"csrf": csrf, "name": DOMAIN})
        assert added.status_code == 303
        assert added.headers["location"] == f"/admin/domains/{DOMAIN}?done=added"
        listing = await c.client.get("/admin/domains?q=EXAMPLE")
        assert f'data-domain="{DOMAIN}"' in listing.text and "1 domain" in listing.text
        assert "No domain matches" in (await c.client.get("/admin/domains?q=nothing")).text

        user = await c.client.post(
            "/admin/users/add",
            data={"csrf": csrf, "address": USER, "display_name": "Ana", "quota_mb": "100"},
        )
        # No password typed: one is generated and shown once, on this page only.
        assert user.status_code == 200 and 'id="generated-password"' in user.text
        account = await c.directory.user(USER)
        assert account.quota_bytes == 100 * MIB and account.enabled
        assert f'data-user="{USER}"' in (await c.client.get("/admin/users?q=ana")).text

        for action, value in (("quota", {"quota_mb": "0"}), ("enabled", {"enabled": "no"})):
            done = await c.client.post(
                f"/admin/users/{action}", data={"csrf": csrf, "address": USER, **value}
            )
            assert done.status_code == 303, done.text
        account = await c.directory.user(USER)
        assert account.quota_bytes == 0 and not account.enabled
        shown = await c.client.get(f"/admin/users/edit?address={USER}")
        assert "Disabled" in shown.text and 'id="enable-user"' in shown.text
        changed = await c.client.post(
            "/admin/users/password",
            data={"csrf": csrf, "address": USER, "password": "new-pass-123", "repeat": "x"},
        )
        assert changed.status_code == 400 and "The two passwords differ" in changed.text

        alias = await c.client.post(
            "/admin/aliases/add",
            data={
                "csrf": csrf,
                "address": f"sales@{DOMAIN}",
                "targets": f"{USER}, a@elsewhere.test",
            },
        )
        assert alias.status_code == 303
        assert (await c.directory.alias(f"sales@{DOMAIN}")).targets == (
            "a@elsewhere.test",
            USER,
        )
        confirm = await c.client.get(f"/admin/aliases/remove?address=sales@{DOMAIN}")
        assert "Remove the alias sales@example.test?" in confirm.text
        removed = await c.client.post(
            "/admin/aliases/remove", data={"csrf": csrf, "address": f"sales@{DOMAIN}"}
        )
        assert removed.status_code == 303

        refused = await c.client.post(f"/admin/domains/{DOMAIN}/remove", data={"csrf": csrf})
        assert refused.status_code == 409 and "remove them first" in refused.text
        gone = await c.client.post("/admin/users/remove", data={"csrf": csrf, "address": USER})
        assert gone.status_code == 303
        assert (
            await c.client.post(f"/admin/domains/{DOMAIN}/remove", data={"csrf": csrf})
        ).status_code == 303

        actor = "admin:root"
        assert (f"domain:{DOMAIN}", "add", actor) in await events(c, "domain:")
        assert (f"domain:{DOMAIN}", "remove", actor) in await events(c, "domain:")
        audited = {a for _, a, who in await events(c, f"user:{USER}") if who == actor}
        assert audited >= {"add", "quota", "disable", "remove"}
        assert {a for _, a, _ in await events(c, f"alias:sales@{DOMAIN}")} == {"add", "remove"}


async def test_bad_input_gets_a_message_and_changes_nothing(tmp_path: Path) -> None:
    async with console(tmp_path) as c:
        await c.directory.add_domain(Actor("test"), DOMAIN)
        await c.directory.add_user(Actor("test"), USER, "password-123", quota_mb=5)
        csrf = await signed_in(c)
        before = await events(c, "")

        spaces = await c.client.post(
            "/admin/domains/add", data={"csrf": csrf, "name": "my domain.test"}
        )
        assert spaces.status_code == 400
        assert "is not a valid domain name. Nothing was changed." in spaces.text

        for quota in ("-1", "lots", "99999999999"):
            bad = await c.client.post(
                "/admin/users/quota", data={"csrf": csrf, "address": USER, "quota_mb": quota}
            )
            assert bad.status_code == 400, quota
            assert "The quota must be a whole number of MiB" in bad.text
            assert "Nothing was changed." in bad.text
        assert (await c.directory.user(USER)).quota_bytes == 5 * MIB

        no_csrf = await c.client.post("/admin/domains/add", data={"name": "other.test"})
        assert no_csrf.status_code == 403 and "Nothing was changed" in no_csrf.text
        no_csrf = await c.client.post(
            "/admin/users/enabled", data={"address": USER, "enabled": "no"}
        )
        assert no_csrf.status_code == 403
        assert (await c.directory.user(USER)).enabled

        unknown = await c.client.get("/admin/users/edit?address=nobody@example.test")
        assert unknown.status_code == 404 and "no account nobody@example.test" in unknown.text
        assert (await c.client.get("/admin/domains?page=0")).status_code == 400
        assert (await c.client.get("/admin/users?domain=bad domain")).status_code == 400
        changes = ("domain:", "user:", "alias:")
        after = await events(c, "")
        assert [e for e in after if e[0].startswith(changes)] == [
            e for e in before if e[0].startswith(changes)
        ]
        assert (await c.directory.find_domains("", limit=10, offset=0))[1] == 1


async def test_dkim_key_and_dns_records_check(tmp_path: Path) -> None:
    zone: dict[tuple[str, str], list[str] | str] = {}
    async with (
        dns_server(zone) as address,
        console(tmp_path, dns={"nameservers": [address], "mail_host": "mx.example.test"}) as c,
    ):
        await c.directory.add_domain(Actor("test"), DOMAIN)
        csrf = await signed_in(c)
        page = await c.client.get(f"/admin/domains/{DOMAIN}")
        assert "This domain has no DKIM key" in page.text
        made = await c.client.post(f"/admin/domains/{DOMAIN}/dkim", data={"csrf": csrf})
        assert made.status_code == 303
        # The key is where the signer reads it, and active at once.
        keys = signing_keys(domain_folder(tmp_path / "data", DOMAIN))
        assert {k.algorithm for k in keys} == {"rsa", "ed25519"}
        assert (f"domain:{DOMAIN}", "dkim-generate", "admin:root") in await events(c, "domain:")

        page = await c.client.get(f"/admin/domains/{DOMAIN}")
        rsa_name = f"{keys[0].selector}._domainkey.{DOMAIN}"
        assert rsa_name in page.text and "In the DNS" not in page.text
        # Publish some records right, one wrong, leave the rest out.
        zone[(DOMAIN, "MX")] = ["10 mx.example.test."]
        zone[(DOMAIN, "TXT")] = ['"v=spf1 a -all"', '"google-site-verification=x"']
        zone[(f"_dmarc.{DOMAIN}", "TXT")] = ['"v=DMARC1; p=none"']
        zone[(f"_imaps._tcp.{DOMAIN}", "SRV")] = ["0 1 993 mx.example.test."]
        zone[(f"_submission._tcp.{DOMAIN}", "SRV")] = ["0 1 587 elsewhere.test."]
        zone[(f"autoconfig.{DOMAIN}", "CNAME")] = ["mx.example.test."]
        checked = await c.client.get(f"/admin/domains/{DOMAIN}/check")
        assert checked.status_code == 200
        text = checked.text

        def state(name: str, rtype: str) -> str:
            row = text.split(f'data-record="{name} {rtype}"', 1)[1].split("</tr>", 1)[0]
            return row.split('data-field="state">', 1)[1].split("<", 1)[0]

        assert state(DOMAIN, "MX") == "found"
        assert state(f"_dmarc.{DOMAIN}", "TXT") == "found"
        assert state(f"_imaps._tcp.{DOMAIN}", "SRV") == "found"
        assert state(f"autoconfig.{DOMAIN}", "CNAME") == "found"
        assert state(DOMAIN, "TXT") == "different"
        assert "v=spf1 a -all" in text
        assert state(f"_submission._tcp.{DOMAIN}", "SRV") == "different"
        assert state(rsa_name, "TXT") == "missing"
        assert state(f"autodiscover.{DOMAIN}", "CNAME") == "missing"
        summary = text.split('id="check-summary">', 1)[1].split("<", 1)[0]
        assert summary == "4 found, 9 missing, 2 different."
