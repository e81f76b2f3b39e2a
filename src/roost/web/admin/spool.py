"""Manage → Spool (`/admin/spool`): every queue entry, filters, paging and actions.

Two tabs: "Spool" lists every entry; "Waiting to deliver" those deferred
until a next attempt or held. Filters: a part of the sender and a
recipient's domain. Paging goes by entry id (`after`, `before`), which the
primary key answers as quickly on the last page of 50,000 entries as on the
first.

Actions (force, reset retries, hold, release, delete, bounce) apply to the
ticked rows, or to every entry matching the filter. Delete, bounce and any
action on "all matching" first show a confirmation page naming how many
entries it covers; that page carries the newest matching id, so what
arrives after the confirmation is left alone. Every entry an action touches
gets an audit event (`roost.control.queue_admin`).

What an outsider wrote (the sender, the From and Subject headers, the whole
source on the view page) is shown as text only: the templates escape every
value, and no value ever goes into a URL, a style or a script.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.header import decode_header, make_header
from email.parser import HeaderParser
from email.policy import compat32
from urllib.parse import urlencode

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from roost.control.host_stats import human_bytes
from roost.control.queue_admin import BulkResult, QueueAction
from roost.core.errors import NotFound
from roost.store.queue import QueueFilter, QueuePage, list_page
from roost.store.types import QueueEntry, QueueState, RecipientState
from roost.web.admin.console import AdminRequest, Console
from roost.web.admin.service_info import clock_time, duration
from roost.web.forms import Form, PageError

MAX_SENDER_FILTER_CHARS = 320
MAX_DOMAIN_FILTER_CHARS = 253
MAX_HEADER_CHARS = 300
"""A From or Subject longer than this is cut in the list (the view shows it all)."""
TABS = {
    "all": ("Spool", None),
    "waiting": ("Waiting to deliver", (QueueState.DEFERRED, QueueState.HELD)),
}
ACTION_WORDS = {
    QueueAction.RETRY: ("Force", "forced (due now)"),
    QueueAction.RESET: ("Reset retries", "due now with attempts reset"),
    QueueAction.HOLD: ("Hold", "held"),
    QueueAction.RELEASE: ("Release", "released (due now)"),
    QueueAction.DELETE: ("Delete", "deleted"),
    QueueAction.BOUNCE: ("Bounce", "bounced to their senders"),
}
CONFIRM_ALWAYS = (QueueAction.DELETE, QueueAction.BOUNCE)


@dataclass(frozen=True, slots=True)
class Filters:
    tab: str
    sender: str
    domain: str

    def query(self, **extra: str | int) -> str:
        values: dict[str, str | int] = {"tab": self.tab}
        if self.sender:
            values["sender"] = self.sender
        if self.domain:
            values["domain"] = self.domain
        values.update(extra)
        return "?" + urlencode(values)

    def store_filter(self, upto_id: int | None = None) -> QueueFilter:
        return QueueFilter(TABS[self.tab][1], self.sender, self.domain, upto_id)

    def describe(self) -> str:
        parts = [f"tab “{TABS[self.tab][0]}”"]
        if self.sender:
            parts.append(f"sender containing “{self.sender}”")
        if self.domain:
            parts.append(f"a recipient at “{self.domain}”")
        return ", ".join(parts)


def read_filters(get: Form | dict[str, str]) -> Filters:
    tab = get.get("tab") or "all"
    if tab not in TABS:
        raise PageError(400, f"Unknown tab {tab[:40]!r}: choose “all” or “waiting”.")
    sender = (get.get("sender") or "").strip()
    domain = (get.get("domain") or "").strip().lower()
    if len(sender) > MAX_SENDER_FILTER_CHARS:
        raise PageError(
            400, f"The sender filter is longer than {MAX_SENDER_FILTER_CHARS} characters."
        )
    if len(domain) > MAX_DOMAIN_FILTER_CHARS or "@" in domain or " " in domain:
        raise PageError(400, "The domain filter must be a domain name, like example.org.")
    return Filters(tab, sender, domain)


def entry_id(text: str, name: str) -> int | None:
    if not text:
        return None
    if not text.isdigit() or len(text) > 18 or int(text) < 1:
        raise PageError(400, f"'{name}' must be a queue entry number.")
    return int(text)


@dataclass(frozen=True, slots=True)
class Headers:
    from_: str
    subject: str


def summary_headers(head: bytes) -> Headers:
    """The From and Subject of a message's header (RFC 2047 words decoded), as text."""
    end = head.find(b"\r\n\r\n")
    if end < 0:
        end = head.find(b"\n\n")
    # UTF-8 headers (RFC 6532) read as such; any other 8-bit byte becomes U+FFFD.
    text = head[: end if end >= 0 else None].decode("utf-8", "replace")
    message = HeaderParser(policy=compat32).parsestr(text)
    return Headers(_decoded(message.get("From")), _decoded(message.get("Subject")))


def _decoded(value: object) -> str:
    if value is None:
        return ""
    text = str(value)
    with contextlib.suppress(Exception):  # a malformed encoded word is shown as it came
        text = str(make_header(decode_header(text)))
    return " ".join(text.split())


def _cut(text: str, most: int = MAX_HEADER_CHARS) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


@dataclass(frozen=True, slots=True)
class RecipientRow:
    address: str
    state: str
    attempts: int
    last_reply: str
    last_attempt: str


@dataclass(frozen=True, slots=True)
class EntryRow:
    id: int
    sender: str
    from_: str
    subject: str
    age: str
    received: str
    attempts: int
    next_attempt: str
    delivered: int
    total: int
    recipients: list[RecipientRow]
    state: str
    size: str
    source: str


def entry_row(entry: QueueEntry, headers: Headers, now: datetime) -> EntryRow:
    if entry.state is QueueState.HELD:
        next_attempt = "held"
    elif entry.next_attempt_at <= now:
        next_attempt = "due now"
    else:
        wait = duration((entry.next_attempt_at - now).total_seconds())
        next_attempt = f"in {wait} ({clock_time(entry.next_attempt_at)})"
    recipients = [
        RecipientRow(
            r.address,
            r.state.value,
            r.attempts,
            r.last_reply or "no answer yet",
            clock_time(r.last_attempt_at),
        )
        for r in entry.recipients
    ]
    return EntryRow(
        id=entry.id,
        sender=entry.sender or "<> (null sender)",
        from_=_cut(headers.from_),
        subject=_cut(headers.subject),
        age=duration((now - entry.received_at).total_seconds()),
        received=clock_time(entry.received_at),
        attempts=entry.attempts,
        next_attempt=next_attempt,
        delivered=sum(r.state is RecipientState.DELIVERED for r in entry.recipients),
        total=len(entry.recipients),
        recipients=recipients,
        state=entry.state.value,
        size=human_bytes(entry.size),
        source=entry.source,
    )


def spool_routes(console: Console) -> list[BaseRoute]:
    web = console.web
    store = web.store
    settings = console.settings

    async def head_of(blob_hash: str) -> Headers:
        try:
            chunks = store.blobs.chunks(blob_hash)
            try:
                first = await anext(chunks, b"")
            finally:
                await chunks.aclose()  # type: ignore[attr-defined]
        except NotFound:
            return Headers("(message missing)", "(message missing)")
        return summary_headers(first)

    async def rows_of(entries: Sequence[QueueEntry]) -> list[EntryRow]:
        heads = await asyncio.gather(*(head_of(e.blob_hash) for e in entries))
        now = store.clock.now()
        return [entry_row(e, h, now) for e, h in zip(entries, heads, strict=True)]

    async def listing(
        page: AdminRequest,
        filters: Filters,
        *,
        after: int | None = None,
        before: int | None = None,
        message: str = "",
        notice: str = "",
        status: int = 200,
    ) -> Response:
        found: QueuePage | None = None
        rows: list[EntryRow] = []
        if not message:
            found = await store.read(
                list_page,
                filters.store_filter(),
                limit=settings.spool_page_size,
                after_id=after,
                before_id=before,
            )
            rows = await rows_of(found.entries)
        counts = await store.read(store.queue.count)
        waiting = counts[QueueState.DEFERRED] + counts[QueueState.HELD]
        return console.render(
            page.request,
            "spool.html",
            {
                "filters": filters,
                "tabs": [
                    ("all", "Spool", sum(counts.values())),
                    ("waiting", "Waiting to deliver", waiting),
                ],
                "rows": rows,
                "total": found.total if found else 0,
                "last_id": found.last_id if found and found.last_id is not None else "",
                "newer": filters.query(after=rows[-1].id) if found and found.has_after else "",
                "older": filters.query(before=rows[0].id) if found and found.has_before else "",
                "first": filters.query() if after or before else "",
                "actions": [(a.value, ACTION_WORDS[a][0]) for a in QueueAction],
                "message": message,
                "notice": notice,
            },
            session=page.session,
            status=status,
        )

    async def show(page: AdminRequest) -> Response:
        query = page.request.query_params
        try:
            filters = read_filters(dict(query))
        except PageError as exc:
            return await listing(
                page, Filters("all", "", ""), message=exc.message, status=exc.status
            )
        try:
            after = entry_id(query.get("after", ""), "after")
            before = entry_id(query.get("before", ""), "before")
        except PageError as exc:
            return await listing(page, filters, message=exc.message, status=exc.status)
        return await listing(page, filters, after=after, before=before)

    async def view(page: AdminRequest) -> Response:
        number = entry_id(page.request.path_params["id"], "id")
        assert number is not None
        try:
            entry = await store.read(store.queue.entry, number)
        except NotFound:
            raise PageError(
                404, f"There is no queue entry {number} (delivered, bounced or deleted)."
            ) from None
        most = settings.spool_view_max_bytes
        source = b""
        try:
            chunks = store.blobs.chunks(entry.blob_hash)
            try:
                async for chunk in chunks:
                    source += chunk
                    if len(source) >= most:
                        break
            finally:
                await chunks.aclose()  # type: ignore[attr-defined]
            missing = False
        except NotFound:
            missing = True
        cut = entry.size > most and not missing
        text = source[:most].decode("utf-8", "replace")
        head, _, _ = text.replace("\r\n", "\n").partition("\n\n")
        header_lines = _header_fields(head)
        return console.render(
            page.request,
            "spool_message.html",
            {
                "entry": entry_row(entry, summary_headers(source[:most]), store.clock.now()),
                "envid": entry.envid or "",
                "headers": header_lines,
                "source_text": text,
                "cut": cut,
                "most": human_bytes(most),
                "missing": missing,
                "actions": [(a.value, ACTION_WORDS[a][0]) for a in QueueAction],
            },
            session=page.session,
        )

    async def act(page: AdminRequest) -> Response:
        form = page.form
        filters = read_filters(form)
        try:
            action = QueueAction(form.get("action"))
        except ValueError:
            names = ", ".join(words[0] for words in ACTION_WORDS.values())
            return await listing(
                page,
                filters,
                message=f"Choose an action ({names}); nothing was changed.",
                status=400,
            )
        scope = form.get("scope") or "selected"
        confirmed = form.get("confirm") == "yes"
        label, done_words = ACTION_WORDS[action]
        if scope == "all":
            upto = entry_id(form.get("upto"), "upto")
            if upto is None:
                return await listing(
                    page, filters, message="The list is empty: nothing was changed.", status=400
                )
            where = filters.store_filter(upto)
            if not confirmed:
                found = await store.read(list_page, where, limit=1)
                return confirm(page, action, filters, count=found.total, upto=upto, ids=[])
            result = await web.queue.apply_matching(page.actor, action, where)
        elif scope == "selected":
            ids = [entry_id(text, "id") for text in form.all("id")]
            chosen = [i for i in ids if i is not None]
            if not chosen:
                return await listing(
                    page,
                    filters,
                    message="Tick at least one entry first (or choose an action on all "
                    "matching entries). Nothing was changed.",
                    status=400,
                )
            if action in CONFIRM_ALWAYS and not confirmed:
                return confirm(page, action, filters, count=len(chosen), upto=None, ids=chosen)
            result = await web.queue.apply_many(page.actor, action, chosen)
        else:
            raise PageError(400, "The form names neither the ticked entries nor all matching.")
        return await listing(page, filters, notice=_outcome(label, done_words, result))

    def confirm(
        page: AdminRequest,
        action: QueueAction,
        filters: Filters,
        *,
        count: int,
        upto: int | None,
        ids: list[int],
    ) -> Response:
        label, done_words = ACTION_WORDS[action]
        return console.render(
            page.request,
            "spool_confirm.html",
            {
                "action": action.value,
                "label": label,
                "effect": done_words,
                "count": count,
                "upto": upto or "",
                "ids": ids,
                "filters": filters,
                "described": filters.describe(),
            },
            session=page.session,
        )

    return [
        Route("/admin/spool", console.page(show), methods=["GET"]),
        Route("/admin/spool/action", console.page(act), methods=["POST"]),
        Route("/admin/spool/{id}", console.page(view), methods=["GET"]),
    ]


def _outcome(label: str, done_words: str, result: BulkResult) -> str:
    noun = "entry" if result.done == 1 else "entries"
    text = f"{label}: {result.done:,} {noun} {done_words}."
    if result.gone:
        text += f" {result.gone:,} had already left the queue."
    return text


def _header_fields(head: str) -> list[tuple[str, str]]:
    """The header's fields as (name, value), folded lines joined, in their order."""
    fields: list[tuple[str, str]] = []
    for line in head.split("\n"):
        if line[:1] in (" ", "\t") and fields:
            name, value = fields[-1]
            fields[-1] = (name, value + "\n" + line)
        elif ":" in line:
            name, _, value = line.partition(":")
            fields.append((name, value.strip()))
        elif line:
            fields.append(("", line))
    return fields
