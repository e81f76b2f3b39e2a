"""Base subjects and the THREAD algorithms of RFC 5256, sans-I/O.

`base_subject` is the extraction of RFC 5256 §2.1, which SORT SUBJECT and
both threading algorithms compare (with `ascii_casemap`, the i;ascii-casemap
collation of RFC 4790 §9.2). `ordered_subject` and `references` build the
threads of RFC 5256 §3 from `ThreadItem`s, and `thread_data` writes them as
the THREAD response wants them (RFC 5256 §4)::

    (1)(2 3 4)(5 (6)(7 8))     1 alone; 2 → 3 → 4; 5 with two children

Each item carries the number to print (a sequence number or a UID), its
sequence number (for ties), its sent date (the Date: field in UTC, or the
internal date when there is none, RFC 5256 §2.2), its subject decoded
(RFC 2047) but not yet reduced, its Message-ID and its references: the
message IDs of References, or else the first of In-Reply-To (RFC 5256 §3
REFERENCES step 1).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from roost.proto.imap.values import ImapData, Juxtaposed

_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_SPACES = re.compile(r"[ \t\r\n]+")
_BLOB = r"\[[^\[\]]*\][ \t]*"
_LEADER = re.compile(rf"(?:{_BLOB})*(?P<refwd>(?:re|fwd?)[ \t]*(?:{_BLOB})?:)|[ \t]", re.I)
"""RFC 5256 §5 ``subj-leader = (*subj-blob subj-refwd) / WSP``."""
_BLOB_PREFIX = re.compile(_BLOB)
_TRAILER = re.compile(r"(?:\(fwd\)|[ \t])$", re.I)
"""RFC 5256 §5 ``subj-trailer = "(fwd)" / WSP``."""
_MESSAGE_ID = re.compile(r"<([^<>@\s]+@[^<>\s]+)>")


def ascii_casemap(text: str) -> str:
    """The i;ascii-casemap key (RFC 4790 §9.2): ASCII letters folded, the rest
    compared as they are (code point order is UTF-8 octet order)."""
    return text.translate(_ASCII_UPPER)


def base_subject(subject: str | None) -> tuple[str, bool]:
    """RFC 5256 §2.1: the base subject, and whether the subject marked a
    reply or forward (a ``Re:``, ``Fwd:``, ``(fwd)`` or ``[fwd: ...]`` was
    taken off), which REFERENCES step 5 needs. ``subject`` is decoded."""
    text = _SPACES.sub(" ", subject or "")
    reply = False
    while True:
        # (2) trailers, (3) leaders and (4) a leading blob, until none is left.
        while (found := _TRAILER.search(text)) is not None:
            reply = reply or found.group().lower() == "(fwd)"
            text = text[: found.start()]
        while True:
            leader = _LEADER.match(text)
            if leader is not None:
                reply = reply or leader.group("refwd") is not None
                text = text[leader.end() :]
                continue
            blob = _BLOB_PREFIX.match(text)
            if blob is not None and text[blob.end() :].strip(" \t"):
                text = text[blob.end() :]
                continue
            break
        # (6) "[fwd: ...]" around the whole subject: take it off, start again.
        if text[:5].lower() == "[fwd:" and text.endswith("]"):
            text = text[5:-1]
            reply = True
            continue
        return text, reply


def message_ids(value: str | None) -> tuple[str, ...]:
    """The message IDs of a References or In-Reply-To field, in order."""
    return tuple(_MESSAGE_ID.findall(value or ""))


@dataclass(frozen=True, slots=True)
class ThreadItem:
    number: int
    order: int
    sent: datetime
    subject: str
    message_id: str | None = None
    references: tuple[str, ...] = ()


@dataclass(slots=True, eq=False)
class Thread:
    """A node of a thread tree; ``item`` None is a dummy (a message that is
    referred to but not in the set, RFC 5256 §3 REFERENCES step 1)."""

    item: ThreadItem | None
    children: list[Thread] = field(default_factory=list)
    parent: Thread | None = None

    def first(self) -> ThreadItem | None:
        """The item that stands for this node when sorting: its own, or for
        a dummy its first child's."""
        node: Thread | None = self
        while node is not None and node.item is None:
            node = node.children[0] if node.children else None
        return None if node is None else node.item


def _date_key(node: Thread) -> tuple[datetime, int]:
    item = node.first()
    assert item is not None  # dummies without children were pruned
    return item.sent, item.order


def ordered_subject(items: Iterable[ThreadItem]) -> list[Thread]:
    """THREAD=ORDEREDSUBJECT (RFC 5256 §3): messages of one base subject in
    sent-date order, the first the parent of the rest; threads in the order
    of their first messages' dates."""
    keyed = sorted(
        ((ascii_casemap(base_subject(i.subject)[0]), i.sent, i.order, i) for i in items),
        key=lambda entry: entry[:3],
    )
    threads: list[Thread] = []
    last: str | None = None
    for subject, _, _, item in keyed:
        if subject == last:
            threads[-1].children.append(Thread(item))
        else:
            threads.append(Thread(item))
            last = subject
    threads.sort(key=_date_key)
    return threads


def _descends(node: Thread, ancestor: Thread) -> bool:
    """Whether ``node`` is ``ancestor`` or below it."""
    at: Thread | None = node
    while at is not None:
        if at is ancestor:
            return True
        at = at.parent
    return False


def _link(parent: Thread, child: Thread) -> None:
    if child.parent is not None:
        child.parent.children.remove(child)
    child.parent = parent
    parent.children.append(child)


def references(items: Sequence[ThreadItem]) -> list[Thread]:
    """THREAD=REFERENCES (RFC 5256 §3), steps 1 to 6."""
    table: dict[str, Thread] = {}
    for item in items:
        # (1) One container per message ID; a duplicate or missing ID gets its own.
        key = item.message_id
        if key is None or (key in table and table[key].item is not None):
            key = f"\x00{item.order}"
        node = table.setdefault(key, Thread(None))
        node.item = item
        previous: Thread | None = None
        for ref in item.references:
            ref_node = table.setdefault(ref, Thread(None))
            # (1A) Never relink a reference that has a parent; never make a loop.
            if (
                previous is not None
                and ref_node.parent is None
                and not _descends(previous, ref_node)
            ):
                _link(previous, ref_node)
            previous = ref_node
        # (1B) The last reference is the parent, whatever the message had before.
        if node.parent is not None:
            node.parent.children.remove(node)
            node.parent = None
        if previous is not None and not _descends(previous, node):
            _link(previous, node)
    # (2) The roots, (3) without empty dummies, (4) by date.
    roots = _prune([node for node in table.values() if node.parent is None], root=True)
    for node in roots:
        _sort(node.children)
    roots.sort(key=_date_key)
    # (5) Roots of one base subject come together, (6) and every level is sorted.
    roots = _merge_subjects(roots)
    _sort(roots)
    return roots


def _prune(nodes: list[Thread], *, root: bool) -> list[Thread]:
    """Step 3: dummies without children go; a dummy's children take its place,
    unless it is a root with more than one child."""
    out: list[Thread] = []
    for node in nodes:
        node.children = _prune(node.children, root=False)
        for child in node.children:
            child.parent = node
        if node.item is not None or (root and len(node.children) > 1):
            out.append(node)
        else:
            for child in node.children:
                child.parent = node.parent
            out.extend(node.children)
    return out


def _sort(nodes: list[Thread]) -> None:
    """Step 6: siblings by sent date, the deepest levels first."""
    for node in nodes:
        _sort(node.children)
    nodes.sort(key=_date_key)


def _subject(node: Thread) -> tuple[str, bool]:
    item = node.first()
    if item is None:
        return "", False
    base, reply = base_subject(item.subject)
    return ascii_casemap(base), reply


def _merge_subjects(roots: list[Thread]) -> list[Thread]:
    """Step 5: roots whose base subjects are equal join one thread."""
    table: dict[str, Thread] = {}
    for node in roots:
        subject, reply = _subject(node)
        if not subject:
            continue
        old = table.get(subject)
        if (
            old is None
            or (old.item is not None and node.item is None)
            or (_subject(old)[1] and not reply)
        ):
            table[subject] = node
    out: list[Thread] = []
    for node in roots:
        if node.parent is not None:
            continue  # joined to a thread of its subject already
        subject, reply = _subject(node)
        old = table.get(subject) if subject else None
        if old is None or old is node:
            out.append(node)
        elif old.item is None and node.item is None:
            for child in node.children:
                child.parent = old
            old.children += node.children
        elif old.item is None:
            _link(old, node)
        elif node.item is None:
            _link(node, old)
            _replace(out, old, node)
            table[subject] = node
        elif reply:
            _link(old, node)
        else:
            dummy = Thread(None)
            _link(dummy, old)
            _link(dummy, node)
            _replace(out, old, dummy)
            table[subject] = dummy
    return out


def _replace(roots: list[Thread], old: Thread, new: Thread) -> None:
    """``new`` takes ``old``'s place among the roots, or joins them."""
    for index, node in enumerate(roots):
        if node is old:
            roots[index] = new
            return
    roots.append(new)


def thread_data(threads: Iterable[Thread]) -> tuple[ImapData, ...]:
    """The THREAD response's data: one parenthesised list per thread, side by
    side (RFC 5256 §4 ``thread-list``)."""
    return tuple(tuple(_members(node)) for node in threads)


def _members(node: Thread) -> list[ImapData]:
    """``thread-members [SP thread-nested]``: a chain of only children, then
    the branches when a node has more than one."""
    out: list[ImapData] = []
    at = node
    while True:
        if at.item is not None:
            out.append(at.item.number)
        if len(at.children) != 1:
            break
        at = at.children[0]
    if len(at.children) > 1:
        out.append(Juxtaposed(tuple(tuple(_members(child)) for child in at.children)))
    return out
