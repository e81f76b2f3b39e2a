"""MIME structure of messages, parsed as a stream (RFC 2045, 2046, 2047,
2183, 2231, 5322, 6532), sans-I/O.

- `MimeParser` (parser): `feed(bytes)` any number of times, then `close()`
  returns a `MessageStructure`; memory stays bounded by `MimeLimits`.
- `MessageStructure` (model): every part with byte offsets, MIME fields and,
  for messages, the IMAP ENVELOPE data; `to_json` / `from_json` for the store.
- `decode_header`, `parse_parameters`, `parse_content_type`,
  `parse_address_list`: the header decoders, for other modules to reuse.
- `body_decoder` (decoder): streaming base64 / quoted-printable decoding.
"""

from roost.proto.mime.addresses import imap_address_items, parse_address_list
from roost.proto.mime.decoder import (
    Base64Decoder,
    BodyDecoder,
    IdentityDecoder,
    QuotedPrintableDecoder,
    body_decoder,
    decode_body,
)
from roost.proto.mime.encoded_words import decode_header, decode_raw, decode_text
from roost.proto.mime.model import (
    DEFAULT_LIMITS,
    Address,
    AddressField,
    ContentType,
    Defect,
    DefectKind,
    Disposition,
    Envelope,
    Group,
    MessageStructure,
    MimeError,
    MimeLimits,
    Parameter,
    ParserClosedError,
    Part,
    PartKind,
    StructureDecodeError,
)
from roost.proto.mime.params import (
    decode_parameters,
    parse_content_type,
    parse_disposition,
    parse_parameters,
)
from roost.proto.mime.parser import MimeParser, parse_bytes

__all__ = [
    "DEFAULT_LIMITS",
    "Address",
    "AddressField",
    "Base64Decoder",
    "BodyDecoder",
    "ContentType",
    "Defect",
    "DefectKind",
    "Disposition",
    "Envelope",
    "Group",
    "IdentityDecoder",
    "MessageStructure",
    "MimeError",
    "MimeLimits",
    "MimeParser",
    "Parameter",
    "ParserClosedError",
    "Part",
    "PartKind",
    "QuotedPrintableDecoder",
    "StructureDecodeError",
    "body_decoder",
    "decode_body",
    "decode_header",
    "decode_parameters",
    "decode_raw",
    "decode_text",
    "imap_address_items",
    "parse_address_list",
    "parse_bytes",
    "parse_content_type",
    "parse_disposition",
    "parse_parameters",
]
