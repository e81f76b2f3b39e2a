"""What the web layer is given by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from roost.control.admin_access import AdminAccess
from roost.control.auth import Authenticator
from roost.control.certificates import CertificateAdmin
from roost.control.chat_tokens import ChatTokens
from roost.control.directory import DirectoryAdmin
from roost.control.intake import Intake
from roost.control.mailstats import MailStats
from roost.control.queue_admin import QueueAdmin
from roost.control.submission import SubmissionPolicy
from roost.control.webmail_access import WebmailAccess
from roost.core.config import Config
from roost.net.dns import Resolver
from roost.net.web_routes import WebRoutes
from roost.store.store import Store
from roost.supervisor.supervisor import Supervisor


@dataclass(frozen=True, slots=True)
class WebContext:
    config: Config
    store: Store
    supervisor: Supervisor
    directory: DirectoryAdmin
    queue: QueueAdmin
    stats: MailStats
    cli_token: str
    """The token in the data folder that the local CLI uses (actor `cli:USER`)."""
    admin_access: AdminAccess | None = None
    """Admin console sign-in; made from the rest when not given (sharing no throttle)."""
    resolver: Resolver | None = None
    """The DNS resolver of the admin console's record checks; made from `[dns]` when not given."""
    certificates: CertificateAdmin | None = None
    """The certificates this process serves; None where it serves none (the local CLI)."""
    webmail_access: WebmailAccess | None = None
    """Webmail sign-in; made from the rest when not given (with its own authenticator)."""
    web_routes: WebRoutes | None = None
    """Routes services serve on the web listener (XMPP over WebSocket), each behind
    its service's gate; none where no service runs (the local CLI)."""
    authenticator: Authenticator | None = None
    """Mail users' password check for CalDAV and CardDAV (its throttle shared with
    the protocols); made from the rest when not given."""
    chat_tokens: ChatTokens | None = None
    """The web chat's sign-in tokens (issued here, redeemed by XMPP); None where no
    XMPP runs (the local CLI): the webmail then has no chat."""
    intake: Intake | None = None
    """The way into the queue for the webmail's sends; `create_app` makes one over
    the same store when not given (the Spool is then not woken at once)."""
    submission: SubmissionPolicy | None = None
    """The submission policy SMTP submission applies (one object: one hourly count);
    `create_app` makes one from `[smtp]` when not given."""

    def sending(self) -> tuple[Intake, SubmissionPolicy]:
        """The intake and submission policy the webmail sends through (`create_app`
        fills them in when the composition root gave none)."""
        if self.intake is None or self.submission is None:
            raise RuntimeError("the web context has no intake or submission policy")
        return self.intake, self.submission
