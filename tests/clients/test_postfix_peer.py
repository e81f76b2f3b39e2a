"""Remote delivery from Roost to Debian's Postfix on 127.0.0.1, routed by a test DNS server."""

from __future__ import annotations

import asyncio
import smtplib
from pathlib import Path

from roost.app import start
from roost.control.directory import Actor
from roost.services.smtp.service import SmtpService
from roost.services.spool.service import SpoolService
from tests.conftest import make_config
from tests.dns_server import dns_server
from tests.helpers import until
from tests.postfix_peer import postfix_peer

ACTOR = Actor("test")


async def test_roost_delivers_to_postfix(tmp_path: Path) -> None:
    zone: dict[tuple[str, str], list[str] | str] = {
        ("remote.test", "MX"): ["10 mx.remote.test."],
        ("mx.remote.test", "A"): ["127.0.0.1"],
    }
    with postfix_peer(tmp_path / "postfix", "remote.test", ["friend"]) as peer:
        async with dns_server(zone) as nameserver:
            roost = await start(
                make_config(
                    tmp_path / "roost",
                    web={"listen": ["127.0.0.1:0"], "tls_listen": []},
                    smtp={
                        "mx_listen": ["127.0.0.1:0"],
                        "submission_listen": [],
                        "submissions_listen": [],
                    },
                    spool={"remote_port": peer.port, "poll_interval_s": 0.05},
                    dns={"nameservers": [nameserver], "timeout_s": 2},
                ),
                announce=False,
            )
            try:
                smtp = next(s for s in roost.services if isinstance(s, SmtpService))
                port = int(smtp.addresses["smtp-mx"][0].rpartition(":")[2])

                def send() -> None:
                    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
                        # From loopback, a trusted network: Roost relays.
                        client.sendmail(
                            "someone@example.org",
                            ["friend@remote.test"],
                            b"Subject: to postfix\r\n\r\nHello Postfix.\r\n..dot\r\n",
                        )

                await asyncio.to_thread(send)
                spool = next(s for s in roost.services if isinstance(s, SpoolService))
                await until(lambda: spool.counters["delivered"] >= 1, timeout_s=60)
                await until(lambda: bool(peer.delivered("friend")), timeout_s=60)
                (stored,) = peer.delivered("friend")
                assert b"Hello Postfix.\n..dot\n" in stored or b"Hello Postfix.\r\n..dot" in stored
                assert b"by mx.remote.test (Postfix)" in stored
            finally:
                await roost.stop()
