"""A message's search document: exactly the texts IMAP SEARCH scans.

- header and body: `roost.proto.mime.searchtext`, the one definition of
  what SEARCH TEXT and BODY look in (RFC 9051 §6.4.4);
- SUBJECT, FROM, TO, CC, BCC: every field of that name in the top-level
  header, by `roost.proto.mime.searchtext.header_field_values`, which the
  IMAP scan uses too.

- attachments: names and text (`attachments.py`), for web search only.

The message is read in chunks, and reading stops once the searchable text
and the attachments small enough to read are complete, so a 100 MB
attachment at the end is never read. The MIME
structure is the one kept with the blob at delivery, moved behind the
message's trace fields as IMAP serves it (`services/imap/messages.py`,
`with_trace`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging

from roost.proto.mime import MessageStructure, MimeParser
from roost.proto.mime.searchtext import (
    SEARCHED_FIELDS,
    SearchTextExtractor,
    header_field_values,
)
from roost.services.indexing.attachments import AttachmentCollector, AttachmentLimits
from roost.store.search import PendingMessage, SearchDocument
from roost.store.store import Store

log = logging.getLogger(__name__)


def header_fields(header: bytes) -> dict[str, list[str]]:
    """The decoded values of the searched fields, by lowercase name."""
    return header_field_values(header, SEARCHED_FIELDS)


def build_document(
    header: bytes, extractor: SearchTextExtractor, attachments: str = ""
) -> SearchDocument:
    """The document from the header block, an extractor fed the message,
    and the attachments' text."""
    text = extractor.close()
    fields = header_fields(header)

    def joined(name: str) -> str:
        return "\n".join(fields.get(name, ()))

    return SearchDocument(
        header=text.header,
        body=text.body,
        subject=joined("subject"),
        from_field=joined("from"),
        to_field=joined("to"),
        cc_field=joined("cc"),
        bcc_field=joined("bcc"),
        attachments=attachments,
    )


def _with_trace(structure: MessageStructure, trace_octets: int) -> MessageStructure:
    if not trace_octets:
        return structure
    parts = tuple(
        dataclasses.replace(
            part,
            header_start=0 if part.index == 0 else part.header_start + trace_octets,
            header_end=part.header_end + trace_octets,
            body_start=part.body_start + trace_octets,
            body_end=part.body_end + trace_octets,
        )
        for part in structure.parts
    )
    return dataclasses.replace(structure, parts=parts, size=structure.size + trace_octets)


async def message_structure(store: Store, message: PendingMessage) -> MessageStructure:
    raw = message.structure
    if raw is None:
        raw = await store.read(store.blobs.structure, message.blob_hash)
    if raw is not None:
        return _with_trace(MessageStructure.from_json(raw), len(message.trace))
    parser = MimeParser()  # streamed: a message is never held whole
    with store.blobs.pin(message.blob_hash):
        async for chunk in store.blobs.chunks(message.blob_hash):
            parser.feed(chunk)
    structure = parser.close()
    await store.write(store.blobs.set_structure, message.blob_hash, structure.to_json())
    return _with_trace(structure, len(message.trace))


async def read_document(
    store: Store, message: PendingMessage, limits: AttachmentLimits | None = None
) -> SearchDocument:
    """Read a stored message as far as its searchable text (and, with
    `limits`, its attachments' text) reaches."""
    structure = await message_structure(store, message)
    header_end = structure.root.header_end
    extractor = SearchTextExtractor(structure)
    collector = AttachmentCollector(structure, limits) if limits is not None else None
    header = bytearray()
    pos = 0

    def feed(chunk: bytes) -> None:
        nonlocal pos
        if pos < header_end:
            header.extend(chunk[: header_end - pos])
        extractor.feed(chunk)
        if collector is not None:
            collector.feed(chunk)
        pos += len(chunk)

    def done() -> bool:
        return extractor.done and pos >= header_end and (collector is None or collector.done)

    if message.trace:
        feed(message.trace)
    if not done():
        with store.blobs.pin(message.blob_hash):
            async for chunk in store.blobs.chunks(message.blob_hash):
                feed(chunk)
                if done():
                    break
    attachments = ""
    if collector is not None:
        found = collector.close()
        if any(data is not None for _, data in found.parts):
            # PDF and archive text is CPU work: off the event loop.
            attachments, problems = await asyncio.to_thread(found.extract)
        else:
            attachments, problems = found.extract()  # names alone
        for problem in problems:
            log.info("indexing: message %d: attachment not read: %s", message.id, problem)
    return build_document(bytes(header), extractor, attachments)
