"""Test help for IMAP response data built by the core."""

from __future__ import annotations

from roost.proto.imap.values import ImapData, Juxtaposed


def plain(value: ImapData) -> ImapData:
    """`value` with every `Juxtaposed` spliced into its list, so tests can
    index bodies and addresses as plain tuples."""
    if isinstance(value, tuple):
        out: list[ImapData] = []
        for item in value:
            if isinstance(item, Juxtaposed):
                out.extend(plain(i) for i in item.items)
            else:
                out.append(plain(item))
        return tuple(out)
    return value
