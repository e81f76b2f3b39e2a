"""Debian's swaks against Roost: STARTTLS, AUTH, pipelining, implicit TLS, 8-bit data."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from roost.app import Roost, start
from roost.control.directory import Actor
from roost.services.smtp.service import SmtpService
from roost.services.spool.service import SpoolService
from tests.conftest import make_config, require_tool
from tests.helpers import until

ACTOR = Actor("test")


@pytest.fixture
async def roost(tmp_path: Path) -> AsyncIterator[Roost]:
    config = make_config(
        tmp_path,
        web={"listen": ["127.0.0.1:0"], "tls_listen": []},
        smtp={
            "mx_listen": ["127.0.0.1:0"],
            "submission_listen": ["127.0.0.1:0"],
            "submissions_listen": ["127.0.0.1:0"],
            "trusted_networks": [],
        },
        auth={"plaintext_on_loopback": False},
        dns={"nameservers": ["127.0.0.1:9"], "timeout_s": 0.2},
        spool={"poll_interval_s": 0.05},
    )
    running = await start(config, announce=False)
    await running.directory.add_domain(ACTOR, "example.org")
    await running.directory.add_user(ACTOR, "alice@example.org", "alice-password")
    yield running
    await running.stop()


def port(roost: Roost, kind: str) -> str:
    smtp = next(s for s in roost.services if isinstance(s, SmtpService))
    return smtp.addresses[f"smtp-{kind}"][0].rpartition(":")[2]


async def swaks(*args: str) -> subprocess.CompletedProcess[str]:
    binary = require_tool("swaks", "swaks")
    return await asyncio.to_thread(
        subprocess.run,
        [binary, "--server", "127.0.0.1", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def delivered(roost: Roost, count: int) -> None:
    spool = next(s for s in roost.services if isinstance(s, SpoolService))
    await until(lambda: spool.counters["delivered"] >= count)


async def test_swaks_mx_with_pipelining_and_starttls(roost: Roost) -> None:
    result = await swaks(
        "--port",
        port(roost, "mx"),
        "--from",
        "ext@example.net",
        "--to",
        "alice@example.org",
        "--pipeline",
        "--tls",
        "--header",
        "Subject: swaks mx",
        "--body",
        "8-bit body: caf\u00e9\r\n",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "250 2.0.0 Ok: queued as" in result.stdout
    await delivered(roost, 1)


async def test_swaks_submission_auth_after_starttls(roost: Roost) -> None:
    plain = await swaks(
        "--port",
        port(roost, "submission"),
        "--from",
        "alice@example.org",
        "--to",
        "alice@example.org",
        "--auth",
        "PLAIN",
        "--auth-user",
        "alice@example.org",
        "--auth-password",
        "alice-password",
    )
    assert plain.returncode != 0  # no AUTH before TLS on submission
    assert "did not advertise authentication" in plain.stderr
    for mechanism in ("PLAIN", "LOGIN"):
        ok = await swaks(
            "--port",
            port(roost, "submission"),
            "--tls",
            "--from",
            "alice@example.org",
            "--to",
            "alice@example.org",
            "--auth",
            mechanism,
            "--auth-user",
            "alice@example.org",
            "--auth-password",
            "alice-password",
        )
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert "235 2.7.0" in ok.stdout
    bad = await swaks(
        "--port",
        port(roost, "submission"),
        "--tls",
        "--from",
        "alice@example.org",
        "--to",
        "alice@example.org",
        "--auth",
        "PLAIN",
        "--auth-user",
        "alice@example.org",
        "--auth-password",
        "wrong-password",
    )
    assert bad.returncode != 0 and "535 5.7.8" in bad.stdout
    await delivered(roost, 2)


async def test_swaks_implicit_tls(roost: Roost) -> None:
    result = await swaks(
        "--port",
        port(roost, "submissions"),
        "--tlsc",
        "--from",
        "alice@example.org",
        "--to",
        "alice@example.org",
        "--auth",
        "PLAIN",
        "--auth-user",
        "alice@example.org",
        "--auth-password",
        "alice-password",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    await delivered(roost, 1)
