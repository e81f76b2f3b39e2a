"""The element model: what the parser yields and the serializer writes.

A stanza (RFC 6120 §8) is a small XML tree. Roost keeps it as an
immutable `Element` of its own rather than a stdlib type:

- ``xml.etree.ElementTree.Element`` is mutable, so a stanza handed to two
  sessions (a message and its carbon copy) could change under one while
  the other edits it; it keeps mixed content as ``text`` and ``tail``
  strings hung on the wrong nodes; and its serializer invents ``ns0:``
  prefixes that some clients cannot read.
- ``xml.dom.minidom`` is mutable too and costs several objects per node.

An `Element` is a frozen, slotted dataclass: a name, its namespace, the
attributes in document order and the children in document order, each
either an `Element` or a piece of text. It is hashable and compares by
value, so tests compare trees with ``==``. Elements from the parser are at
most `MAX_DEPTH_LIMIT` deep, which keeps the recursive ``==`` and ``hash``
of dataclasses far from Python's recursion limit.

Attribute keys are local names for unqualified attributes and
``{namespace}local`` for qualified ones (`namespaces.XML_LANG`).

Children are *normalized*: no empty strings and no two strings side by
side. The parser builds them so; code that builds elements by hand uses
`Element.of`, which normalizes and refuses duplicate attributes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

MAX_DEPTH_LIMIT = 256
"""The deepest tree any setting may let the parser build. Equality, hash
and repr of nested dataclasses recurse once or twice per level; 256
levels stay well inside Python's default limit of 1000 frames."""

Attributes = tuple[tuple[str, str], ...]
"""Attribute keys and values in document order."""


@dataclass(frozen=True, slots=True, repr=False)
class Element:
    """One XML element with its attributes and children (see module docstring).

    The ``repr`` shows the name, namespace and sizes, never attribute
    values or text: a stanza's body must not reach a log by accident
    (DESIGN.md).
    """

    name: str
    namespace: str = ""
    attributes: Attributes = ()
    children: tuple[Element | str, ...] = ()

    @classmethod
    def of(
        cls,
        name: str,
        namespace: str = "",
        attributes: Mapping[str, str | None] | Iterable[tuple[str, str]] = (),
        children: Iterable[Element | str] = (),
    ) -> Element:
        """Build an element, normalizing as the module docstring says.

        Attributes given as a mapping may map a key to None, which leaves
        it out; that keeps optional attributes readable at the call site.

        Raises:
            ValueError: an attribute key appears twice.
        """
        pairs = (
            [(k, v) for k, v in attributes.items() if v is not None]
            if isinstance(attributes, Mapping)
            else list(attributes)
        )
        if len({key for key, _ in pairs}) != len(pairs):
            raise ValueError(f"duplicate attribute on <{name}>")
        return cls(name, namespace, tuple(pairs), normalize(children))

    def __repr__(self) -> str:
        return (
            f"Element(<{self.name}> in {self.namespace or 'no namespace'}, "
            f"{len(self.attributes)} attributes, {len(self.children)} children)"
        )

    # Reading.

    def get(self, key: str, default: str | None = None) -> str | None:
        """The value of attribute ``key``, or ``default``."""
        for name, value in self.attributes:
            if name == key:
                return value
        return default

    def matches(self, name: str, namespace: str) -> bool:
        """Is this a ``name`` element in ``namespace``?"""
        return self.name == name and self.namespace == namespace

    @property
    def text(self) -> str:
        """The text directly inside this element, children's text left out."""
        return "".join(child for child in self.children if isinstance(child, str))

    def elements(self) -> Iterator[Element]:
        """The child elements, in document order."""
        return (child for child in self.children if isinstance(child, Element))

    def find(self, name: str, namespace: str) -> Element | None:
        """The first child element called ``name`` in ``namespace``, if any."""
        for child in self.children:
            if isinstance(child, Element) and child.name == name and child.namespace == namespace:
                return child
        return None

    # Changing, by copy.

    def with_attribute(self, key: str, value: str | None) -> Element:
        """A copy with attribute ``key`` set to ``value``, or removed if None.

        An attribute that exists keeps its place; a new one goes last.
        """
        pairs: list[tuple[str, str]] = []
        found = False
        for name, old in self.attributes:
            if name != key:
                pairs.append((name, old))
            elif value is not None:
                pairs.append((name, value))
                found = True
            else:
                found = True
        if not found and value is not None:
            pairs.append((key, value))
        return Element(self.name, self.namespace, tuple(pairs), self.children)

    def with_children(self, children: Iterable[Element | str]) -> Element:
        """A copy with ``children`` instead of the present ones (normalized)."""
        return Element(self.name, self.namespace, self.attributes, normalize(children))


def normalize(children: Iterable[Element | str]) -> tuple[Element | str, ...]:
    """Children with empty strings dropped and neighbouring strings joined."""
    out: list[Element | str] = []
    text: list[str] = []
    for child in children:
        if isinstance(child, str):
            if child:
                text.append(child)
            continue
        if text:
            out.append("".join(text))
            text.clear()
        out.append(child)
    if text:
        out.append("".join(text))
    return tuple(out)


def depth(element: Element) -> int:
    """How many levels the tree has (1 for an element without children).

    Iterative, so it also measures trees built by hand deeper than the
    recursion limit.
    """
    deepest = 0
    stack = [(element, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in node.elements())
    return deepest
