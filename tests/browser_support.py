"""A running Roost and a real browser, for tests/browser.

Roost runs in the test's own event loop with its real services (SMTP, Spool,
POP, IMAP) on 127.0.0.1; SMTP's MX listener has a port of its own so that a
test can occupy it. Chromium is Debian's, driven by Playwright for Python
(never `playwright install`). Without either, the tests skip, except under
CI=true, where nothing may skip.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import re
import smtplib
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from roost.app import Roost
from roost.app import start as start_roost
from roost.core import config as config_mod
from tests.conftest import FAST_HASH, IN_CI

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
NEW_PASSWORD = "a-new-admin-password"
WAIT_MS = 15_000
"""The bound on each wait for the page; generous for a loaded CI machine."""
CLI_TIMEOUT_S = 60.0


def require_browser() -> None:
    """Skip (or fail under CI) when Playwright or Debian's chromium is missing."""
    problem = None
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        problem = "Playwright for Python is not installed (pip install -e '.[dev]')"
    if problem is None and not os.access(CHROMIUM, os.X_OK):
        problem = f"{CHROMIUM} is missing (Debian package chromium; .ci/run installs it)"
    if problem is not None:
        if IN_CI:
            pytest.fail(problem + "; under CI nothing may skip")
        pytest.skip(problem)


def expect(target: Any, **options: Any) -> Any:
    """Playwright's `expect`, imported when used: without Playwright the tests skip
    (in the `browser` fixture) instead of failing to import."""
    from playwright.async_api import expect as playwright_expect

    return playwright_expect(target, **options)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def toml_text(raw: dict[str, dict[str, Any]]) -> str:
    """The few TOML shapes a test config needs: tables of strings, numbers, lists."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, list | tuple):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return repr(v)

    lines = []
    for section, values in raw.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {value(v)}" for key, v in values.items()]
        lines.append("")
    return "\n".join(lines)


@dataclass
class Harness:
    roost: Roost
    base: str
    password: str
    """The admin's password now: the one-time one until a test changes it."""
    config_path: Path
    smtp_port: int

    async def cli(self, *args: str) -> tuple[int, str]:
        """Run the `roost` command line as an administrator would, against this Roost."""
        env = {**os.environ, "ROOST_CONFIG": str(self.config_path)}
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "roost",
            *args,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(process.communicate(), CLI_TIMEOUT_S)
        return int(process.returncode or 0), output.decode()


def browser_config(tmp_path: Path, smtp_port: int) -> dict[str, dict[str, Any]]:
    any_port = ["127.0.0.1:0"]
    return {
        "roost": {"data_dir": str(tmp_path / "data"), "node_name": "mail1"},
        "directory": dict(FAST_HASH),
        "web": {"listen": any_port, "tls_listen": []},
        "smtp": {
            "mx_listen": [f"127.0.0.1:{smtp_port}"],
            "submission_listen": any_port,
            "submissions_listen": any_port,
        },
        "pop": {"listen": any_port, "tls_listen": any_port},
        "imap": {"listen": any_port, "tls_listen": any_port},
        "xmpp": {"listen": any_port, "tls_listen": any_port},
        # Retries every 3 s: quick to come back, and a failed state stays on
        # the page for several of its updates.
        "supervisor": {
            "backoff_initial_s": 3.0,
            "backoff_max_s": 3.0,
            "stop_grace_s": 2.0,
            "probe_interval_s": 1.0,
        },
        "admin": {"refresh_s": 0.5, "stale_after_s": 2.0, "dashboard_refresh_s": 1.0},
        # No DNS from tests: SPF and the like fail at once instead of waiting.
        "dns": {"nameservers": ["127.0.0.1:9"], "timeout_s": 0.2},
        "log": {"level": "warning"},
    }


@contextlib.asynccontextmanager
async def running_roost(
    tmp_path: Path, extra: dict[str, dict[str, Any]] | None = None
) -> AsyncIterator[Harness]:
    """A running Roost; `extra` adds to or overrides sections of its config."""
    smtp_port = free_port()
    raw = browser_config(tmp_path, smtp_port)
    for section, values in (extra or {}).items():
        raw.setdefault(section, {}).update(values)
    config_path = tmp_path / "roost.toml"
    config_path.write_text(toml_text(raw))
    config = config_mod.load(config_path)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        roost = await start_roost(config)
    found = re.search(r"one-time password\n\n    (\S+)\n", printed.getvalue())
    assert found, "the first start prints the admin's one-time password"
    try:
        yield Harness(roost, f"http://{roost.web.addresses[0]}", found[1], config_path, smtp_port)
    finally:
        await roost.stop()


async def sign_in(page: Any, harness: Harness, *, name: str = "admin") -> None:
    """Sign in through the form; on the first sign-in, choose the new password too."""
    await page.goto(harness.base + "/admin/services")
    await page.fill("#name", name)
    await page.fill("#password", harness.password)
    await page.click("form button.primary")
    await page.wait_for_load_state()
    if "/admin/password" in page.url:
        await page.fill("#current", harness.password)
        await page.fill("#new", NEW_PASSWORD)
        await page.fill("#repeat", NEW_PASSWORD)
        await page.click("form button.primary")
        harness.password = NEW_PASSWORD
    await page.wait_for_url("**/admin/services**")


def row(page: Any, service: str) -> Any:
    return page.locator(f'tr[data-service="{service}"]')


async def send_messages(
    harness: Harness,
    count: int,
    *,
    sender: str = "sender@example.net",
    to: str = "alice@example.org",
    from_header: str = "Sender <sender@example.net>",
    subject: str = "hello",
) -> None:
    """Send `count` messages to Roost's MX listener over one SMTP session (smtplib,
    in a thread: Roost runs in this loop). The domain and user must exist."""

    def send() -> None:
        with smtplib.SMTP("127.0.0.1", harness.smtp_port, timeout=30) as client:
            for n in range(count):
                body = (
                    f"From: {from_header}\r\nTo: {to}\r\nSubject: {subject}\r\n"
                    f"Message-ID: <m{n}.{os.getpid()}@example.net>\r\n\r\nmessage {n}\r\n"
                )
                client.sendmail(sender, [to], body.encode())

    await asyncio.to_thread(send)
