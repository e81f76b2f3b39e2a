"""Certificates (`/admin/certificates`): what each listener and host name serves; uploads.

The page shows, for every host name this node answers for (its own and each
hosted domain's, `[tls] domain_host_names`), the certificate SNI selects and
whether that certificate names it; for every listener, the certificate served
to a client that sends no SNI (the default); and every certificate loaded,
with subject, names, issuer, expiry and whether it is self-signed.

An upload is two pasted PEM texts (a file picker fills them in, by script,
when the browser has one): the chain and the key, for the node or one
domain. `roost.control.certificates` checks and installs it; the next
connection of every listener gets it, with no restart. Forms stay
urlencoded (no multipart parser is installed), bounded by
`[admin] max_form_bytes`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from roost.control.certificates import (
    NODE,
    CertificateAdmin,
    CertificateRefused,
    expiry_level,
)
from roost.core.config import Config
from roost.core.errors import RoostError
from roost.net.certs import Certificate, match_host
from roost.web.admin.console import AdminRequest, Console
from roost.web.forms import PageError, status_of

STATE_WORDS = {
    "": "valid",
    "warning": "expires soon",
    "critical": "expires very soon",
    "expired": "expired",
}


@dataclass(frozen=True, slots=True)
class CertView:
    stem: str
    subject: str
    names: str
    issuer: str
    not_after: str
    not_after_iso: str
    days_left: int
    self_signed: bool
    level: str
    state: str
    path: str
    default: bool
    removable: bool
    fingerprint: str


@dataclass(frozen=True, slots=True)
class HostView:
    name: str
    purpose: str
    cert: CertView
    covered: bool


@dataclass(frozen=True, slots=True)
class ListenerView:
    service: str
    addresses: str
    state: str


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _view(admin: CertificateAdmin, cert: Certificate, now: datetime) -> CertView:
    certs = admin.certs
    level = expiry_level(cert, now, admin.settings)
    return CertView(
        stem=cert.stem,
        subject=cert.subject,
        names=", ".join(cert.names),
        issuer="(itself)" if cert.self_signed else cert.issuer,
        not_after=_when(cert.not_after),
        not_after_iso=cert.not_after.isoformat(timespec="seconds"),
        days_left=(cert.not_after - now).days,
        self_signed=cert.self_signed,
        level=level,
        state=STATE_WORDS[level],
        path=str(cert.cert_path),
        default=cert == certs.default,
        removable=cert.cert_path.parent == certs.folder
        and cert.cert_path not in certs.configured_paths
        and not (cert.stem == "selfsigned" and cert.self_signed),
        fingerprint=cert.fingerprint_sha256,
    )


def _web_listeners(config: Config) -> list[ListenerView]:
    if not config.web.tls_listen:
        return []
    return [ListenerView("Web (HTTPS)", ", ".join(config.web.tls_listen), "running")]


def certificates_routes(console: Console) -> list[BaseRoute]:
    web = console.web
    store = web.store

    def admin_of() -> CertificateAdmin:
        if web.certificates is None:
            raise PageError(
                503, "This process serves no TLS, so it has no certificates to show or change."
            )
        return web.certificates

    async def render(
        page: AdminRequest,
        *,
        message: str = "",
        notice: str = "",
        status: int = 200,
        target: str = NODE,
        chain: str = "",
    ) -> Response:
        admin = admin_of()
        domains = [d.name for d in await store.read(store.directory.domains)]
        # No await from here on: the set cannot change while the page is made.
        now = store.clock.now()
        views = {c: _view(admin, c, now) for c in admin.certs.certificates}
        hosts: list[HostView] = []
        wanted = [(n, "this node") for n in admin.node_host_names()]
        for domain in domains:
            wanted += [(n, f"domain {domain}") for n in admin.domain_host_names(domain)]
        for name, purpose in wanted:
            chosen = admin.certs.select(name)
            covered = any(match_host(p, name) for p in chosen.names)
            hosts.append(HostView(name, purpose, views[chosen], covered))
        listeners = [
            ListenerView(s.title, ", ".join(s.service.listeners), s.state.value)
            for s in web.supervisor.statuses()
            if s.service.listeners
        ] + _web_listeners(web.config)
        return console.render(
            page.request,
            "certificates.html",
            {
                "certificates": list(views.values()),
                "default": views[admin.certs.default],
                "hosts": hosts,
                "listeners": listeners,
                "targets": [(NODE, "This node: " + ", ".join(admin.node_host_names()))]
                + [(d, f"Domain {d}: " + ", ".join(admin.domain_host_names(d))) for d in domains],
                "target": target,
                "chain": chain,
                "message": message,
                "notice": notice,
                "warning_days": admin.settings.expiry_warning_days,
                "critical_days": admin.settings.expiry_critical_days,
                "max_form_bytes": console.settings.max_form_bytes,
            },
            session=page.session,
            status=status,
        )

    async def show(page: AdminRequest) -> Response:
        return await render(page)

    async def upload(page: AdminRequest) -> Response:
        admin = admin_of()
        target = page.form.get("target").strip() or NODE
        chain = page.form.get("chain")
        key = page.form.get("key")
        try:
            cert = await admin.install(page.actor, target, chain, key)
        except RoostError as exc:  # refused, or no such domain
            return await render(
                page, message=str(exc), status=status_of(exc), target=target, chain=chain
            )
        names = ", ".join(cert.names)
        return await render(
            page,
            notice=f"Installed {cert.stem}.pem for {names}, valid until {_when(cert.not_after)}. "
            "New connections get it now; open ones keep theirs.",
        )

    async def remove(page: AdminRequest) -> Response:
        admin = admin_of()
        stem = page.form.get("stem").strip()
        try:
            cert = await admin.remove(page.actor, stem)
        except CertificateRefused as exc:
            return await render(page, message=str(exc), status=400)
        return await render(page, notice=f"Removed {cert.stem}; new connections no longer get it.")

    return [
        Route("/admin/certificates", console.page(show), methods=["GET"]),
        Route("/admin/certificates/upload", console.page(upload), methods=["POST"]),
        Route("/admin/certificates/remove", console.page(remove), methods=["POST"]),
    ]
