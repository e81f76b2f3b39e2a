"""What the web layer is given by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from roost.control.admin_access import AdminAccess
from roost.control.directory import DirectoryAdmin
from roost.control.mailstats import MailStats
from roost.control.queue_admin import QueueAdmin
from roost.core.config import Config
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
