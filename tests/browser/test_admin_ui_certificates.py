"""Manage → Certificates in chromium: an upload served by IMAP's next TLS connection, by SNI;
refusals (a key of another certificate, malformed PEM, a key alone, an expired certificate,
a form without its CSRF token) that say why and change nothing."""

from __future__ import annotations

import asyncio
import ssl
from datetime import datetime
from typing import Any

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from roost.control.directory import Actor
from roost.services.imap.service import ImapService
from tests.browser_support import Harness, expect

NAMES = ("mail.example.org", "example.org")


def imaps_port(roost: Harness) -> int:
    [imap] = [s for s in roost.roost.services if isinstance(s, ImapService)]
    return int(imap.addresses["imap-imaps"][0].rsplit(":", 1)[1])


async def imap_certificate(port: int, ca: trustme.CA, server_name: str) -> tuple[str, bytes]:
    """A new TLS connection with SNI, verified against *ca*: the leaf's fingerprint, greeting."""
    context = ssl.create_default_context()
    ca.configure_trust(context)
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port, ssl=context, server_hostname=server_name), 10
    )
    try:
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        greeting = await asyncio.wait_for(reader.readline(), 10)
    finally:
        writer.close()
        await writer.wait_closed()
    return x509.load_der_x509_certificate(der).fingerprint(hashes.SHA256()).hex(), greeting


def chain_of(leaf: trustme.LeafCert) -> str:
    return "".join(p.bytes().decode() for p in leaf.cert_chain_pems)


def key_of(leaf: trustme.LeafCert) -> str:
    return leaf.private_key_pem.bytes().decode()


def fingerprint(leaf: trustme.LeafCert) -> str:
    cert = x509.load_pem_x509_certificate(leaf.cert_chain_pems[0].bytes())
    return cert.fingerprint(hashes.SHA256()).hex()


async def install(page: Any, chain: str, key: str) -> None:
    await page.select_option("#cert-target", "example.org")
    await page.fill("#cert-chain", chain)
    await page.fill("#cert-key", key)
    await page.get_by_role("button", name="Check and install").click()


async def test_an_upload_is_served_by_imap_and_bad_ones_are_refused(
    admin_page: Any, roost: Harness
) -> None:
    page = admin_page
    ca = trustme.CA()
    await roost.roost.directory.add_domain(Actor("test"), "example.org")
    port = imaps_port(roost)
    await page.get_by_role("link", name="Certificates").click()
    await expect(page.locator("h1")).to_have_text("Certificates")
    covered = page.locator('tr[data-host="mail.example.org"] [data-field="covered"]')
    await expect(covered).to_contain_text("clients will refuse it")
    leaf = ca.create_child_ca().issue_cert(*NAMES)
    # The chain through the file picker (read into the box by our script), the key pasted.
    await page.set_input_files(
        "#cert-chain-file",
        files=[{"name": "chain.pem", "mimeType": "text/plain", "buffer": chain_of(leaf).encode()}],
    )
    await expect(page.locator("#cert-chain")).to_have_value(chain_of(leaf))
    await page.select_option("#cert-target", "example.org")
    await page.fill("#cert-key", key_of(leaf))
    await page.get_by_role("button", name="Check and install").click()
    await expect(page.locator("#cert-notice")).to_contain_text(
        "Installed example.org.pem for mail.example.org, example.org"
    )
    await expect(covered).to_have_text("yes")
    for name in NAMES:
        served, greeting = await imap_certificate(port, ca, name)
        assert served == fingerprint(leaf)
        assert greeting.startswith(b"* OK")

    other = ca.issue_cert(*NAMES)
    expired = ca.issue_cert(*NAMES, not_after=datetime(2020, 1, 1))
    broken = "-----BEGIN CERTIFICATE-----\nMIIB!!not-base64\n-----END CERTIFICATE-----\n"
    refusals = [
        (chain_of(other), key_of(leaf), "does not match the certificate"),
        (broken, key_of(other), "malformed PEM"),
        ("", key_of(other), "a private key but no certificate"),
        (chain_of(expired), key_of(expired), "expired on 2020-01-01"),
    ]
    for chain, key, words in refusals:
        await install(page, chain, key)
        await expect(page.locator("#cert-message")).to_contain_text(words)
        await expect(page.locator("#cert-notice")).to_have_count(0)
        served, _ = await imap_certificate(port, ca, "mail.example.org")
        assert served == fingerprint(leaf), words

    # A POST without the form's CSRF token, from the signed-in browser.
    response = await page.request.post(
        roost.base + "/admin/certificates/upload",
        form={"target": "example.org", "chain": chain_of(other), "key": key_of(other)},
    )
    assert response.status == 403
    assert "CSRF token does not match" in await response.text()
    served, _ = await imap_certificate(port, ca, "example.org")
    assert served == fingerprint(leaf)

    # Every action is in the audit log, with the admin's name.
    await page.goto(roost.base + "/admin/events?object=certificate%3A")
    # Newest first: the four refusals, then the install; the CSRF-less POST left none.
    actions = page.locator('tbody td[data-label="Action"]')
    await expect(actions).to_have_text(["upload-refused"] * len(refusals) + ["install"])
    await expect(page.locator("tbody .actor").first).to_have_text("admin:admin")
