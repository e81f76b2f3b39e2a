"""The Certificates page over HTTP: installs served live, refusals that change nothing, audit,
expiry events and warnings."""

from __future__ import annotations

import contextlib
import ssl
from datetime import datetime, timedelta
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from roost.control.admin_warnings import Level
from roost.control.directory import Actor
from roost.net.certs import CertStore
from tests.admin_support import Console, console, page_csrf, sign_in

NAMES = ("mail.example.org", "example.org")
PAGE = "/admin/certificates"


def pems(leaf: trustme.LeafCert) -> tuple[str, str]:
    chain = "".join(p.bytes().decode() for p in leaf.cert_chain_pems)
    return chain, leaf.private_key_pem.bytes().decode()


def open_certs(tmp_path: Path) -> CertStore:
    return CertStore.open(tmp_path / "data" / "tls", ["mail1.test", "localhost"])


def served(context: ssl.SSLContext, ca: trustme.CA, server_name: str) -> str:
    """A handshake with SNI over memory BIOs, verified against *ca*: the leaf's fingerprint."""
    client = ssl.create_default_context()
    ca.configure_trust(client)
    s_in, s_out, c_in, c_out = (ssl.MemoryBIO() for _ in range(4))
    server = context.wrap_bio(s_in, s_out, server_side=True)
    peer = client.wrap_bio(c_in, c_out, server_hostname=server_name)
    for _ in range(10):
        for side in (peer, server):
            with contextlib.suppress(ssl.SSLWantReadError):
                side.do_handshake()
        s_in.write(c_out.read())
        c_in.write(s_out.read())
    der = peer.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).fingerprint(hashes.SHA256()).hex()


def host_row(html: str, host: str) -> str:
    start = html.index(f'<tr data-host="{host}"')
    return html[start : html.index("</tr>", start)]


async def upload(c: Console, chain: str, key: str, target: str = "example.org") -> object:
    csrf = await page_csrf(c.client, PAGE)
    return await c.client.post(
        PAGE + "/upload", data={"csrf": csrf, "target": target, "chain": chain, "key": key}
    )


async def events_of(c: Console, stem: str) -> list[tuple[str, str, str | None]]:
    found = await c.store.read(c.store.events.list, limit=50, object_prefix=f"certificate:{stem}")
    return [(e.action, e.actor, e.reason) for e in found]


async def test_an_upload_is_served_at_once_and_audited(tmp_path: Path) -> None:
    ca = trustme.CA()
    certs = open_certs(tmp_path)
    context = certs.server_context()  # handed out before, as the services hold theirs
    async with console(tmp_path, certs=certs) as c:
        await c.directory.add_domain(Actor("test"), "example.org")
        await sign_in(c.client)
        before = await c.client.get(PAGE)
        assert before.status_code == 200
        assert 'data-host="mail.example.org"' in before.text
        # The self-signed certificate does not cover the domain's names.
        assert "clients will refuse it" in host_row(before.text, "mail.example.org")
        assert "self-signed" in before.text
        leaf = ca.create_child_ca().issue_cert(*NAMES)
        response = await upload(c, *pems(leaf))
        assert response.status_code == 200, response.text  # type: ignore[attr-defined]
        text = response.text  # type: ignore[attr-defined]
        assert "Installed example.org.pem for mail.example.org, example.org" in text
        pem = tmp_path / "data" / "tls" / "example.org.pem"
        assert pem.stat().st_mode & 0o777 == 0o600
        installed = certs.select("mail.example.org")
        assert installed.cert_path == pem and installed.chain_length == 2
        for name in NAMES:
            assert served(context, ca, name) == installed.fingerprint_sha256
        # The node's own name still gets the self-signed default.
        assert certs.select("mail1.test").self_signed
        page = await c.client.get(PAGE)
        for name in NAMES:
            assert '<td data-label="Covers it" data-field="covered">yes' in host_row(
                page.text, name
            )
        [(action, actor, reason)] = await events_of(c, "example.org")
        assert (action, actor) == ("install", "admin:root")
        assert reason and "mail.example.org" in reason
        # A new upload replaces it; a removal takes it away. Both are audited.
        again = ca.issue_cert(*NAMES)
        assert (await upload(c, *pems(again))).status_code == 200  # type: ignore[attr-defined]
        assert served(context, ca, "example.org") != installed.fingerprint_sha256
        csrf = await page_csrf(c.client, PAGE)
        removed = await c.client.post(PAGE + "/remove", data={"csrf": csrf, "stem": "example.org"})
        assert removed.status_code == 200 and "Removed example.org" in removed.text
        assert not pem.exists()
        assert certs.select("example.org").self_signed
        actions = [a for a, _, _ in await events_of(c, "example.org")]
        assert actions == ["remove", "install", "install"]


async def test_bad_uploads_change_nothing(tmp_path: Path) -> None:
    ca = trustme.CA()
    certs = open_certs(tmp_path)
    folder = tmp_path / "data" / "tls"
    async with console(tmp_path, certs=certs) as c:
        await c.directory.add_domain(Actor("test"), "example.org")
        await sign_in(c.client)
        files = sorted(p.name for p in folder.iterdir())
        good_chain, good_key = pems(ca.issue_cert(*NAMES))
        _, other_key = pems(ca.issue_cert(*NAMES))
        expired = ca.issue_cert(*NAMES, not_after=datetime(2025, 12, 1))  # the clock: 2026-01-01
        cases = [
            (good_chain, other_key, "does not match the certificate"),
            (
                "-----BEGIN CERTIFICATE-----\nbroken!\n-----END CERTIFICATE-----\n",
                good_key,
                "malformed PEM",
            ),
            ("", good_key, "a private key but no certificate"),
            (*pems(expired), "expired on 2025-12-01"),
            (*pems(ca.issue_cert("mail.example.org")), "does not cover example.org"),
        ]
        for chain, key, words in cases:
            response = await upload(c, chain, key)
            assert response.status_code == 400, words  # type: ignore[attr-defined]
            assert words in response.text  # type: ignore[attr-defined]
            assert 'id="cert-message"' in response.text  # type: ignore[attr-defined]
        unknown = await upload(c, good_chain, good_key, target="other.example")
        assert unknown.status_code == 404 and "no domain other.example" in unknown.text  # type: ignore[attr-defined]
        # Without its CSRF token: refused before anything is read.
        csrf_less = await c.client.post(
            PAGE + "/upload", data={"target": "example.org", "chain": good_chain, "key": good_key}
        )
        assert csrf_less.status_code == 403 and "CSRF token" in csrf_less.text
        assert sorted(p.name for p in folder.iterdir()) == files
        assert certs.generation == 0
        refusals = await events_of(c, "example.org")
        assert len(refusals) == len(cases)
        assert {a for a, _, _ in refusals} == {"upload-refused"}


async def test_the_node_certificate_becomes_the_default(tmp_path: Path) -> None:
    ca = trustme.CA()
    certs = open_certs(tmp_path)
    context = certs.server_context()
    async with console(tmp_path, certs=certs, tls={"host_names": ["mail1.test"]}) as c:
        await sign_in(c.client)
        assert (
            "does not cover mail1.test"
            in (await upload(c, *pems(ca.issue_cert("other.test")), target="node")).text
        )  # type: ignore[attr-defined]
        leaf = ca.issue_cert("mail1.test")
        assert (await upload(c, *pems(leaf), target="node")).status_code == 200  # type: ignore[attr-defined]
        assert certs.default.stem == "node"
        assert served(context, ca, "mail1.test") == certs.default.fingerprint_sha256
        page = await c.client.get(PAGE)
        assert 'id="default-cert">node<' in page.text


async def test_expiry_events_once_per_window_and_warnings(tmp_path: Path) -> None:
    ca = trustme.CA()
    certs = open_certs(tmp_path)
    async with console(tmp_path, certs=certs) as c:
        await c.directory.add_domain(Actor("test"), "example.org")
        await sign_in(c.client)
        now = c.clock.now().replace(tzinfo=None)
        leaf = ca.issue_cert(*NAMES, not_after=now + timedelta(days=40))
        assert (await upload(c, *pems(leaf))).status_code == 200  # type: ignore[attr-defined]
        watcher = c.certificates
        assert watcher is not None
        assert await watcher.check_expiry() == 0
        assert await watcher.warnings() == []
        c.clock.advance(timedelta(days=15).total_seconds())
        assert await watcher.check_expiry() == 1
        assert await watcher.check_expiry() == 0  # once per window
        [warning] = await watcher.warnings()
        assert warning.level is Level.WARNING and "expires in 25 days" in warning.text
        await sign_in(c.client)  # the session ended meanwhile
        dashboard = await c.client.get("/admin")
        assert "expires in 25 days" in dashboard.text  # the dashboard shows it too
        c.clock.advance(timedelta(days=20).total_seconds())
        assert await watcher.check_expiry() == 1
        [warning] = await watcher.warnings()
        assert warning.level is Level.CRITICAL
        c.clock.advance(timedelta(days=6).total_seconds())
        assert await watcher.check_expiry() == 1
        expiring = [
            (e.action, e.new_state, e.actor)
            for e in await c.store.read(
                c.store.events.list, limit=10, object_prefix="certificate:example.org"
            )
            if e.action != "install"
        ]
        assert expiring == [
            ("expired", "expired", "supervisor"),
            ("expiring", "critical", "supervisor"),
            ("expiring", "warning", "supervisor"),
        ]
        await sign_in(c.client)  # the session ended meanwhile
        page = await c.client.get(PAGE)
        assert 'class="cert-expired"' in host_row(page.text, "example.org")
