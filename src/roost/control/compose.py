"""Writing and sending mail from the webmail: drafts, replies, forwards, the send.

A message the webmail sends takes the path of authenticated SMTP submission:
the same `SubmissionPolicy` object (the From must be one of the user's
addresses or aliases, the recipient limit, the hourly rate), then
`Intake.accept_bytes` with the source `submission`, so the Spool DKIM-signs it
as it signs what SMTP submission queued. The envelope's recipients are To, Cc
and Bcc; the queued bytes have no Bcc field (RFC 5322 §3.6.3), the Sent copy
keeps it.

Everything that goes with a send commits with the queue entry, in the
intake's unit of work, or not at all: the Sent copy (\\Seen), the draft's
removal, `\\Answered` on the message replied to or `$Forwarded` on the one
forwarded. A draft is one message in Drafts (`\\Draft`, `\\Seen`); saving it
again appends the new version and expunges the old one in one unit of work,
so an autosaved message is never there twice.
"""

from __future__ import annotations

import asyncio
import html as html_lib
import re
from dataclasses import dataclass, replace
from email.utils import getaddresses
from urllib.parse import quote, unquote

import nh3

from roost.control.compose_mime import (
    Attachment,
    ComposeError,
    Letter,
    Recipient,
    build,
    clean_header_text,
    clean_msg_ids,
    new_message_id,
    parse_recipients,
    valid_address,
    without_bcc,
)
from roost.control.compose_source import (
    ORIGIN_HEADER,
    attachments_of,
    decoded_addresses,
    own_recipient,
    quoted_text,
    reply_targets,
    threading_fields,
)
from roost.control.intake import Envelope, Intake
from roost.control.mail_view import MailView, Sanitiser
from roost.control.submission import SubmissionPolicy
from roost.core.clock import Clock
from roost.core.config import Config
from roost.core.errors import NotFound
from roost.proto.mime.parser import parse_bytes
from roost.store.db import Tx
from roost.store.settings import JsonValue
from roost.store.store import Store
from roost.store.types import Flag, FlagMode, Mailbox, NewMessage, NewRecipient, SpecialUse

__all__ = [
    "MODES",
    "Compose",
    "ComposeError",
    "ComposeLimits",
    "Composer",
    "Origin",
    "Prefill",
    "SentMessage",
    "Writer",
    "html_to_text",
    "sanitise_html",
]

MODES = ("reply", "reply_all", "forward", "forward_attached")
FORWARDED = "$Forwarded"
_REPLY_PREFIX = re.compile(r"^\s*(re|aw|sv|antw)\s*:", re.I)
_FORWARD_PREFIX = re.compile(r"^\s*(fwd?|wg|tr)\s*:", re.I)
_BLOCK_END = re.compile(r"<\s*(br|/p|/div|/li|/tr|/h[1-6]|/blockquote)\b[^>]*>", re.I)
MAX_FOLDER_CHARS = 1000


@dataclass(frozen=True, slots=True)
class ComposeLimits:
    max_message_bytes: int
    """The smaller of the webmail's and SMTP's message size limits."""
    max_recipients: int
    """SMTP's: the policy refuses more; the parse stops a little past it."""
    max_references: int
    max_attachments: int
    max_quoted_chars: int


@dataclass(frozen=True, slots=True)
class Writer:
    """The signed-in user."""

    account_id: int
    address: str
    display_name: str
    signature: str = ""
    """Put under a new message's text, after the "-- " line (RFC 3676 §4.3)."""
    reply_to: str = ""


@dataclass(frozen=True, slots=True)
class Origin:
    """The message a reply or forward comes from."""

    mode: str
    folder: str
    uid: int

    def header(self) -> str:
        return f"{self.mode} {self.uid} {quote(self.folder, safe='')}"

    @staticmethod
    def parse(text: str) -> Origin | None:
        parts = text.split()
        if len(parts) != 3 or parts[0] not in MODES or not parts[1].isdigit():
            return None
        folder = unquote(parts[2])
        if not folder or len(folder) > MAX_FOLDER_CHARS:
            return None
        return Origin(parts[0], folder, int(parts[1]))


@dataclass(frozen=True, slots=True)
class Compose:
    """What the compose form holds when it is sent or saved."""

    from_address: str
    to: str
    cc: str
    bcc: str
    subject: str
    text: str
    message_id: str
    html: str | None = None
    """The rich-text editor's HTML, not yet sanitised; None for plain text."""
    in_reply_to: str = ""
    references: str = ""
    origin: Origin | None = None
    attachments: tuple[Attachment, ...] = ()
    forwarded: tuple[bytes, ...] = ()


@dataclass(frozen=True, slots=True)
class Prefill:
    """What a compose page opens with (new, reply, forward, or a reopened draft)."""

    compose: Compose
    draft_uid: int | None = None


@dataclass(frozen=True, slots=True)
class SentMessage:
    queue_id: int
    recipients: int
    sent_uid: int


def sanitise_html(html: str) -> str:
    """The read pane's allow-list (nh3): what a user may send is what a user may read."""
    return Sanitiser({}, images=True).clean(html)


def html_to_text(html: str) -> str:
    """The text/plain beside rich text: tags gone, block ends as line ends."""
    marked = _BLOCK_END.sub(lambda m: m.group(0) + "\n", html)
    text = html_lib.unescape(nh3.clean(marked, tags=set(), clean_content_tags={"script", "style"}))
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def compose_limits(config: Config) -> ComposeLimits:
    webmail = config.webmail
    return ComposeLimits(
        max_message_bytes=min(webmail.compose_max_message_bytes, config.smtp.max_message_bytes),
        max_recipients=config.smtp.max_recipients,
        max_references=webmail.compose_max_references,
        max_attachments=webmail.compose_max_attachments,
        max_quoted_chars=webmail.max_view_chars,
    )


class Composer:
    def __init__(
        self,
        store: Store,
        intake: Intake,
        policy: SubmissionPolicy,
        limits: ComposeLimits,
        clock: Clock,
    ) -> None:
        self._store = store
        self._intake = intake
        self._policy = policy
        self.limits = limits
        self._clock = clock
        self._view = MailView(store, limits.max_quoted_chars)

    # --- what the page offers

    async def senders(self, writer: Writer) -> list[str]:
        """The user's own address first, then their aliases: the From choices."""
        allowed = await self._policy.allowed_senders(writer.address)
        return [writer.address, *sorted(a for a in allowed if a != writer.address)]

    def blank(self, writer: Writer) -> Compose:
        return Compose(
            from_address=writer.address,
            to="",
            cc="",
            bcc="",
            subject="",
            text=_signed(writer.signature),
            message_id=new_message_id(writer.address.rpartition("@")[2]),
        )

    async def prefill(self, writer: Writer, origin: Origin) -> Prefill:
        """A reply, reply-all or forward of a message of the user's."""
        loaded = await self._view.load(writer.account_id, origin.folder, origin.uid)
        shown = self._view.view(loaded, lambda index: "", images=False)
        quoted = shown.text if shown.text is not None else html_to_text(shown.html or "")
        header = threading_fields(loaded)
        subject = shown.subject
        base = self.blank(writer)
        own = await self._policy.allowed_senders(writer.address)
        if origin.mode in ("reply", "reply_all"):
            to, cc = reply_targets(origin.mode, loaded, own)
            own_ids = clean_msg_ids(header.get("message-id", ""), 1)
            references = clean_msg_ids(
                header.get("references", "") or header.get("in-reply-to", ""),
                self.limits.max_references,
            )
            if own_ids:
                references = clean_msg_ids(
                    " ".join([*references, own_ids[0]]), self.limits.max_references
                )
            intro = f"On {shown.date or 'an earlier day'}, {shown.from_ or 'someone'} wrote:"
            body = _signed(writer.signature) + "\n" + intro + "\n" + quoted_text(quoted)
            return Prefill(
                replace(
                    base,
                    from_address=own_recipient(loaded, own) or writer.address,
                    to=to,
                    cc=cc,
                    subject=subject if _REPLY_PREFIX.match(subject) else f"Re: {subject}",
                    text=body,
                    in_reply_to=own_ids[0] if own_ids else "",
                    references=" ".join(references),
                    origin=origin,
                )
            )
        forward_subject = subject if _FORWARD_PREFIX.match(subject) else f"Fwd: {subject}"
        if origin.mode == "forward_attached":
            return Prefill(
                replace(
                    base,
                    subject=forward_subject,
                    origin=origin,
                    forwarded=(loaded.data,),
                )
            )
        lines = [
            _signed(writer.signature),
            "---------- Forwarded message ----------",
            f"From: {shown.from_}",
            f"Date: {shown.date}",
            f"Subject: {shown.subject}",
            f"To: {shown.to}",
            *([f"Cc: {shown.cc}"] if shown.cc else []),
            "",
            quoted,
        ]
        files, messages = attachments_of(self._view, loaded)
        return Prefill(
            replace(
                base,
                subject=forward_subject,
                text="\n".join(lines),
                origin=origin,
                attachments=files,
                forwarded=messages,
            )
        )

    async def reopen(self, writer: Writer, uid: int) -> Prefill:
        """A draft of Drafts, for editing again."""
        drafts = await self._special(writer.account_id, SpecialUse.DRAFTS)
        loaded = await self._view.load(writer.account_id, drafts.name, uid)
        shown = self._view.view(loaded, lambda index: "", images=True)
        header = threading_fields(loaded)
        own_ids = clean_msg_ids(header.get("message-id", ""), 1)
        files, messages = attachments_of(self._view, loaded)
        from_pairs = getaddresses([header.get("from", "")])
        compose = Compose(
            from_address=from_pairs[0][1] if from_pairs else writer.address,
            to=decoded_addresses(header.get("to", "")),
            cc=decoded_addresses(header.get("cc", "")),
            bcc=decoded_addresses(header.get("bcc", "")),
            subject=shown.subject,
            text=shown.text if shown.text is not None else html_to_text(shown.html or ""),
            html=shown.html,
            message_id=own_ids[0] if own_ids else self.blank(writer).message_id,
            in_reply_to=" ".join(clean_msg_ids(header.get("in-reply-to", ""), 1)),
            references=" ".join(
                clean_msg_ids(header.get("references", ""), self.limits.max_references)
            ),
            origin=Origin.parse(header.get(ORIGIN_HEADER.lower(), "")),
            attachments=files,
            forwarded=messages,
        )
        return Prefill(compose, uid)

    # --- drafts

    async def save_draft(self, writer: Writer, compose: Compose, replace_uid: int | None) -> int:
        """Keep the message in Drafts (replacing its previous version); its new UID."""
        letter, _ = self._letter(writer, compose, draft=True)
        data = await asyncio.to_thread(build, letter)
        self._check_size(data)
        structure = (await asyncio.to_thread(parse_bytes, data)).to_json()
        blob = await self._store.blobs.stage(data)
        mail = self._store.mail

        async def work(tx: Tx) -> int:
            box = await self._special_in(tx, writer.account_id, SpecialUse.DRAFTS)
            (added,) = await mail.append(
                tx, box.id, [NewMessage(blob, flags=Flag.DRAFT | Flag.SEEN)]
            )
            await self._store.blobs.set_structure(tx, blob.hash, structure)
            if replace_uid is not None:
                await _remove_draft(tx, self._store, box, replace_uid)
            return added.uid

        return await self._store.write(work)

    async def discard_draft(self, writer: Writer, uid: int) -> None:
        async def work(tx: Tx) -> None:
            box = await self._special_in(tx, writer.account_id, SpecialUse.DRAFTS)
            await _remove_draft(tx, self._store, box, uid)

        await self._store.write(work)

    # --- sending

    async def send(
        self, writer: Writer, compose: Compose, draft_uid: int | None, client: str | None = None
    ) -> SentMessage:
        """Check, build and queue the message; file its Sent copy, remove its draft
        and flag its original in the same unit of work."""
        verdict = await self._policy.check_sender(writer.address, compose.from_address)
        if not verdict.ok:
            raise ComposeError(
                f"You may not send as {compose.from_address or '(no address)'}: choose one of "
                "your own addresses or aliases in From.",
                403,
            )
        letter, recipients = self._letter(writer, compose, draft=False)
        if not recipients:
            raise ComposeError("Add at least one recipient in To, Cc or Bcc.")
        data = await asyncio.to_thread(build, letter)
        self._check_size(data)
        rate = self._policy.check_rate(writer.address)
        if not rate.ok:
            raise ComposeError(
                f"You have sent as many messages this hour as you may "
                f"({_reason(rate.reply)}). Your message is kept: try again later.",
                429,
            )
        structure = (await asyncio.to_thread(parse_bytes, data)).to_json()
        sent_blob = await self._store.blobs.stage(data)
        store, mail = self._store, self._store.mail
        sent_uid = 0

        async def in_unit(tx: Tx) -> None:
            nonlocal sent_uid
            sent = await self._special_in(tx, writer.account_id, SpecialUse.SENT)
            (added,) = await mail.append(tx, sent.id, [NewMessage(sent_blob, flags=Flag.SEEN)])
            sent_uid = added.uid
            await store.blobs.set_structure(tx, sent_blob.hash, structure)
            if draft_uid is not None:
                drafts = await self._special_in(tx, writer.account_id, SpecialUse.DRAFTS)
                await _remove_draft(tx, store, drafts, draft_uid)
            if compose.origin is not None:
                await _mark_original(tx, store, writer.account_id, compose.origin)

        details: dict[str, JsonValue] = {"user": writer.address, "listener": "webmail"}
        if client:
            details["client"] = client
        envelope = Envelope(
            sender=compose.from_address,
            recipients=tuple(NewRecipient(r) for r in recipients),
            source="submission",
            details=details,
        )
        queue_id = await self._intake.accept_bytes(without_bcc(data), envelope, in_unit)
        return SentMessage(queue_id, len(recipients), sent_uid)

    # --- helpers

    def _letter(self, writer: Writer, compose: Compose, *, draft: bool) -> tuple[Letter, list[str]]:
        limit = self.limits.max_recipients
        fields = {
            "To": compose.to,
            "Cc": compose.cc,
            "Bcc": compose.bcc,
        }
        total = sum(_count(text) for text in fields.values())
        if total > limit:
            raise ComposeError(
                f"This message has {total} recipients: more than one message may have "
                f"(at most {limit}). Send it in parts, or to a mailing list."
            )
        parsed = {name: parse_recipients(text, limit) for name, text in fields.items()}
        recipients: list[str] = []
        seen: set[str] = set()
        for people in parsed.values():
            for person in people:
                key = person.address.lower()
                if key not in seen:
                    seen.add(key)
                    recipients.append(person.address)
        verdict = self._policy.check_recipient_count(len(recipients))
        if not verdict.ok:
            raise ComposeError(
                f"This message has {len(recipients)} recipients: more than one message may "
                f"have ({_reason(verdict.reply)})."
            )
        if len(compose.attachments) + len(compose.forwarded) > self.limits.max_attachments:
            raise ComposeError(
                f"A message may carry at most {self.limits.max_attachments} attachments."
            )
        from_address = compose.from_address.strip()
        if not valid_address(from_address):
            if not draft:
                raise ComposeError("Choose a From address.")
            from_address = writer.address
        html = sanitise_html(compose.html) if compose.html is not None else None
        text = html_to_text(html) if html is not None else compose.text
        extra = ((ORIGIN_HEADER, compose.origin.header()),) if draft and compose.origin else ()
        message_id = compose.message_id.strip()
        if clean_msg_ids(message_id, 1) != (message_id,):
            message_id = new_message_id(from_address.rpartition("@")[2])
        in_reply_to = clean_msg_ids(compose.in_reply_to, 1)
        reply_to = (Recipient("", writer.reply_to),) if valid_address(writer.reply_to) else ()
        letter = Letter(
            reply_to=reply_to,
            from_name=writer.display_name if from_address == writer.address else "",
            from_address=from_address,
            to=parsed["To"],
            cc=parsed["Cc"],
            bcc=parsed["Bcc"],
            subject=clean_header_text(compose.subject, 1000),
            text=text,
            html=html,
            date=self._clock.now(),
            message_id=message_id,
            in_reply_to=in_reply_to[0] if in_reply_to else None,
            references=clean_msg_ids(compose.references, self.limits.max_references),
            attachments=compose.attachments,
            forwarded=compose.forwarded,
            extra_headers=extra,
        )
        return letter, recipients

    def _check_size(self, data: bytes) -> None:
        limit = self.limits.max_message_bytes
        if len(data) > limit:
            raise ComposeError(
                f"The message is {_mb(len(data))} with its attachments; at most {_mb(limit)} "
                "may be sent. Remove an attachment (or send a link to the file).",
                413,
            )

    async def _special(self, account_id: int, use: SpecialUse) -> Mailbox:
        return await self._store.write(self._special_in, account_id, use)

    async def _special_in(self, tx: Tx, account_id: int, use: SpecialUse) -> Mailbox:
        """The user's Sent or Drafts folder (RFC 6154), made if they have none."""
        boxes = await self._store.mail.mailboxes(tx, account_id)
        for box in boxes:
            if box.special_use is use:
                return box
        name = "Sent" if use is SpecialUse.SENT else "Drafts"
        for box in boxes:
            if box.name == name:
                return box
        return await self._store.mail.create_mailbox(tx, account_id, name, use)


async def _remove_draft(tx: Tx, store: Store, box: Mailbox, uid: int) -> None:
    """Expunge a draft: only a message of Drafts that carries \\Draft."""
    found = await store.mail.flags(tx, box.id, [(uid, uid)])
    if found and Flag.DRAFT in found[0].flags:
        await store.mail.expunge(tx, box.id, [(uid, uid)], deleted_only=False)


async def _mark_original(tx: Tx, store: Store, account_id: int, origin: Origin) -> None:
    """\\Answered on a message replied to, $Forwarded on one forwarded (RFC 5788
    registers it); nothing when it has gone meanwhile."""
    try:
        box = await store.mail.mailbox(tx, account_id, origin.folder)
    except NotFound:
        return
    uids = [(origin.uid, origin.uid)]
    if origin.mode in ("reply", "reply_all"):
        await store.mail.store_flags(tx, box.id, uids, FlagMode.ADD, Flag.ANSWERED)
    else:
        await store.mail.store_flags(tx, box.id, uids, FlagMode.ADD, Flag(0), [FORWARDED])


def _signed(signature: str) -> str:
    """The start of a new message's text: room to write, then the signature."""
    if not signature.strip():
        return "\n\n"
    return "\n\n-- \n" + signature.strip("\n") + "\n"


def _count(text: str) -> int:
    """Entries of an address box, cheaply: commas and semicolons outside quotes."""
    return len([e for e in re.split(r"[,;\n]", re.sub(r'"[^"]*"', "", text)) if e.strip()])


def _reason(reply: str) -> str:
    """An SMTP reply's text without its codes ("452 4.5.3 too many ...")."""
    parts = reply.split(" ", 2)
    return parts[2] if len(parts) == 3 else reply


def _mb(size: int) -> str:
    return f"{size / 1_048_576:.1f} MB"
