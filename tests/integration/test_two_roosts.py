"""Remote delivery between two Roost instances on 127.0.0.1, DNS from a test server."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from pathlib import Path

from roost.app import Roost, start
from roost.control.directory import Actor
from roost.services.smtp.service import SmtpService
from roost.services.spool.service import SpoolService
from tests.conftest import make_config
from tests.dns_server import dns_server
from tests.helpers import until

ACTOR = Actor("test")


def listeners(**extra: object) -> dict[str, object]:
    return {
        "mx_listen": ["127.0.0.1:0"],
        "submission_listen": ["127.0.0.1:0"],
        "submissions_listen": ["127.0.0.1:0"],
        "trusted_networks": [],
        **extra,
    }


def service(roost: Roost, kind: type) -> object:
    return next(s for s in roost.services if isinstance(s, kind))


def mx_port(roost: Roost) -> int:
    smtp = service(roost, SmtpService)
    assert isinstance(smtp, SmtpService)
    return int(smtp.addresses["smtp-mx"][0].rpartition(":")[2])


async def inbox(roost: Roost, address: str) -> list[bytes]:
    store = roost.store
    account = await store.read(store.directory.account, address)
    box = await store.read(store.mail.mailbox, account.id, "INBOX")
    return [await store.message_bytes(m) for m in await store.read(store.mail.messages, box.id)]


async def test_dsn_parameters_travel_to_the_next_hop(tmp_path: Path) -> None:
    zone: dict[tuple[str, str], list[str] | str] = {
        ("b.test", "MX"): ["10 mx.b.test."],
        ("mx.b.test", "A"): ["127.0.0.1"],
    }
    async with dns_server(zone) as nameserver:
        b = await start(
            make_config(
                tmp_path / "b",
                web={"listen": ["127.0.0.1:0"], "tls_listen": []},
                smtp=listeners(hostname="mx.b.test"),
            ),
            announce=False,
        )
        await b.supervisor.stop("spool", "test")  # keep what arrives in B's queue
        await b.directory.add_domain(ACTOR, "b.test")
        await b.directory.add_user(ACTOR, "bob@b.test", "bob-password")
        try:
            a = await start(
                make_config(
                    tmp_path / "a",
                    web={"listen": ["127.0.0.1:0"], "tls_listen": []},
                    smtp=listeners(hostname="mx.a.test", trusted_networks=["127.0.0.0/8"]),
                    spool={"remote_port": mx_port(b), "poll_interval_s": 0.05},
                    dns={"nameservers": [nameserver], "timeout_s": 2},
                ),
                announce=False,
            )
            try:

                def send() -> None:
                    with smtplib.SMTP("127.0.0.1", mx_port(a), timeout=30) as client:
                        client.ehlo("relay-client")
                        client.sendmail(
                            "sender@a.test",
                            ["bob@b.test"],
                            b"Subject: dsn\r\n\r\nx\r\n",
                            mail_options=["ENVID=abc+2Bdef", "RET=HDRS"],
                            rcpt_options=["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;Bob+2Bx@b.test"],
                        )

                await asyncio.to_thread(send)
                store = b.store

                async def arrived() -> list[object]:
                    return list(await store.read(store.queue.entries))

                for _ in range(300):
                    if await arrived():
                        break
                    await asyncio.sleep(0.05)
                (entry,) = await store.read(store.queue.entries)
                assert entry.envid == "abc+def" and entry.ret == "HDRS"
                (recipient,) = entry.recipients
                assert recipient.notify == "FAILURE,SUCCESS"
                assert recipient.orcpt == "rfc822;Bob+2Bx@b.test"
            finally:
                await a.stop()
        finally:
            await b.stop()


async def test_submission_on_one_delivered_by_mx_to_the_other(tmp_path: Path) -> None:
    zone: dict[tuple[str, str], list[str] | str] = {
        ("b.test", "MX"): ["10 mx.b.test."],
        ("mx.b.test", "A"): ["127.0.0.1"],
    }
    async with dns_server(zone) as nameserver:
        b = await start(
            make_config(
                tmp_path / "b",
                web={"listen": ["127.0.0.1:0"], "tls_listen": []},
                smtp=listeners(hostname="mx.b.test"),
            ),
            announce=False,
        )
        try:
            a = await start(
                make_config(
                    tmp_path / "a",
                    web={"listen": ["127.0.0.1:0"], "tls_listen": []},
                    smtp=listeners(hostname="mx.a.test"),
                    spool={
                        "remote_port": mx_port(b),
                        "poll_interval_s": 0.05,
                        "helo_name": "mx.a.test",
                    },
                    dns={"nameservers": [nameserver], "timeout_s": 2},
                ),
                announce=False,
            )
            try:
                await a.directory.add_domain(ACTOR, "a.test")
                await a.directory.add_user(ACTOR, "alice@a.test", "alice-password")
                await b.directory.add_domain(ACTOR, "b.test")
                await b.directory.add_user(ACTOR, "bob@b.test", "bob-password")
                smtp_a = service(a, SmtpService)
                assert isinstance(smtp_a, SmtpService)
                port = int(smtp_a.addresses["smtp-submissions"][0].rpartition(":")[2])
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE

                def send() -> None:
                    with smtplib.SMTP_SSL("127.0.0.1", port, timeout=30, context=context) as client:
                        client.login("alice@a.test", "alice-password")
                        client.sendmail(
                            "alice@a.test",
                            ["bob@b.test"],
                            b"Subject: across\r\n\r\nFrom A to B, 8-bit: caf\xc3\xa9\r\n",
                            mail_options=["BODY=8BITMIME"],
                        )

                await asyncio.to_thread(send)
                spool_b = service(b, SpoolService)
                assert isinstance(spool_b, SpoolService)
                await until(lambda: spool_b.counters["delivered"] >= 1, timeout_s=30)
                (stored,) = await inbox(b, "bob@b.test")
                assert b"caf\xc3\xa9" in stored
                assert stored.count(b"Received: from ") == 2  # A's submission, then B's MX
                assert b"by mx.b.test (Roost) with ESMTPS" in stored  # A used STARTTLS to B
            finally:
                await a.stop()
        finally:
            await b.stop()


async def test_signed_on_the_way_out_checked_on_the_way_in(tmp_path: Path) -> None:
    """A signs with DKIM; B checks SPF, DKIM and DMARC and records the results;
    a stranger forging A's domain is refused by B (DMARC p=reject)."""
    from roost.control.mailauth import keys
    from tests.mailauth_support import key_zone, txt

    zone: dict[tuple[str, str], list[str] | str] = {
        ("b.test", "MX"): ["10 mx.b.test."],
        ("mx.b.test", "A"): ["127.0.0.1"],
        ("a.test", "TXT"): [txt("v=spf1 ip4:127.0.0.1 -all")],
        ("_dmarc.a.test", "TXT"): [txt("v=DMARC1; p=reject")],
        ("forged.test", "TXT"): [txt("v=spf1 -all")],
        ("_dmarc.forged.test", "TXT"): [txt("v=DMARC1; p=reject")],
    }
    async with dns_server(zone) as nameserver:
        dns = {"nameservers": [nameserver], "timeout_s": 2}
        web = {"listen": ["127.0.0.1:0"], "tls_listen": []}
        b = await start(
            make_config(tmp_path / "b", web=web, smtp=listeners(hostname="mx.b.test"), dns=dns),
            announce=False,
        )
        await b.directory.add_domain(ACTOR, "b.test")
        await b.directory.add_user(ACTOR, "bob@b.test", "bob-password")
        try:
            a_config = make_config(
                tmp_path / "a",
                web=web,
                smtp=listeners(hostname="mx.a.test", trusted_networks=["127.0.0.0/8"]),
                spool={"remote_port": mx_port(b), "poll_interval_s": 0.05},
                dns=dns,
            )
            zone.update(key_zone(keys.generate(a_config.data_dir, "a.test")))
            a = await start(a_config, announce=False)
            try:
                await a.directory.add_domain(ACTOR, "a.test")
                await a.directory.add_user(ACTOR, "alice@a.test", "alice-password")
                smtp_a = service(a, SmtpService)
                assert isinstance(smtp_a, SmtpService)
                port = int(smtp_a.addresses["smtp-submissions"][0].rpartition(":")[2])
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
                message = (
                    b"From: Alice <alice@a.test>\r\nTo: bob@b.test\r\nSubject: signed\r\n\r\nhi\r\n"
                )

                def send_signed() -> None:
                    with smtplib.SMTP_SSL("127.0.0.1", port, timeout=30, context=context) as c:
                        c.login("alice@a.test", "alice-password")
                        c.sendmail("alice@a.test", ["bob@b.test"], message)

                await asyncio.to_thread(send_signed)
                spool_b = service(b, SpoolService)
                assert isinstance(spool_b, SpoolService)
                await until(lambda: spool_b.counters["delivered"] >= 1, timeout_s=30)
                (stored,) = await inbox(b, "bob@b.test")
                head = stored.split(b"\r\n\r\n", 1)[0]
                assert b"DKIM-Signature: " in head
                results = head.split(b"Authentication-Results: ", 1)[1].split(b"\r\nReceived", 1)[0]
                assert b"mx.b.test" in results
                assert (
                    b"dkim=pass" in results and b"spf=pass" in results and b"dmarc=pass" in results
                )

                def send_forged() -> smtplib.SMTPDataError:
                    with smtplib.SMTP("127.0.0.1", mx_port(b), timeout=30) as c:
                        try:
                            c.sendmail(
                                "x@forged.test",
                                ["bob@b.test"],
                                b"From: boss@forged.test\r\nSubject: pay now\r\n\r\nx\r\n",
                            )
                        except smtplib.SMTPDataError as refused:
                            return refused
                    raise AssertionError("a forged message was accepted")

                refused = await asyncio.to_thread(send_forged)
                assert refused.smtp_code == 550 and b"5.7.26" in refused.smtp_error
            finally:
                await a.stop()
        finally:
            await b.stop()
