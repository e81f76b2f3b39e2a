"""The session registry's link from a webmail session to the sessions it
signed in (the web chat's XMPP sessions): ending it ends those only."""

from __future__ import annotations

from roost.control.sessions import SessionRegistry


def test_ending_a_webmail_session_ends_what_it_signed_in_only() -> None:
    registry = SessionRegistry()
    ended: list[str] = []
    registry.open("webmail", "alice@example.org", lambda why: ended.append("web"))
    chat = registry.open("xmpp", "alice@example.org", ended.append, web_session="w1")
    registry.open("xmpp", "alice@example.org", lambda why: ended.append("w2"), web_session="w2")
    registry.open("xmpp", "alice@example.org", lambda why: ended.append("app"))

    assert registry.web_sessions() == {"w1", "w2"}
    assert registry.end_web_session("w1", "Your webmail session ended") == 1
    assert ended == ["Your webmail session ended"]
    assert registry.end_web_session("unknown", "why") == 0

    registry.close(chat)
    assert registry.web_sessions() == {"w2"}
    assert registry.end_web_session("w1", "again") == 0
    assert registry.count("xmpp") == 2


def test_a_broken_session_does_not_keep_the_others_open() -> None:
    registry = SessionRegistry()
    ended: list[str] = []

    def broken(why: str) -> None:
        raise RuntimeError(why)

    registry.open("xmpp", "alice@example.org", broken, web_session="w1")
    registry.open("xmpp", "alice@example.org", ended.append, web_session="w1")
    assert registry.end_web_session("w1", "over") == 2
    assert ended == ["over"]
