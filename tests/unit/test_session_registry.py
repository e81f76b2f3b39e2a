"""The session registry: register, forget, and end a user's sessions everywhere."""

from __future__ import annotations

from roost.control.sessions import SessionRegistry


def test_end_user_asks_every_session_of_that_user_only() -> None:
    registry = SessionRegistry()
    ended: list[tuple[str, str]] = []
    registry.open("imap", "Alice@Example.org", lambda why: ended.append(("imap", why)))
    registry.open("pop", "alice@example.org", lambda why: ended.append(("pop", why)))
    registry.open("imap", "bob@example.org", lambda why: ended.append(("bob", why)))

    assert registry.end_user(" ALICE@example.org", "disabled") == 2
    assert sorted(ended) == [("imap", "disabled"), ("pop", "disabled")]
    assert registry.count() == 3  # ending is a request: each session forgets itself when it ends
    assert registry.count("imap") == 2


def test_close_forgets_and_is_harmless_twice() -> None:
    registry = SessionRegistry()
    one = registry.open("smtp", "alice@example.org", lambda why: None)
    two = registry.open("smtp", "alice@example.org", lambda why: None)
    registry.close(one)
    registry.close(one)
    registry.close(None)
    assert registry.sessions("alice@example.org") == [two]
    registry.close(two)
    assert registry.count() == 0
    assert registry.end_user("alice@example.org", "gone") == 0


def test_a_session_that_fails_to_end_does_not_keep_the_others_open() -> None:
    registry = SessionRegistry()
    ended: list[str] = []

    def broken(why: str) -> None:
        raise RuntimeError("boom")

    registry.open("imap", "alice@example.org", broken)
    registry.open("pop", "alice@example.org", ended.append)
    assert registry.end_user("alice@example.org", "disabled") == 2
    assert ended == ["disabled"]
