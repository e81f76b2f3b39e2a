"""XEP-0115 entity capabilities: what each client can do, learned once per
verification string.

A client's available presence carries ``<c hash node ver/>``. The server
looks the ``(hash, ver)`` pair up in its cache (bounded by ``[xmpp]
caps_cache_entries``, least recently used first out); on a miss it asks the
client with disco#info to ``node#ver`` (§6.2), recomputes the verification
string from the answer (§5.1, §5.4) and caches the features only when they
match, so one client cannot poison what others with the same ``ver`` are
believed to do. A ``<c/>`` without ``hash`` (the legacy format, §8.4) is
trusted for that session alone and never cached.

The features a session is known for decide where PEP notifications go
(XEP-0163 §4: ``node+notify``). `verification_string` also computes the
server's own ``ver``, announced in the stream features (§6.3).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from roost.proto.xmpp import Element, Jid
from roost.services.xmpp.sessions import Outlet

log = logging.getLogger(__name__)

CAPS = "http://jabber.org/protocol/caps"
DISCO_INFO = "http://jabber.org/protocol/disco#info"
DATA_FORMS = "jabber:x:data"
CLIENT = "jabber:client"
HASHES = {"sha-1": "sha1", "sha-224": "sha224", "sha-256": "sha256", "sha-384": "sha384"}
"""IANA hash names (§5.1) to hashlib's; others cannot be verified."""
MAX_PENDING = 1000
"""Questions in flight at once; beyond it a client's caps stay unknown."""

_query_ids = itertools.count(1)


def verification_string(query: Element) -> str:
    """The string to hash (XEP-0115 §5.1) from a disco#info ``<query/>``."""
    identities = sorted(
        (
            e.get("category") or "",
            e.get("type") or "",
            e.get("{http://www.w3.org/XML/1998/namespace}lang") or e.get("xml:lang") or "",
            e.get("name") or "",
        )
        for e in query.elements()
        if e.matches("identity", DISCO_INFO)
    )
    out = ["/".join(identity) + "<" for identity in identities]
    features = sorted(
        e.get("var") or "" for e in query.elements() if e.matches("feature", DISCO_INFO)
    )
    out += [f + "<" for f in features]
    forms = []
    for form in query.elements():
        if not form.matches("x", DATA_FORMS):
            continue
        fields: dict[str, list[str]] = {}
        for field in form.elements():
            if field.matches("field", DATA_FORMS) and field.get("var"):
                values = [v.text for v in field.elements() if v.matches("value", DATA_FORMS)]
                fields[field.get("var") or ""] = values
        form_type = fields.pop("FORM_TYPE", [""])
        text = (form_type[0] if form_type else "") + "<"
        for var in sorted(fields):
            text += var + "<" + "".join(v + "<" for v in sorted(fields[var]))
        forms.append(text)
    out += sorted(forms)
    return "".join(out)


def ver_of(query: Element, hash_name: str) -> str | None:
    """The ``ver`` attribute for *query* under *hash_name*, or None if that
    hash is not one the server knows."""
    algorithm = HASHES.get(hash_name.lower())
    if algorithm is None:
        return None
    digest = hashlib.new(algorithm, verification_string(query).encode()).digest()
    return base64.b64encode(digest).decode()


def features_of(query: Element) -> frozenset[str]:
    return frozenset(
        e.get("var") or "" for e in query.elements() if e.matches("feature", DISCO_INFO)
    )


@dataclass(frozen=True, slots=True)
class _Question:
    session: Outlet
    hash_name: str | None
    ver: str


Learned = Callable[[Outlet], Awaitable[None]]


class CapsCache:
    def __init__(self, max_entries: int, counters: dict[str, int]) -> None:
        self._max_entries = max_entries
        self._counters = counters
        self._known: OrderedDict[tuple[str, str], frozenset[str]] = OrderedDict()
        self._asked: dict[str, _Question] = {}
        self.on_learned: Learned | None = None
        """Called once a session's features are known (PEP sends it the
        last items it now wants, XEP-0163 §4.3.2)."""

    def _count(self, name: str) -> None:
        self._counters[name] = self._counters.get(name, 0) + 1

    async def observe(self, session: Outlet, presence: Element, server: str) -> None:
        """Available presence from *session*: know its features now, or ask."""
        c = presence.find("c", CAPS)
        if c is None or session.jid is None:
            return
        node, ver, hash_name = c.get("node") or "", c.get("ver") or "", c.get("hash")
        if not ver:
            return
        if session.chat.caps_ver == ver and session.chat.features is not None:
            return
        session.chat.caps_ver = ver
        if hash_name is not None:
            known = self._known.get((hash_name.lower(), ver))
            if known is not None:
                self._known.move_to_end((hash_name.lower(), ver))
                self._count("caps_cache_hits")
                await self._learned(session, known)
                return
        if len(self._asked) >= MAX_PENDING:
            return
        iq_id = f"roost-caps-{next(_query_ids)}"
        self._asked[iq_id] = _Question(session, hash_name, ver)
        query = Element.of("query", DISCO_INFO, {"node": f"{node}#{ver}"})
        attributes = {"type": "get", "id": iq_id, "from": server, "to": str(session.jid)}
        session.deliver(Element.of("iq", CLIENT, attributes, [query]))
        self._count("caps_queries")

    async def answered(self, session: Outlet, stanza: Element) -> bool:
        """An IQ result or error to the server: True if it answered a caps
        question (and was used)."""
        question = self._asked.get(stanza.get("id") or "")
        if question is None or question.session is not session:
            return False
        del self._asked[stanza.get("id") or ""]
        query = stanza.find("query", DISCO_INFO)
        if stanza.get("type") != "result" or query is None:
            return True
        features = features_of(query)
        if question.hash_name is None:
            await self._learned(session, features)  # legacy: this session only
            return True
        if ver_of(query, question.hash_name) != question.ver:
            self._count("caps_mismatches")
            log.info("%s: caps answer does not match ver %s", session.jid, question.ver)
            return True
        key = (question.hash_name.lower(), question.ver)
        self._known[key] = features
        while len(self._known) > self._max_entries:
            self._known.popitem(last=False)
        await self._learned(session, features)
        return True

    def forget(self, session: Outlet) -> None:
        """The session ended: drop its questions."""
        for iq_id in [k for k, q in self._asked.items() if q.session is session]:
            del self._asked[iq_id]

    async def _learned(self, session: Outlet, features: frozenset[str]) -> None:
        session.chat.features = features
        if self.on_learned is not None:
            await self.on_learned(session)

    def __len__(self) -> int:
        return len(self._known)


def caps_element(node: str, query: Element) -> Element:
    """``<c/>`` for an entity whose disco#info is *query* (§4)."""
    ver = ver_of(query, "sha-1")
    assert ver is not None
    return Element.of("c", CAPS, {"hash": "sha-1", "node": node, "ver": ver})


def wants(session: Outlet, node: str) -> bool:
    """Did the session ask for notifications of *node* (XEP-0163 §4.4)?"""
    features = session.chat.features
    return features is not None and f"{node}+notify" in features


def interested(sessions: Iterable[Outlet], node: str) -> list[Outlet]:
    return [s for s in sessions if wants(s, node)]


def full_jid(session: Outlet) -> Jid:
    assert session.jid is not None
    return session.jid
