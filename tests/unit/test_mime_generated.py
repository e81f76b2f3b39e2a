"""Random MIME trees, printed and parsed back: the parse gives the tree."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st
from mime_corpus import check_structure

from roost.proto.mime import PartKind, parse_bytes


@dataclass(frozen=True)
class Leaf:
    subtype: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Multi:
    subtype: str
    children: tuple[Node, ...]
    preamble: bool


@dataclass(frozen=True)
class Message:
    subject: str
    body: Node


Node = Leaf | Multi | Message

# Body lines never start with "--", so they cannot be taken for delimiters.
body_line = st.text(alphabet="ab -=é", max_size=12).filter(lambda s: not s.startswith("--"))
leaves = st.builds(
    Leaf, st.sampled_from(["plain", "html"]), st.lists(body_line, max_size=4).map(tuple)
)
trees = st.recursive(
    leaves,
    lambda inner: (
        st.builds(
            Multi,
            st.sampled_from(["mixed", "alternative", "related"]),
            st.lists(inner, min_size=1, max_size=3).map(tuple),
            st.booleans(),
        )
        | st.builds(Message, st.text(alphabet="xyz ", max_size=8), inner)
    ),
    max_leaves=12,
)


def render(node: Node, eol: bytes, ids: itertools.count[int]) -> bytes:
    """Header fields and body of `node`, as one MIME entity."""
    match node:
        case Leaf(subtype, lines):
            body = eol.join(line.encode() for line in lines)
            return b"Content-Type: text/" + subtype.encode() + b"; charset=utf-8" + eol + eol + body
        case Multi(subtype, children, preamble):
            # Unique, equal-length boundaries: none is a prefix of another.
            boundary = f"=_b{next(ids):04d}_=".encode()
            out = [b"Content-Type: multipart/" + subtype.encode() + b"; boundary=" + boundary]
            out.append(b"")
            if preamble:
                out.append(b"preamble")
            for child in children:
                out.append(b"--" + boundary)
                out.append(render(child, eol, ids))
            out.append(b"--" + boundary + b"--")
            return eol.join(out)
        case Message(subject, body):
            inner = b"Subject: " + subject.encode() + eol + render(body, eol, ids)
            return b"Content-Type: message/rfc822" + eol + eol + inner


def flatten(node: Node, depth: int = 0) -> list[tuple[str, str, int]]:
    """Expected (kind, type, depth) in pre-order; a message adds its root."""
    match node:
        case Leaf(subtype, _):
            return [("leaf", f"text/{subtype}", depth)]
        case Multi(subtype, children, _):
            out = [("multipart", f"multipart/{subtype}", depth)]
            for child in children:
                out += flatten(child, depth + 1)
            return out
        case Message(_, body):
            return [("message", "message/rfc822", depth), *flatten(body, depth + 1)]


def leaf_bodies(node: Node, eol: bytes) -> list[bytes]:
    match node:
        case Leaf(_, lines):
            return [eol.join(line.encode() for line in lines)]
        case Multi(_, children, _):
            return [b for child in children for b in leaf_bodies(child, eol)]
        case Message(_, body):
            return leaf_bodies(body, eol)


@settings(max_examples=300)
@given(trees, st.sampled_from([b"\r\n", b"\n"]), st.booleans())
def test_printed_tree_parses_back(tree: Node, eol: bytes, final_eol: bool) -> None:
    data = (
        b"From: gen@example.org"
        + eol
        + render(tree, eol, itertools.count())
        + (eol if final_eol else b"")
    )
    s = parse_bytes(data)
    check_structure(data, s)
    assert s.defects == ()
    assert [(p.kind.value, p.content_type.mime_type, p.depth) for p in s.parts] == flatten(tree)
    found = [data[p.body_start : p.body_end] for p in s.parts if p.kind is PartKind.LEAF]
    expected = leaf_bodies(tree, eol)
    if final_eol and ends_at_end_of_data(tree):
        expected[-1] += eol  # no delimiter claims the last line break
    assert found == expected


def ends_at_end_of_data(node: Node) -> bool:
    """Whether the last leaf is not closed by a delimiter."""
    while isinstance(node, Message):
        node = node.body
    return isinstance(node, Leaf)
