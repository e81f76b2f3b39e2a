"""Signing in to POP: AUTH PLAIN and SCRAM-SHA-256 (RFC 5034), the plaintext
policy (RFC 2595 §2.4), throttling through the directory (RFC 3206 codes) and
LOGIN-DELAY (RFC 2449 §6.5)."""

from __future__ import annotations

import asyncio
import base64
import poplib
from pathlib import Path

import pytest
import trustme
from scramp import ScramClient

from roost.core.config import default_config
from tests.pop_support import (
    ALICE,
    ALICE_PASSWORD,
    TIMEOUT_S,
    deliver,
    pop_of,
    pop_port,
    pop_roost,
    sample_messages,
)
from tests.tls_support import client_context


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def b64(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.b64encode(raw).decode()


def scram_login(client: poplib.POP3, user: str, password: str) -> bytes:
    """AUTH SCRAM-SHA-256 with an initial response, by raw commands."""
    scram = ScramClient(["SCRAM-SHA-256"], user, password)
    challenge = client._shortcmd("AUTH SCRAM-SHA-256 " + b64(scram.get_client_first()))
    assert challenge.startswith(b"+ ")
    scram.set_server_first(base64.b64decode(challenge[2:]).decode())
    final = client._shortcmd(b64(scram.get_client_final()))
    assert final.startswith(b"+ ")
    scram.set_server_final(base64.b64decode(final[2:]).decode())
    return client._shortcmd("")  # POP3 carries no data with +OK: an empty response ends it


def refusal(call: object, *args: object) -> str:
    with pytest.raises(poplib.error_proto) as refused:
        call(*args)  # type: ignore[operator]
    return str(refused.value)


async def test_auth_plain_and_scram_over_implicit_tls(tmp_path: Path, ca: trustme.CA) -> None:
    async with pop_roost(tmp_path, ca) as roost:
        await deliver(roost, sample_messages()[:2])
        port = pop_port(roost, "pop3s")

        def sessions() -> None:
            context = client_context(ca)
            client = poplib.POP3_SSL("127.0.0.1", port, timeout=TIMEOUT_S, context=context)
            capabilities = client.capa()
            assert capabilities["SASL"] == ["SCRAM-SHA-256", "PLAIN"] and "USER" in capabilities
            assert "STLS" not in capabilities
            plain = b64(f"\0{ALICE}\0{ALICE_PASSWORD}")
            assert client._shortcmd("AUTH PLAIN " + plain).startswith(b"+OK Maildrop has 2")
            client.quit()

            client = poplib.POP3_SSL("127.0.0.1", port, timeout=TIMEOUT_S, context=context)
            assert scram_login(client, ALICE, ALICE_PASSWORD).startswith(b"+OK Maildrop has 2")
            assert client.stat()[0] == 2
            client.quit()

            client = poplib.POP3_SSL("127.0.0.1", port, timeout=TIMEOUT_S, context=context)
            assert "-ERR [AUTH]" in refusal(scram_login, client, ALICE, "wrong-password")
            assert "-ERR [AUTH]" in refusal(
                client._shortcmd, "AUTH PLAIN " + b64(f"\0{ALICE}\0wrong-password")
            )
            client.quit()

        await asyncio.to_thread(sessions)
        assert pop_of(roost).counters["auth_failures"] == 2


async def test_passwords_need_tls_where_loopback_is_not_trusted(
    tmp_path: Path, ca: trustme.CA
) -> None:
    """The production policy: USER/PASS and PLAIN only after STLS."""
    async with pop_roost(tmp_path, ca, auth={"plaintext_on_loopback": False}) as roost:
        await deliver(roost, sample_messages()[:1])
        port = pop_port(roost)

        def session() -> None:
            client = poplib.POP3("127.0.0.1", port, timeout=TIMEOUT_S)
            capabilities = client.capa()
            assert "USER" not in capabilities and "STLS" in capabilities
            assert capabilities["SASL"] == ["SCRAM-SHA-256"]  # no password travels
            assert "-ERR [AUTH] Plaintext" in refusal(client.user, ALICE)
            assert "-ERR [AUTH]" in refusal(
                client._shortcmd, "AUTH PLAIN " + b64(f"\0{ALICE}\0{ALICE_PASSWORD}")
            )
            client.stls(context=client_context(ca))
            assert "USER" in client.capa()
            client.user(ALICE)
            assert client.pass_(ALICE_PASSWORD).startswith(b"+OK")
            client.quit()

            # SCRAM never shows the password: it is offered without TLS.
            client = poplib.POP3("127.0.0.1", port, timeout=TIMEOUT_S)
            assert scram_login(client, ALICE, ALICE_PASSWORD).startswith(b"+OK")
            client.quit()

        await asyncio.to_thread(session)


def test_profiles_give_the_pop_listeners_and_policy() -> None:
    development = default_config("development")
    assert development.pop.listen == ("127.0.0.1:1110",)
    assert development.pop.tls_listen == ("127.0.0.1:1995",)
    assert development.auth.plaintext_on_loopback
    production = default_config("production")
    assert production.pop.listen == ("0.0.0.0:110",)
    assert production.pop.tls_listen == ("0.0.0.0:995",)
    assert not production.auth.plaintext_on_loopback
    assert production.pop.idle_timeout_s >= 600  # RFC 1939 §3


async def test_throttling_answers_auth_then_sys_temp(tmp_path: Path, ca: trustme.CA) -> None:
    throttle = {
        "free_failures": 1,
        "delay_initial_s": 0.01,
        "delay_max_s": 0.02,
        "lockout_failures": 3,
    }
    async with pop_roost(tmp_path, ca, auth=throttle) as roost:
        port = pop_port(roost)

        def session() -> None:
            client = poplib.POP3("127.0.0.1", port, timeout=TIMEOUT_S)
            for _ in range(3):
                client.user(ALICE)
                assert "-ERR [AUTH]" in refusal(client.pass_, "wrong-password")
            # Locked out: even the right password gets a temporary failure.
            client.user(ALICE)
            assert "-ERR [SYS/TEMP]" in refusal(client.pass_, ALICE_PASSWORD)
            assert "-ERR [SYS/TEMP]" in refusal(scram_login, client, ALICE, ALICE_PASSWORD)
            client.quit()

        await asyncio.to_thread(session)
        counters = pop_of(roost).counters
        assert counters["auth_failures"] == 3 and counters["auth_throttled"] == 2


async def test_login_delay_is_announced_and_enforced(tmp_path: Path, ca: trustme.CA) -> None:
    async with pop_roost(tmp_path, ca, pop={"login_delay_s": 3600}) as roost:
        port = pop_port(roost)

        def sessions() -> str:
            client = poplib.POP3("127.0.0.1", port, timeout=TIMEOUT_S)
            assert client.capa()["LOGIN-DELAY"] == ["3600"]
            client.user(ALICE)
            client.pass_(ALICE_PASSWORD)
            client.quit()
            client = poplib.POP3("127.0.0.1", port, timeout=TIMEOUT_S)
            client.user(ALICE)
            text = refusal(client.pass_, ALICE_PASSWORD)
            client.quit()
            return text

        assert "-ERR [LOGIN-DELAY]" in await asyncio.to_thread(sessions)
