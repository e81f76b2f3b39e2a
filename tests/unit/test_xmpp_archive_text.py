"""The archive writes the recipient's copy of a message by adding the
stanza-id to the sender's copy's text: the same text as writing the whole
stanza again would give."""

from __future__ import annotations

import pytest

from roost.proto.xmpp import Element
from roost.services.xmpp.archive import SID, _with_last_child
from roost.services.xmpp.roster import to_text

CLIENT = "jabber:client"


@pytest.mark.parametrize(
    "stanza",
    [
        Element.of(
            "message",
            CLIENT,
            {"to": "b@example.org", "type": "chat"},
            [
                Element.of("body", CLIENT, (), ["hello </message> & <b>"]),
            ],
        ),
        Element.of(
            "message",
            CLIENT,
            {"{http://www.w3.org/XML/1998/namespace}lang": "en"},
            [
                Element.of("body", CLIENT, (), ["x"]),
                Element.of("active", "http://jabber.org/protocol/chatstates"),
                Element.of("x", "jabber:x:oob", (), [Element.of("url", "jabber:x:oob", (), ["u"])]),
            ],
        ),
        Element.of(
            "message",
            CLIENT,
            {"{urn:example:q}flag": "1"},
            [
                Element.of("body", CLIENT, (), ["'quoted'"]),
            ],
        ),
    ],
)
def test_the_id_added_to_the_text_equals_the_whole_stanza_written(stanza: Element) -> None:
    marker = Element.of("stanza-id", SID, {"by": "b@example.org", "id": "x<y"})
    whole = to_text(stanza.with_children([*stanza.children, marker]))
    assert _with_last_child(to_text(stanza), marker) == whole
