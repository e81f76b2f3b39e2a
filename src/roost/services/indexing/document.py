"""A message's search document: exactly the texts IMAP SEARCH scans.

- header and body: `roost.proto.mime.searchtext`, the one definition of
  what SEARCH TEXT and BODY look in (RFC 9051 §6.4.4);
- SUBJECT, FROM, TO, CC, BCC: every field of that name in the top-level
  header, unfolded and with RFC 2047 words decoded by `decode_header`, as
  the IMAP scan reads them (`services/imap/search.py`, `_prepare`).

The message is read in chunks, and reading stops once the searchable text
is complete, so a 100 MB attachment at the end is never read. The MIME
structure is the one kept with the blob at delivery, moved behind the
message's trace fields as IMAP serves it (`services/imap/messages.py`,
`with_trace`).
"""

from __future__ import annotations

import dataclasses

from roost.proto.mime import MessageStructure, MimeParser, decode_header
from roost.proto.mime.headers import split_fields
from roost.proto.mime.searchtext import SearchTextExtractor
from roost.store.search import PendingMessage, SearchDocument
from roost.store.store import Store

_FIELDS = ("subject", "from", "to", "cc", "bcc")


def header_fields(header: bytes) -> dict[str, list[str]]:
    """The decoded values of the searched fields, by lowercase name."""
    fields: dict[str, list[str]] = {}
    for name, value in split_fields(header.splitlines(True)):
        if name in _FIELDS:
            fields.setdefault(name, []).append(decode_header(value))
    return fields


def build_document(header: bytes, extractor: SearchTextExtractor) -> SearchDocument:
    """The document from the header block and a closed-over extractor."""
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


async def read_document(store: Store, message: PendingMessage) -> SearchDocument:
    """Read a stored message as far as its searchable text reaches."""
    structure = await message_structure(store, message)
    header_end = structure.root.header_end
    extractor = SearchTextExtractor(structure)
    header = bytearray()
    pos = 0

    def feed(chunk: bytes) -> None:
        nonlocal pos
        if pos < header_end:
            header.extend(chunk[: header_end - pos])
        extractor.feed(chunk)
        pos += len(chunk)

    if message.trace:
        feed(message.trace)
    if not (extractor.done and pos >= header_end):
        with store.blobs.pin(message.blob_hash):
            async for chunk in store.blobs.chunks(message.blob_hash):
                feed(chunk)
                if extractor.done and pos >= header_end:
                    break
    return build_document(bytes(header), extractor)
