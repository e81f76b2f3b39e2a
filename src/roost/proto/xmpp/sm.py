"""XEP-0198 stream management: the counters and the unacknowledged queue.

Sans-I/O bookkeeping that `XmppServerConnection` drives. Once the client
has sent ``<enable/>`` and the service agreed (§3):

- every stanza the client sends counts in ``inbound`` (its ``h``, §4),
  whether the service or the core handled it;
- every stanza the server sends waits in ``unacked`` until the client's
  ``<a h='…'/>`` acknowledges it; the core asks with ``<r/>`` whenever
  stanzas wait and no request is outstanding;
- on a lost connection the service takes a `SmSnapshot`, keeps the
  session parked, and a new stream that sends ``<resume/>`` (§5) with the
  same id continues from it: the client's ``h`` drops what it had, the
  rest is sent again.

Counters are unsigned 32-bit and wrap (§4: "h … MUST be reset to zero
after 2^32-1").
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from roost.proto.xmpp import namespaces as ns
from roost.proto.xmpp.element import Element

SM = "urn:xmpp:sm:3"
"""The XEP-0198 namespace (version 3, the one clients speak)."""

H_MODULO = 2**32


@dataclass(frozen=True, slots=True)
class SmSnapshot:
    """A stream-managed session as it stood when its connection went away."""

    id: str
    inbound: int
    """Stanzas the server handled from the client: the ``h`` of ``<resumed/>``."""
    acked: int
    """The client's last ``h``: stanzas of ours it said it handled."""
    unacked: tuple[Element, ...]
    """Stanzas sent after ``acked``, oldest first."""

    def outstanding(self, h: int) -> tuple[Element, ...] | None:
        """What the client still lacks if it says it handled ``h``; None if
        ``h`` counts stanzas never sent (§4 "handled-count-too-high")."""
        done = (h - self.acked) % H_MODULO
        if done > len(self.unacked):
            return None
        return self.unacked[done:]


class StreamManagement:
    """Counters and the unacknowledged queue of one stream (see module doc)."""

    __slots__ = ("acked", "enabled", "id", "inbound", "max_unacked", "requested", "unacked")

    def __init__(self, max_unacked: int) -> None:
        self.max_unacked = max_unacked
        self.enabled = False
        self.id: str | None = None
        """The resumption id, when the session may be resumed."""
        self.inbound = 0
        self.acked = 0
        self.unacked: deque[Element] = deque()
        self.requested = False

    def enable(self, resume_id: str | None) -> None:
        self.enabled, self.id = True, resume_id

    def resume(self, snapshot: SmSnapshot, h: int) -> tuple[Element, ...] | None:
        """Continue from ``snapshot`` (a new stream, same session); the
        stanzas to send again, or None if ``h`` is too high."""
        outstanding = snapshot.outstanding(h)
        if outstanding is None:
            return None
        self.enabled, self.id = True, snapshot.id
        self.inbound, self.acked = snapshot.inbound, h % H_MODULO
        self.unacked.clear()
        self.requested = False
        return outstanding

    def received(self) -> None:
        """One more stanza from the client was handled."""
        if self.enabled:
            self.inbound = (self.inbound + 1) % H_MODULO

    def sent(self, stanza: Element) -> bool:
        """One more stanza to the client; False once more than
        ``max_unacked`` wait (the client does not acknowledge)."""
        if not self.enabled:
            return True
        self.unacked.append(stanza)
        return len(self.unacked) <= self.max_unacked

    def ack(self, h: int) -> bool:
        """The client handled ``h`` stanzas in all; False if it claims more
        than were sent."""
        done = (h - self.acked) % H_MODULO
        if done > len(self.unacked):
            return False
        for _ in range(done):
            self.unacked.popleft()
        self.acked = h % H_MODULO
        self.requested = False
        return True

    def request_due(self) -> bool:
        """Should ``<r/>`` go out now? Once per outstanding batch."""
        if self.enabled and self.unacked and not self.requested:
            self.requested = True
            return True
        return False

    def snapshot(self) -> SmSnapshot | None:
        """The state to resume from, if the session may be resumed."""
        if not self.enabled or self.id is None:
            return None
        return SmSnapshot(self.id, self.inbound, self.acked, tuple(self.unacked))


def parse_h(value: str | None) -> int | None:
    """An ``h`` attribute: an unsigned 32-bit integer (§4), else None."""
    if value is None or not value.isascii() or not value.isdigit() or len(value) > 10:
        return None
    h = int(value)
    return h if h < H_MODULO else None


def answer(h: int) -> Element:
    return Element.of("a", SM, {"h": str(h)})


def request() -> Element:
    return Element("r", SM)


def enabled(resume_id: str | None, max_s: int | None) -> Element:
    attributes: dict[str, str | None] = {}
    if resume_id is not None:
        attributes = {"id": resume_id, "resume": "true"}
        if max_s is not None:
            attributes["max"] = str(max_s)
    return Element.of("enabled", SM, attributes)


def resumed(previd: str, h: int) -> Element:
    return Element.of("resumed", SM, {"previd": previd, "h": str(h)})


def failed(condition: str, h: int | None = None, *, extra: Element | None = None) -> Element:
    """``<failed/>`` with a stanza error condition (§3, §5)."""
    children = [Element(condition, ns.STANZAS)]
    if extra is not None:
        children.append(extra)
    attributes: dict[str, str | None] = {} if h is None else {"h": str(h)}
    return Element.of("failed", SM, attributes, children)
