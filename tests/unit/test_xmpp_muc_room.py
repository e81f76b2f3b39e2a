"""The room state machine (XEP-0045) with elements in and elements out:
entering and its refusals, roles and affiliations, nickname changes,
kicks and bans, history selection, subject, destroy."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from roost.proto.xmpp import Element, Jid, StanzaErrorCondition
from roost.services.xmpp.muc.config import RoomConfig
from roost.services.xmpp.muc.history import (
    History,
    HistoryEntry,
    HistoryRequest,
    parse_request,
)
from roost.services.xmpp.muc.roles import (
    Affiliation,
    Role,
    entry_role,
    may_set_affiliation,
    may_set_role,
)
from roost.services.xmpp.muc.room import MUC, MUC_USER, MucError, Room

ROOM = Jid.parse("lobby@conference.example.org")
ALICE = Jid.parse("alice@example.org/desk")
BOB = Jid.parse("bob@example.org/phone")
CAROL = Jid.parse("carol@example.org/web")
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
CLIENT = "jabber:client"


def presence(show: str | None = None) -> Element:
    children = [Element.of("x", MUC)]
    if show:
        children.append(Element.of("show", CLIENT, (), [show]))
    return Element.of("presence", CLIENT, (), children)


def room(**config: object) -> Room:
    made = Room(
        ROOM,
        replace(RoomConfig(), **config),  # type: ignore[arg-type]
        creator=ALICE.bare,
        affiliations={ALICE.bare: Affiliation.OWNER},
    )
    made.enter(ALICE, "Alice", presence(), password=None, history=HistoryRequest(), now=NOW)
    return made


def enter(r: Room, jid: Jid, nick: str, **kw: object) -> list[Element]:
    return r.enter(
        jid,
        nick,
        presence(),
        password=kw.get("password"),  # type: ignore[arg-type]
        history=kw.get("history", HistoryRequest()),  # type: ignore[arg-type]
        now=NOW,
    )


def to(out: list[Element], jid: Jid) -> list[Element]:
    return [s for s in out if s.get("to") == str(jid)]


def status_codes(stanza: Element) -> set[str]:
    x = stanza.find("x", MUC_USER)
    return set() if x is None else {s.get("code") or "" for s in x.elements() if s.name == "status"}


def item(stanza: Element) -> Element:
    x = stanza.find("x", MUC_USER)
    assert x is not None
    found = x.find("item", MUC_USER)
    assert found is not None
    return found


class _raises:
    """Expect a `MucError` with this condition."""

    def __init__(self, condition: StanzaErrorCondition) -> None:
        self.condition = condition

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: object, tb: object) -> bool:
        assert isinstance(exc, MucError), f"expected {self.condition}, got {exc!r}"
        assert exc.condition == self.condition
        return True


def test_enter_order_of_stanzas_and_codes() -> None:
    r = room()
    out = enter(r, BOB, "Bob")
    mine = to(out, BOB)
    # Alice's presence first, then Bob's own with 110, then the subject.
    assert [s.name for s in mine] == ["presence", "presence", "message"]
    assert mine[0].get("from") == f"{ROOM}/Alice"
    assert item(mine[0]).get("jid") is None  # Bob is no moderator: semi-anonymous
    assert status_codes(mine[1]) == {"110"}
    assert item(mine[1]).get("role") == "participant"
    assert mine[2].find("subject", CLIENT) is not None
    # Alice, a moderator, sees Bob's real JID.
    (alice_sees,) = to(out, ALICE)
    assert item(alice_sees).get("jid") == str(BOB)


def test_refusals_in_order() -> None:
    r = room(members_only=True, password="secret", max_occupants=3)
    with _raises(StanzaErrorCondition.CONFLICT):
        enter(r, BOB, "Alice")
    with _raises(StanzaErrorCondition.REGISTRATION_REQUIRED):
        enter(r, BOB, "Bob")
    r.set_affiliation(ALICE, BOB.bare, Affiliation.MEMBER, "")
    with _raises(StanzaErrorCondition.NOT_AUTHORIZED):
        enter(r, BOB, "Bob", password="wrong")
    enter(r, BOB, "Bob", password="secret")
    r.set_affiliation(ALICE, CAROL.bare, Affiliation.OUTCAST, "spam")
    with _raises(StanzaErrorCondition.FORBIDDEN):
        enter(r, CAROL, "Carol", password="secret")
    r.set_affiliation(ALICE, CAROL.bare, Affiliation.MEMBER, "")
    enter(r, CAROL, "Carol", password="secret")
    dave = Jid.parse("dave@example.org/x")
    r.set_affiliation(ALICE, dave.bare, Affiliation.MEMBER, "")
    with _raises(StanzaErrorCondition.SERVICE_UNAVAILABLE):
        enter(r, dave, "Dave", password="secret")
    assert len(r.occupants) == 3


def test_locked_room_only_for_its_owner() -> None:
    r = Room(ROOM, RoomConfig(), affiliations={ALICE.bare: Affiliation.OWNER}, locked=True)
    with _raises(StanzaErrorCondition.ITEM_NOT_FOUND):
        enter(r, BOB, "Bob")
    out = r.enter(
        ALICE, "Alice", presence(), password=None, history=HistoryRequest(), now=NOW, created=True
    )
    assert status_codes(to(out, ALICE)[0]) == {"110", "201"}


def test_nickname_change_and_conflict() -> None:
    r = room()
    enter(r, BOB, "Bob")
    with _raises(StanzaErrorCondition.CONFLICT):
        r.update(BOB, "Alice", presence())
    out = r.update(BOB, "Robert", presence("away"))
    gone = [s for s in to(out, ALICE) if s.get("type") == "unavailable"]
    assert gone[0].get("from") == f"{ROOM}/Bob" and "303" in status_codes(gone[0])
    assert item(gone[0]).get("nick") == "Robert"
    back = [s for s in to(out, ALICE) if s.get("type") is None]
    assert back[0].get("from") == f"{ROOM}/Robert"
    assert back[0].find("show", CLIENT) is not None
    assert "110" in status_codes(to(out, BOB)[0])
    assert set(r.occupants) == {"Alice", "Robert"}


def test_kick_and_ban() -> None:
    r = room()
    enter(r, BOB, "Bob")
    enter(r, CAROL, "Carol")
    # A participant kicks nobody; nobody kicks the owner.
    with _raises(StanzaErrorCondition.FORBIDDEN):
        r.set_role(BOB, "Carol", Role.NONE, "")
    r.set_affiliation(ALICE, BOB.bare, Affiliation.ADMIN, "")
    with _raises(StanzaErrorCondition.NOT_ALLOWED):
        r.set_role(BOB, "Alice", Role.NONE, "")
    out = r.set_role(ALICE, "Carol", Role.NONE, "be nice")
    (victim,) = to(out, CAROL)
    assert victim.get("type") == "unavailable" and status_codes(victim) == {"307", "110"}
    reason = item(victim).find("reason", MUC_USER)
    assert reason is not None and reason.text == "be nice"
    assert status_codes(to(out, BOB)[0]) == {"307"}
    assert "Carol" not in r.occupants
    # A kicked user may come back; a banned one may not.
    enter(r, CAROL, "Carol")
    out = r.set_affiliation(BOB, CAROL.bare, Affiliation.OUTCAST, "")
    assert status_codes(to(out, CAROL)[0]) == {"301", "110"}
    with _raises(StanzaErrorCondition.FORBIDDEN):
        enter(r, CAROL, "Carol")
    # An admin may not touch an owner's affiliation; the last owner stays.
    with _raises(StanzaErrorCondition.NOT_ALLOWED):
        r.set_affiliation(BOB, ALICE.bare, Affiliation.NONE, "")
    with _raises(StanzaErrorCondition.CONFLICT):
        r.set_affiliation(ALICE, ALICE.bare, Affiliation.MEMBER, "")


def test_moderated_room_visitors_and_voice() -> None:
    r = room(moderated=True)
    enter(r, BOB, "Bob")
    assert r.occupants["Bob"].role == Role.VISITOR
    message = Element.of("message", CLIENT, {"type": "groupchat"}, [Element.of("body", CLIENT)])
    with _raises(StanzaErrorCondition.FORBIDDEN):
        r.groupchat(BOB, message, stanza_id="x", now=NOW)
    r.set_role(ALICE, "Bob", Role.PARTICIPANT, "")
    out, kept = r.groupchat(BOB, message, stanza_id="s1", now=NOW)
    assert kept is not None and len(out) == 2
    # Only admins and owners make moderators.
    with _raises(StanzaErrorCondition.FORBIDDEN):
        r.set_role(BOB, "Alice", Role.MODERATOR, "")


def test_groupchat_needs_an_occupant_and_keeps_history() -> None:
    r = room(history_length=2)
    body = Element.of("body", CLIENT, (), ["hi"])
    message = Element.of("message", CLIENT, {"type": "groupchat"}, [body])
    with _raises(StanzaErrorCondition.NOT_ACCEPTABLE):
        r.groupchat(BOB, message, stanza_id="x", now=NOW)
    for n in range(3):
        r.groupchat(ALICE, message, stanza_id=f"s{n}", now=NOW + timedelta(seconds=n))
    assert len(r.history) == 2
    out = enter(r, BOB, "Bob")
    delays = [s for s in to(out, BOB) if s.find("delay", "urn:xmpp:delay") is not None]
    assert [s.find("stanza-id", "urn:xmpp:sid:0").get("id") for s in delays] == ["s1", "s2"]  # type: ignore[union-attr]


def test_subject_by_moderators_unless_configured() -> None:
    r = room()
    enter(r, BOB, "Bob")
    subject = Element.of(
        "message", CLIENT, {"type": "groupchat"}, [Element.of("subject", CLIENT, (), ["Plans"])]
    )
    with _raises(StanzaErrorCondition.FORBIDDEN):
        r.groupchat(BOB, subject, stanza_id="x", now=NOW)
    out, kept = r.groupchat(ALICE, subject, stanza_id="x", now=NOW)
    assert kept is None and r.subject == "Plans" and r.subject_by == "Alice"
    out = enter(r, CAROL, "Carol")
    last = to(out, CAROL)[-1]
    assert last.get("from") == f"{ROOM}/Alice" and last.find("subject", CLIENT).text == "Plans"  # type: ignore[union-attr]


def test_history_selection() -> None:
    entries = [
        HistoryEntry(NOW + timedelta(minutes=n), Element.of("message", CLIENT, {"id": str(n)}))
        for n in range(10)
    ]
    history = History(5, entries)
    later = NOW + timedelta(minutes=10)
    ids = lambda request: [e.stanza.get("id") for e in history.select(request, later)]  # noqa: E731
    assert ids(HistoryRequest()) == ["5", "6", "7", "8", "9"]
    assert ids(HistoryRequest(maxstanzas=2)) == ["8", "9"]
    assert ids(HistoryRequest(maxstanzas=0)) == []
    assert ids(HistoryRequest(seconds=150)) == ["8", "9"]
    assert ids(HistoryRequest(since=NOW + timedelta(minutes=7))) == ["8", "9"]
    assert ids(HistoryRequest(maxchars=0)) == []
    history.resize(1)
    assert ids(HistoryRequest()) == ["9"]
    join = Element.of(
        "x",
        MUC,
        (),
        [Element.of("history", MUC, {"maxstanzas": "3", "seconds": "x", "since": "bad"})],
    )
    assert parse_request(join) == HistoryRequest(maxstanzas=3)
    stamped = Element.of(
        "x", MUC, (), [Element.of("history", MUC, {"since": "2026-11-27T12:00:00Z"})]
    )
    assert parse_request(stamped).since == NOW


def test_destroy_and_members_only_switch() -> None:
    r = room()
    enter(r, BOB, "Bob")
    enter(r, CAROL, "Carol")
    r.set_affiliation(ALICE, BOB.bare, Affiliation.MEMBER, "")
    out = r.reconfigure(replace(r.config, members_only=True))
    removed = [s for s in out if s.get("type") == "unavailable"]
    assert {s.get("from") for s in removed} == {f"{ROOM}/Carol"}
    assert all("322" in status_codes(s) for s in removed)
    assert any("104" in status_codes(s) for s in out if s.name == "message")
    out = r.destroy("closing", None)
    assert {s.get("to") for s in out} == {str(ALICE), str(BOB)}
    assert all(s.find("x", MUC_USER).find("destroy", MUC_USER) is not None for s in out)  # type: ignore[union-attr]
    assert r.empty


def test_role_and_affiliation_tables() -> None:
    assert entry_role(Affiliation.OWNER, moderated=False) == Role.MODERATOR
    assert entry_role(Affiliation.NONE, moderated=True) == Role.VISITOR
    assert entry_role(Affiliation.MEMBER, moderated=True) == Role.PARTICIPANT
    assert entry_role(Affiliation.OUTCAST, moderated=False) == Role.NONE
    assert may_set_role(Role.MODERATOR, Affiliation.NONE, Affiliation.MEMBER, Role.VISITOR)
    assert not may_set_role(Role.PARTICIPANT, Affiliation.MEMBER, Affiliation.NONE, Role.NONE)
    assert not may_set_role(Role.MODERATOR, Affiliation.OWNER, Affiliation.ADMIN, Role.NONE)
    assert may_set_affiliation(Affiliation.ADMIN, Affiliation.NONE, Affiliation.OUTCAST)
    assert not may_set_affiliation(Affiliation.ADMIN, Affiliation.NONE, Affiliation.ADMIN)
    assert not may_set_affiliation(Affiliation.MEMBER, Affiliation.NONE, Affiliation.MEMBER)
    assert may_set_affiliation(Affiliation.OWNER, Affiliation.ADMIN, Affiliation.OWNER)


def test_private_messages() -> None:
    r = room()
    enter(r, BOB, "Bob")
    chat = Element.of("message", CLIENT, {"type": "chat"}, [Element.of("body", CLIENT, (), ["x"])])
    (out,) = r.private(BOB, "Alice", chat)
    assert out.get("from") == f"{ROOM}/Bob" and out.get("to") == str(ALICE)
    assert out.find("x", MUC_USER) is not None
    with _raises(StanzaErrorCondition.ITEM_NOT_FOUND):
        r.private(BOB, "Nobody", chat)
    with _raises(StanzaErrorCondition.NOT_ACCEPTABLE):
        r.private(CAROL, "Alice", chat)
    with _raises(StanzaErrorCondition.BAD_REQUEST):
        r.private(BOB, "Alice", chat.with_attribute("type", "groupchat"))
