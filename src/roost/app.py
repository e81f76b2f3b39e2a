"""The composition root: builds the store, control, services, supervisor and web.

Boot order is the only order: store first, then the services, then the web
listener. Stopping ends the services first (they end their own sessions,
WebSocket ones included), then the web listener, then the store. The
`roost` command is `roost.__main__`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from roost.control.admin_access import AdminAccess
from roost.control.auth import Authenticator
from roost.control.certificates import CertificateAdmin
from roost.control.chat_tokens import ChatTokens
from roost.control.directory import Actor, DirectoryAdmin
from roost.control.intake import Intake
from roost.control.mailauth import MailAuthenticator, MailAuthSettings, signer
from roost.control.maintenance import Maintenance
from roost.control.passwords import Passwords
from roost.control.queue_admin import QueueAdmin
from roost.control.secrets import load_or_create
from roost.control.submission import SubmissionPolicy
from roost.control.webmail_access import WebmailAccess
from roost.core.clock import Clock, SystemClock
from roost.core.config import Config
from roost.core.logs import setup_logging
from roost.core.runtime import RuntimeInfo, remove_runtime, write_runtime
from roost.net.certs import CertStore
from roost.net.dns import Resolver
from roost.net.web_routes import WebRoutes
from roost.services.imap.service import ImapService
from roost.services.indexing.service import IndexingService
from roost.services.pop.service import PopService
from roost.services.retrieval.scheduler import retrieval_services
from roost.services.smtp.service import SmtpService
from roost.services.spool.service import SpoolService
from roost.services.xmpp.service import XmppService
from roost.store.store import Store, open_store, prepare_data_dir
from roost.supervisor.service import Service
from roost.supervisor.supervisor import Supervisor
from roost.web.app import create_app
from roost.web.context import WebContext
from roost.web.server import WebServer

log = logging.getLogger("roost.app")

FIRST_ADMIN = "admin"
TLS_FOLDER = "tls"


@dataclass(slots=True)
class Roost:
    """A running instance, for `serve` and for tests."""

    config: Config
    store: Store
    supervisor: Supervisor
    web: WebServer
    directory: DirectoryAdmin
    maintenance: Maintenance
    services: Sequence[Service]

    async def stop(self) -> None:
        remove_runtime(self.config.data_dir)
        # The services first: XMPP ends its own WebSocket sessions, those
        # parked for resumption included. Stopped first, the web listener
        # would wait its whole grace period for them.
        await self.supervisor.shutdown()
        await self.web.stop()
        await self.maintenance.stop()
        await self.store.close()


def build_services(
    config: Config,
    store: Store,
    auth: Authenticator,
    intake: Intake,
    certs: CertStore,
    clock: Clock,
    web_routes: WebRoutes,
    chat_tokens: ChatTokens,
    submission: SubmissionPolicy,
) -> Sequence[Service]:
    """The services, in boot order. The others arrive with their own issues."""
    delimiter = config.directory.recipient_delimiter
    resolver = Resolver(config.dns.nameservers, config.dns.timeout_s)
    sasl_secret = load_or_create(config.data_dir, "sasl")
    hostname = config.smtp.hostname or config.node
    mailauth = MailAuthenticator(
        resolver,
        MailAuthSettings(
            authserv_id=config.mailauth.authserv_id or hostname,
            dkim_verify_max_bytes=config.mailauth.dkim_verify_max_bytes,
            spf_lookup_time_s=config.mailauth.spf_lookup_time_s,
        ),
    )
    tls = certs.server_context()
    return [
        SmtpService(config, store, auth, intake, tls, sasl_secret, mailauth, clock, submission),
        SpoolService(
            store,
            intake,
            config.spool,
            delimiter,
            resolver,
            clock,
            config.node,
            signer(config.data_dir) if config.mailauth.dkim_sign else None,
            vacation=config.vacation,
        ),
        PopService(config, store, auth, tls, sasl_secret, clock),
        ImapService(config, store, auth, tls, sasl_secret, clock),
        *retrieval_services(config, store, intake, clock),
        IndexingService(store, config.indexing, clock),
        XmppService(config, store, auth, tls, sasl_secret, clock, web_routes, chat_tokens),
    ]


async def start(config: Config, *, announce: bool = True) -> Roost:
    clock = SystemClock()
    store = await open_store(config, clock)
    try:
        certs = CertStore.open(
            config.data_dir / TLS_FOLDER,
            config.tls.host_names or (config.node, "localhost"),
            extra_pairs=[(Path(config.tls.cert_file), Path(config.tls.key_file))]
            if config.tls.cert_file
            else (),
        )
        passwords = Passwords(config.directory)
        auth = Authenticator(store, passwords, config.auth, config.directory, clock)
        directory = DirectoryAdmin(store, passwords, config.directory, auth)
        await _first_admin(store, directory, announce)
        intake = Intake(store, config.spool, clock)
        web_routes = WebRoutes()
        chat_tokens = ChatTokens(store, auth, config.webmail, clock)
        # One policy object for SMTP submission and the webmail: one hourly count.
        submission = SubmissionPolicy.of(config, store, clock)
        services = build_services(
            config, store, auth, intake, certs, clock, web_routes, chat_tokens, submission
        )
        supervisor = Supervisor(services, store, config.supervisor, clock, config.node)
        await supervisor.boot()
        cli_token = secrets.token_urlsafe(32)
        admin_access = AdminAccess(store, passwords, directory, config.admin, auth.throttle, clock)
        certificates = CertificateAdmin(certs, store, config, clock)
        await certificates.check_expiry()
        webmail_access = WebmailAccess(store, auth, directory, config.webmail, clock)
        web_context = WebContext(
            config,
            store,
            supervisor,
            directory,
            QueueAdmin(store, intake),
            intake.stats,
            cli_token,
            admin_access,
            certificates=certificates,
            webmail_access=webmail_access,
            web_routes=web_routes,
            authenticator=auth,
            chat_tokens=chat_tokens,
            intake=intake,
            submission=submission,
        )
        web = WebServer(
            create_app(web_context),
            config.web.listen,
            config.web.tls_listen,
            certs.server_context(alpn_protocols=("http/1.1",)),
            timeout_s=config.supervisor.start_timeout_s,
            # Twice the stanza limit: a stanza over it gets XMPP's policy-violation
            # from the core; far larger messages end at the transport (close 1009).
            ws_max_bytes=2 * config.xmpp.max_stanza_bytes,
        )
        try:
            await web.start()
        except BaseException:
            await supervisor.shutdown()
            raise
        web_routes.listening(web.addresses, web.tls_addresses)
    except BaseException:
        await store.close()
        raise
    maintenance = Maintenance(
        store,
        config.store.blob_gc_interval_s,
        events_retention_days=config.admin.events_retention_days,
        admin_access=admin_access,
        certificates=certificates,
        webmail_access=webmail_access,
    )
    maintenance.start()
    url = f"http://{web.addresses[0]}" if web.addresses else f"https://{web.tls_addresses[0]}"
    write_runtime(
        config.data_dir,
        RuntimeInfo(
            os.getpid(), url, cli_token, None if web.addresses else str(certs.default.cert_path)
        ),
    )
    return Roost(config, store, supervisor, web, directory, maintenance, services)


async def _first_admin(store: Store, directory: DirectoryAdmin, announce: bool) -> None:
    """On the first start, make an admin whose one-time password is printed once."""
    if await store.read(store.directory.admins):
        return
    _, password = await directory.add_admin(
        Actor("first-start"), FIRST_ADMIN, None, must_change=True
    )
    if announce:
        print(
            f"First start: admin account {FIRST_ADMIN!r} created with the one-time password\n\n"
            f"    {password}\n\nIt is shown only this once and must be changed at first sign-in.",
            flush=True,
        )


async def serve(config: Config) -> None:
    """Run until SIGINT or SIGTERM."""
    prepare_data_dir(config.data_dir)
    setup_logging(config)
    roost = await start(config)
    for address in roost.web.addresses:
        log.info("Roost is running: API on http://%s (profile %s)", address, config.roost.profile)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        log.info("stopping")
        await roost.stop()
