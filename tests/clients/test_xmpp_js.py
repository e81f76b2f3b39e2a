"""xmpp.js (`@xmpp/client` from the npm registry, run with Debian's node)
against the XMPP service, over WebSocket on the web listener and over TCP
with STARTTLS: it signs in (SCRAM-SHA-1, the best it speaks), sends a chat
message that a slixmpp client receives, and receives the answer.

`.ci/run` installs the package into tests/js/node_modules with `npm ci`."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
import trustme

from roost.app import Roost
from tests.conftest import IN_CI, require_tool
from tests.xmpp_support import (
    ALICE,
    ALICE_PASSWORD,
    BOB,
    BOB_PASSWORD,
    DOMAIN,
    TIMEOUT_S,
    signed_in,
    xmpp_port,
    xmpp_roost,
)

SCRIPT_FOLDER = Path(__file__).resolve().parents[1] / "js"
SCRIPT = SCRIPT_FOLDER / "xmpp_chat.mjs"
NODE_WAIT_S = TIMEOUT_S * 4
"""Within the script's own limit (TIMEOUT_MS, 120 s)."""


def _require_xmpp_js() -> str:
    node = require_tool("node", "nodejs")
    if not (SCRIPT_FOLDER / "node_modules" / "@xmpp" / "client").is_dir():
        message = "@xmpp/client is not installed (run: npm ci --prefix tests/js; .ci/run does)"
        if IN_CI:
            pytest.fail(message + "; under CI nothing may skip")
        pytest.skip(message)
    return node


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


async def _chat(roost: Roost, ca: trustme.CA, service: str, folder: Path) -> None:
    node = _require_xmpp_js()
    folder.mkdir(parents=True, exist_ok=True)
    bundle = folder / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    async with signed_in(roost, ca, BOB, BOB_PASSWORD) as bob:
        process = await asyncio.create_subprocess_exec(
            node,
            "--experimental-websocket",
            str(SCRIPT),
            service,
            DOMAIN,
            ALICE.partition("@")[0],
            ALICE_PASSWORD,
            BOB,
            "hello from xmpp.js <&>",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "NODE_EXTRA_CA_CERTS": str(bundle), "NODE_NO_WARNINGS": "1"},
        )
        finished = asyncio.ensure_future(process.communicate())
        # Node's start and xmpp.js's sign-in take their time on a loaded machine.
        arrived = asyncio.ensure_future(asyncio.wait_for(bob.messages.get(), NODE_WAIT_S))
        try:
            await asyncio.wait([finished, arrived], return_when=asyncio.FIRST_COMPLETED)
            if not arrived.done():
                # xmpp.js ended (or the wait ran out) without sending: show why.
                output, errors = await finished
                raise AssertionError((output + errors).decode(errors="replace"))
            message = arrived.result()
            assert message["body"] == "hello from xmpp.js <&>"
            assert str(message["from"]).startswith(f"{ALICE}/xmppjs")
            bob.send_message(mto=message["from"], mbody="hello back", mtype="chat")
            output, errors = await asyncio.wait_for(finished, NODE_WAIT_S)
        finally:
            arrived.cancel()
            if process.returncode is None:
                process.kill()
            await asyncio.gather(finished, return_exceptions=True)
    text = output.decode(errors="replace")
    assert process.returncode == 0, text + errors.decode(errors="replace")
    assert f"ONLINE {ALICE}/xmppjs" in text
    assert f"RECEIVED {BOB}/" in text and text.rstrip().endswith("hello back")


async def test_xmpp_js_over_websocket(tmp_path: Path, ca: trustme.CA) -> None:
    async with xmpp_roost(tmp_path, ca) as roost:
        service = f"ws://{roost.web.addresses[0]}/xmpp-websocket"
        await _chat(roost, ca, service, tmp_path / "node")


async def test_xmpp_js_over_tcp_with_starttls(tmp_path: Path, ca: trustme.CA) -> None:
    async with xmpp_roost(tmp_path, ca) as roost:
        service = f"xmpp://127.0.0.1:{xmpp_port(roost)}"
        await _chat(roost, ca, service, tmp_path / "node")
