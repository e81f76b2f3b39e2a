"""The message archive: XEP-0313 MAM (``urn:xmpp:mam:2``) with XEP-0359
stanza ids and XEP-0059 result paging.

The router hands every chat or normal message with content to `record`
once it has passed the blocking checks: the sender's archive keeps it as
sent, the recipient's (when the recipient is an account here) as
received. The recipient's copy carries ``<stanza-id by='bare JID'/>``
(XEP-0359 §3), and so does the message delivered, so that a client can
later page from it; a ``stanza-id`` claiming to be by the sender or the
recipient is removed first (§3.1: clients cannot forge them).

Queries (§4) go to the account's own bare JID: the form fields ``with``,
``start``, ``end``, ``after-id`` and ``before-id``, and RSM ``max``,
``after`` and ``before`` (empty: the last page). Each hit is a
``<message><result><forwarded>`` to the asking resource, then the IQ
result with ``<fin>`` (§4.3). Messages are kept ``archive_days``; a
pruner removes older ones every `PRUNE_INTERVAL_S`.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from datetime import UTC, datetime, timedelta

from roost.core.config import XmppServiceSettings
from roost.core.errors import RoostError
from roost.proto.xmpp import (
    Element,
    Jid,
    JidMalformed,
    StanzaErrorCondition,
    error_reply,
    iq_result,
)
from roost.services.xmpp.archive_batches import ArchiveBatches
from roost.services.xmpp.iq import Request
from roost.services.xmpp.roster import from_text, to_text
from roost.store.store import Store
from roost.store.xmpp import ArchiveEntry, ArchivePage, ArchiveQuery

log = logging.getLogger(__name__)

MAM = "urn:xmpp:mam:2"
SID = "urn:xmpp:sid:0"
RSM = "http://jabber.org/protocol/rsm"
DATA_FORMS = "jabber:x:data"
FORWARD = "urn:xmpp:forward:0"
DELAY = "urn:xmpp:delay"
CLIENT = "jabber:client"
FEATURES = (MAM, SID)
"""What an account's disco#info adds while the archive is on."""

PRUNE_INTERVAL_S = 3600.0
FIELDS = ("with", "start", "end", "after-id", "before-id")
_STANZA_ID_BYTES = 12


class QueryError(RoostError):
    def __init__(self, condition: StanzaErrorCondition, text: str) -> None:
        super().__init__(text)
        self.condition = condition


def stamp(at: datetime) -> str:
    """XEP-0082 DateTime in UTC."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Archive:
    def __init__(self, store: Store, config: XmppServiceSettings, counters: dict[str, int]) -> None:
        self._store = store
        self._config = config
        self._counters = counters
        self._batches = ArchiveBatches(store, config.archive_batch_max, counters)

    @property
    def enabled(self) -> bool:
        return self._config.archive_days > 0

    # --- recording

    async def record(self, sender: Jid, to: Jid, stanza: Element, recipient_local: bool) -> Element:
        """Archive a message both ways; the stanza to deliver (with the
        recipient's stanza id when the recipient has an archive here)."""
        if not self.enabled:
            return stanza
        ours = {str(sender.bare), str(to.bare)}
        stanza = stanza.with_children(
            child
            for child in stanza.children
            if not (
                isinstance(child, Element)
                and child.matches("stanza-id", SID)
                and child.get("by") in ours
            )
        )
        at = self._store.clock.now()
        text = to_text(stanza)
        entries = [ArchiveEntry(str(sender.bare), _new_id(), str(to.bare), at, text)]
        if recipient_local:
            stanza_id = _new_id()
            marker = Element.of("stanza-id", SID, {"by": str(to.bare), "id": stanza_id})
            stanza = stanza.with_children([*stanza.children, marker])
            text = _with_last_child(text, marker) if stanza.children[:-1] else to_text(stanza)
            entries.append(ArchiveEntry(str(to.bare), stanza_id, str(sender.bare), at, text))
        await self._batches.add(entries)
        self._counters["archived"] = self._counters.get("archived", 0) + 1
        return stanza

    async def flush(self) -> None:
        """Wait until every message recorded so far is in the store."""
        await self._batches.flush()

    async def prune(self) -> int:
        cutoff = self._store.clock.now() - timedelta(days=self._config.archive_days)
        return await self._store.write(self._store.xmpp.prune_archive, cutoff)

    async def prune_forever(self) -> None:
        """The pruner: every `PRUNE_INTERVAL_S` while the service runs."""
        while True:
            if self.enabled:
                try:
                    removed = await self.prune()
                except (RoostError, OSError) as exc:
                    log.error("cannot prune the XMPP archive: %s", exc)
                else:
                    if removed:
                        log.info("removed %d archived XMPP messages past retention", removed)
            await asyncio.sleep(PRUNE_INTERVAL_S)

    # --- queries (XEP-0313 §4)

    async def form(self, request: Request) -> Element:
        """§4.1.1: the fields a query may use."""
        if not request.own:
            return error_reply(request.iq.stanza, StanzaErrorCondition.FORBIDDEN)
        fields = [_field("FORM_TYPE", MAM, "hidden")]
        fields += [
            Element.of("field", DATA_FORMS, {"var": var, "type": _FIELD_TYPES[var]})
            for var in FIELDS
        ]
        form = Element.of("x", DATA_FORMS, {"type": "form"}, fields)
        return iq_result(request.iq.stanza, Element.of("query", MAM, (), [form]))

    async def query(self, request: Request) -> Element:
        payload = request.iq.payload
        assert payload is not None
        if not request.own:
            return error_reply(request.iq.stanza, StanzaErrorCondition.FORBIDDEN)
        try:
            asked = self._parse(payload)
        except QueryError as exc:
            return error_reply(request.iq.stanza, exc.condition, text=str(exc))
        await self._batches.flush()
        page = await self._store.read(
            self._store.xmpp.archive_page, str(request.sender.bare), asked
        )
        if page is None:
            return error_reply(
                request.iq.stanza,
                StanzaErrorCondition.ITEM_NOT_FOUND,
                text="no archived message has that id",
            )
        session = request.session
        query_id = payload.get("queryid")
        owner = str(request.sender.bare)
        if session is not None:
            for message in page.messages:
                stored = from_text(message.stanza)
                if stored is None:
                    continue
                forwarded = Element.of(
                    "forwarded",
                    FORWARD,
                    (),
                    [Element.of("delay", DELAY, {"stamp": stamp(message.at)}), stored],
                )
                result = Element.of(
                    "result", MAM, {"queryid": query_id, "id": message.stanza_id}, [forwarded]
                )
                attributes = {"from": owner, "to": str(request.sender), "id": _new_id()}
                session.reply(Element.of("message", CLIENT, attributes, [result]))
        return iq_result(request.iq.stanza, _fin(page))

    def _parse(self, payload: Element) -> ArchiveQuery:
        values: dict[str, str] = {}
        form = payload.find("x", DATA_FORMS)
        if form is not None:
            for field in form.elements():
                if not field.matches("field", DATA_FORMS):
                    continue
                var = field.get("var") or ""
                value = field.find("value", DATA_FORMS)
                text = "" if value is None else value.text.strip()
                if var == "FORM_TYPE":
                    if text != MAM:
                        raise QueryError(StanzaErrorCondition.BAD_REQUEST, f"not a {MAM} form")
                    continue
                if var not in FIELDS:
                    raise QueryError(
                        StanzaErrorCondition.BAD_REQUEST, f"the field {var!r} is not supported"
                    )
                if text:
                    values[var] = text
        limit = self._config.archive_page_max
        after, before, last = values.get("after-id"), values.get("before-id"), False
        paging = payload.find("set", RSM)
        if paging is not None:
            max_element = paging.find("max", RSM)
            if max_element is not None:
                try:
                    limit = min(int(max_element.text.strip()), limit)
                except ValueError:
                    raise QueryError(
                        StanzaErrorCondition.BAD_REQUEST, "<max> is not a number"
                    ) from None
                if limit < 0:
                    raise QueryError(StanzaErrorCondition.BAD_REQUEST, "<max> is negative")
            after_element = paging.find("after", RSM)
            if after_element is not None:
                after = after_element.text.strip() or None
            before_element = paging.find("before", RSM)
            if before_element is not None:
                before = before_element.text.strip() or None
                last = before is None
        with_jid = None
        if "with" in values:
            try:
                with_jid = str(Jid.parse(values["with"]).bare)
            except JidMalformed:
                raise QueryError(
                    StanzaErrorCondition.JID_MALFORMED, "'with' is not a JID"
                ) from None
        return ArchiveQuery(
            limit=limit,
            with_jid=with_jid,
            start=_datetime(values.get("start"), "start"),
            end=_datetime(values.get("end"), "end"),
            after=after,
            before=before,
            last=last,
        )


_FIELD_TYPES = {
    "with": "jid-single",
    "start": "text-single",
    "end": "text-single",
    "after-id": "text-single",
    "before-id": "text-single",
}


def _field(var: str, value: str, kind: str) -> Element:
    return Element.of(
        "field",
        DATA_FORMS,
        {"var": var, "type": kind},
        [Element.of("value", DATA_FORMS, (), [value])],
    )


def _datetime(text: str | None, name: str) -> datetime | None:
    """An XEP-0082 DateTime (with its zone: ``Z`` or an offset)."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise QueryError(
            StanzaErrorCondition.BAD_REQUEST, f"{name!r} is not an XEP-0082 date and time"
        ) from None
    if value.tzinfo is None:
        raise QueryError(StanzaErrorCondition.BAD_REQUEST, f"{name!r} has no time zone")
    return value


def _fin(page: ArchivePage) -> Element:
    """§4.3.3: the end of the results, with the RSM set of the page."""
    paging: list[Element] = []
    if page.messages:
        index = str(page.first_index or 0)
        paging.append(Element.of("first", RSM, {"index": index}, [page.messages[0].stanza_id]))
        paging.append(Element.of("last", RSM, (), [page.messages[-1].stanza_id]))
    paging.append(Element.of("count", RSM, (), [str(page.count)]))
    attributes = {"complete": "true" if page.complete else None}
    return Element.of("fin", MAM, attributes, [Element.of("set", RSM, (), paging)])


def _new_id() -> str:
    return secrets.token_urlsafe(_STANZA_ID_BYTES)


def _with_last_child(text: str, child: Element) -> str:
    """The text of an element that has children, *text*, with *child* added
    last: as writing the whole element again would give, at a fraction of
    the cost (every chat message is archived twice, once with its id)."""
    head, end_tag, tail = text.rpartition("</")
    return f"{head}{to_text(child)}{end_tag}{tail}"
