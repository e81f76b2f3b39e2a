"""IMAP commands as typed values, grouped by the state they belong to (RFC 9051 §6).

- `anystate`: CAPABILITY, NOOP, LOGOUT, ID;
- `nonauth`: STARTTLS, AUTHENTICATE, LOGIN;
- `auth`: ENABLE, SELECT, EXAMINE, CREATE, DELETE, RENAME, SUBSCRIBE,
  UNSUBSCRIBE, NAMESPACE, APPEND, IDLE, GETQUOTA, GETQUOTAROOT, SETQUOTA,
  COMPRESS;
- `listing`: LIST, LSUB, STATUS (authenticated state too);
- `selected`: CHECK, CLOSE, UNSELECT, EXPUNGE, UID EXPUNGE, SEARCH, FETCH,
  STORE, COPY, MOVE, SORT, THREAD.

Each module holds the values and the grammar of its commands' arguments;
`roost.proto.imap.parser` reads the tag and the name and dispatches, and
`roost.proto.imap.printer` writes a command back. Every command is a frozen,
slotted dataclass whose first field is the client's ``tag`` and whose
``NAME`` is the verb. A command's group says where RFC 9051 puts it; which
commands a session accepts in which state is the engine's decision.
"""

from __future__ import annotations

from roost.proto.imap.commands.anystate import AnyStateCommand
from roost.proto.imap.commands.auth import AuthenticatedCommand
from roost.proto.imap.commands.listing import ListingCommand
from roost.proto.imap.commands.nonauth import NotAuthenticatedCommand
from roost.proto.imap.commands.selected import SelectedCommand

Command = (
    AnyStateCommand
    | NotAuthenticatedCommand
    | AuthenticatedCommand
    | ListingCommand
    | SelectedCommand
)
"""Any command the parser returns."""
