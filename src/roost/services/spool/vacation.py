"""Vacation auto-replies at local delivery (RFC 3834).

After a message is in a user's INBOX (its unit of work committed: a failure
here can never lose or undo the delivery), a user whose vacation reply is on
for today, in their time zone, answers the envelope sender once per period.
The rules are RFC 3834's:

- §2: reply only to a message sent to the user personally: one of the
  user's addresses (the account, its aliases, the envelope recipient) in To
  or Cc, never to a Bcc or a list;
- §2: never to `Auto-Submitted` other than `no`, to `Precedence: bulk`,
  `list` or `junk`, to a message with `List-*` fields (RFC 2369, 2919), to
  the null sender, to the user, or to the usual machine addresses
  (MAILER-DAEMON, LISTSERV, majordomo, owner-*, *-request, no-reply);
- §2: at most once per sender in a period (`[vacation] default_period_days`
  or the user's own);
- §3.1: the reply has `Auto-Submitted: auto-replied`, `In-Reply-To` and
  `References` of the original, the subject the user set or "Auto: " and
  the original's; §3.3: it goes from the null sender to the envelope
  sender.

The reply enters the queue through `Intake` with source `vacation` in the
same unit of work that notes it in the vacation log (`claim_reply`), so a
crash neither sends it twice nor forgets that it was sent.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid

from roost.control.intake import Envelope, Intake
from roost.control.user_settings import Settings, period_of, settings_of, today_in
from roost.core.clock import Clock
from roost.core.config import VacationSettings
from roost.proto.mime.encoded_words import decode_header
from roost.proto.mime.headers import read_envelope, split_fields
from roost.store.db import Tx
from roost.store.store import Store
from roost.store.types import NewRecipient, QueueEntry
from roost.store.user_settings import ActiveVacation

log = logging.getLogger(__name__)

SOURCE = "vacation"
MAX_HEADER_OCTETS = 256 * 1024
"""Most of a message's header read to decide (RFC 5322 sets no limit; a
header this large is not a person writing)."""
MAX_REFERENCES = 20
"""Message-ids kept in the reply's References (the last ones: RFC 5322 §3.6.4
lets a long chain be shortened, keeping the first would be as valid)."""
MAX_SUBJECT_CHARS = 500
_MSG_ID = re.compile(r"<[^<>\s]{1,250}>")
_MACHINE_LOCAL_PARTS = frozenset(
    {
        "mailer-daemon",
        "listserv",
        "majordomo",
        "no-reply",
        "noreply",
        "do-not-reply",
        "donotreply",
    }
)
_QUIET_PRECEDENCE = frozenset({"bulk", "list", "junk"})
QUIET_SOURCES = frozenset({"imap-retrieval", "pop-retrieval", SOURCE, "notice"})
"""Entries that get no reply: mail fetched from the user's other accounts (a
first fetch may bring years of old mail), and our own replies and notices."""


@dataclass(frozen=True, slots=True)
class Original:
    """What the decision and the reply read of the message answered."""

    recipients: frozenset[str]
    """To and Cc, lower case."""
    subject: str
    message_id: str | None
    references: tuple[str, ...]
    auto_submitted: str | None
    precedence: str | None
    list_fields: tuple[str, ...]
    suppress: str | None
    """Microsoft's X-Auto-Response-Suppress."""


def read_original(header: bytes) -> Original:
    fields = split_fields(header.splitlines(keepends=True))
    envelope = read_envelope(fields)
    first: dict[str, bytes] = {}
    for name, raw in fields:
        first.setdefault(name, raw)
    recipients = {
        f"{m.mailbox}@{m.host}".lower()
        for f in (envelope.to, envelope.cc)
        if f is not None
        for m in f.mailboxes()
        if m.host
    }

    def text(name: str) -> str | None:
        raw = first.get(name)
        return None if raw is None else raw.decode("utf-8", "replace").strip()

    message_id = _MSG_ID.search(envelope.message_id or "")
    references = _MSG_ID.findall(text("references") or "")
    return Original(
        recipients=frozenset(recipients),
        subject=decode_header(envelope.subject or "").strip()[:MAX_SUBJECT_CHARS],
        message_id=message_id.group(0) if message_id else None,
        references=tuple(references),
        auto_submitted=text("auto-submitted"),
        precedence=text("precedence"),
        list_fields=tuple(sorted({name for name in first if name.startswith("list-")})),
        suppress=text("x-auto-response-suppress"),
    )


def base_address(address: str, delimiter: str) -> str:
    """Lower case, with a subaddress (`user+tag@`) taken off."""
    local, at, domain = address.lower().rpartition("@")
    if not at:
        return address.lower()
    if delimiter:
        for d in delimiter:
            local = local.split(d, 1)[0]
    return f"{local}@{domain}"


def refusal(original: Original, sender: str, own: Iterable[str], delimiter: str) -> str | None:
    """Why this message gets no reply, or None when it does (RFC 3834 §2)."""
    mine = {base_address(a, delimiter) for a in own}
    if not sender:
        return "the null sender (a bounce or a notice)"
    sender_base = base_address(sender, delimiter)
    if sender_base in mine:
        return "a message from the user"
    local = sender_base.rpartition("@")[0]
    if (
        local in _MACHINE_LOCAL_PARTS
        or local.startswith("owner-")
        or local.endswith(("-request", "-owner", "-bounces"))
    ):
        return f"a machine address ({sender})"
    auto = (original.auto_submitted or "no").split(";", 1)[0].split("(", 1)[0].strip().lower()
    if auto != "no":
        return f"Auto-Submitted: {auto}"
    precedence = (original.precedence or "").split(";", 1)[0].strip().lower()
    if precedence in _QUIET_PRECEDENCE:
        return f"Precedence: {precedence}"
    if original.list_fields:
        return "a mailing list message (" + ", ".join(original.list_fields) + ")"
    suppress = {s.strip().lower() for s in (original.suppress or "").split(",")}
    if suppress & {"all", "oof"}:
        return "X-Auto-Response-Suppress"
    if not {base_address(a, delimiter) for a in original.recipients} & mine:
        return "the user is not in To or Cc"
    return None


def compose_reply(
    settings: Settings,
    original: Original,
    to: str,
    now: datetime,
    hostname: str,
) -> bytes:
    """The reply (RFC 3834 §3.1), as text/plain in UTF-8."""
    vacation = settings.vacation
    message = EmailMessage(policy=SMTP)
    local, _, domain = settings.address.rpartition("@")
    message["From"] = Address(settings.display_name, local, domain)
    message["To"] = to
    message["Subject"] = vacation.subject_for(original.subject)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=hostname)
    if original.message_id:
        message["In-Reply-To"] = original.message_id
        chain = [*original.references, original.message_id][-MAX_REFERENCES:]
        message["References"] = " ".join(chain)
    message["Auto-Submitted"] = "auto-replied"
    message["X-Auto-Response-Suppress"] = "All"
    message.set_content(vacation.text.rstrip("\n") + "\n", cte="quoted-printable")
    return message.as_bytes()


class _AlreadyReplied(Exception):
    """The sender heard this vacation within the period (raised to undo the enqueue)."""


class VacationReplies:
    """Answers mail delivered to users on vacation; see the module's docstring."""

    def __init__(
        self,
        store: Store,
        intake: Intake,
        limits: VacationSettings,
        clock: Clock,
        hostname: str,
        delimiter: str,
    ) -> None:
        self._store = store
        self._intake = intake
        self._limits = limits
        self._clock = clock
        self._hostname = hostname
        self._delimiter = delimiter
        self.sent = 0

    async def after_delivery(self, entry: QueueEntry, delivered: Sequence[tuple[str, str]]) -> None:
        """Reply for each (envelope recipient, account) that got `entry` in its
        INBOX. Never raises: a reply that cannot be made is logged, the
        delivery stands."""
        await self.after_deliveries([(entry, delivered)])

    async def after_deliveries(
        self, deliveries: Sequence[tuple[QueueEntry, Sequence[tuple[str, str]]]]
    ) -> None:
        """The same for several entries (the Spool's local batch): one query
        finds who among their recipients is on vacation."""
        wanted = [
            (entry, delivered)
            for entry, delivered in deliveries
            if entry.sender and delivered and entry.source not in QUIET_SOURCES
        ]
        if not wanted:
            return  # a bounce never gets a reply: spare the query
        store = self._store
        accounts = {account.lower() for _entry, delivered in wanted for _r, account in delivered}
        try:
            active = await store.read(store.user_settings.active_vacations, sorted(accounts))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the vacation settings could not be read (the deliveries stand)")
            return
        if not active:
            return
        by_address = {found.address: found for found in active}
        for entry, delivered in wanted:
            try:
                await self._reply_all(entry, delivered, by_address)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("entry %d: the vacation reply failed (the delivery stands)", entry.id)

    async def _reply_all(
        self,
        entry: QueueEntry,
        delivered: Sequence[tuple[str, str]],
        active: dict[str, ActiveVacation],
    ) -> None:
        by_account: dict[str, set[str]] = {}
        for recipient, account in delivered:
            if account.lower() in active:
                by_account.setdefault(account.lower(), set()).add(recipient)
        now = self._clock.now()
        original: Original | None = None
        for address, recipients in by_account.items():
            found = active[address]
            settings = settings_of(
                found.address, found.account_display_name, found.settings, self._limits
            )
            if not settings.vacation.active_on(today_in(settings, now)):
                continue
            if original is None:
                original = read_original(await self._header(entry))
            own = await self._addresses(found, recipients)
            why = refusal(original, entry.sender, own, self._delimiter)
            if why is not None:
                log.info("entry %d: no vacation reply from %s: %s", entry.id, found.address, why)
                continue
            await self._send(entry, found, settings, original, now)

    async def _send(
        self,
        entry: QueueEntry,
        found: ActiveVacation,
        settings: Settings,
        original: Original,
        now: datetime,
    ) -> None:
        store = self._store
        sender = entry.sender.lower()
        period = period_of(settings.vacation)
        last = await store.read(store.user_settings.last_reply, found.account_id, sender)
        if last is not None and last > now - period:
            log.info("entry %d: %s replied to %s already", entry.id, found.address, sender)
            return
        data = compose_reply(settings, original, entry.sender, now, self._hostname)

        async def claim(tx: Tx) -> None:
            if not await store.user_settings.claim_reply(tx, found.account_id, sender, period):
                raise _AlreadyReplied

        envelope = Envelope("", (NewRecipient(entry.sender),), source=SOURCE)
        try:
            reply_id = await self._intake.accept_bytes(data, envelope, in_unit=claim)
        except _AlreadyReplied:
            return
        self.sent += 1
        log.info(
            "entry %d: vacation reply of %s to <%s> queued as entry %d",
            entry.id,
            found.address,
            entry.sender,
            reply_id,
        )

    async def _header(self, entry: QueueEntry) -> bytes:
        header = bytearray()
        async for chunk in self._store.blobs.chunks(entry.blob_hash):
            header += chunk
            end = header.find(b"\r\n\r\n")
            if end >= 0:
                return bytes(header[: end + 2])
            if len(header) > MAX_HEADER_OCTETS:
                break
        return bytes(header[:MAX_HEADER_OCTETS])

    async def _addresses(self, found: ActiveVacation, recipients: set[str]) -> set[str]:
        """The user's addresses: the account, its aliases, the envelope
        recipients, and each of them in the domain's aliases."""
        store = self._store

        async def work(tx: Tx) -> set[str]:
            own = {found.address, *recipients, *await store.directory.aliases_of(tx, found.address)}
            domains = await store.directory.domain_aliases(tx)
            for address in list(own):
                local, _, domain = address.lower().rpartition("@")
                own |= {f"{local}@{d.name}" for d in domains if d.domain == domain}
            return {a.lower() for a in own}

        return await store.read(work)
