"""The shared authenticator: passwords, SCRAM keys, the login cache, throttling."""

from __future__ import annotations

import pytest

from roost.control.auth import Authenticator
from roost.control.directory import Actor, DirectoryAdmin
from roost.control.passwords import Passwords
from roost.core.clock import ManualClock
from roost.core.config import Config
from roost.core.errors import AuthenticationFailed, InvalidName, Throttled
from roost.proto.sasl.credentials import ScramAlgorithm, derive_scram_credentials
from roost.store.store import Store
from tests.conftest import make_config

ACTOR = Actor("cli:test")


@pytest.fixture
def config(tmp_path) -> Config:  # type: ignore[no-untyped-def]
    return make_config(
        tmp_path,
        auth={
            "free_failures": 1,
            "delay_initial_s": 0.01,
            "delay_max_s": 0.02,
            "lockout_failures": 5,
        },
    )


class CountingPasswords(Passwords):
    verifications = 0

    async def verify(self, stored_hash: str, password: str) -> bool:
        self.verifications += 1
        return await super().verify(stored_hash, password)


@pytest.fixture
async def parts(sqlite_store: Store, config: Config, clock: ManualClock):  # type: ignore[no-untyped-def]
    passwords = CountingPasswords(config.directory)
    auth = Authenticator(sqlite_store, passwords, config.auth, config.directory, clock)
    directory = DirectoryAdmin(sqlite_store, passwords, config.directory, auth)
    await directory.add_domain(ACTOR, "example.org")
    await directory.add_user(ACTOR, "alice@example.org", "correct horse")
    return auth, directory, passwords, clock


async def test_password_and_cache(parts) -> None:  # type: ignore[no-untyped-def]
    auth, _directory, passwords, clock = parts
    account = await auth.authenticate("Alice@example.org", "correct horse", client="192.0.2.1")
    assert account.address == "alice@example.org"
    assert passwords.verifications == 1
    await auth.authenticate("alice@example.org", "correct horse", client="192.0.2.1")
    assert passwords.verifications == 1  # served by the login cache
    with pytest.raises(AuthenticationFailed):
        await auth.authenticate("alice@example.org", "wrong horse", client="192.0.2.1")
    clock.advance(301)  # past login_cache_ttl_s
    await auth.authenticate("alice@example.org", "correct horse", client="192.0.2.1")
    assert passwords.verifications == 3


async def test_password_change_invalidates_the_cache(parts) -> None:  # type: ignore[no-untyped-def]
    auth, directory, _, _ = parts
    await auth.authenticate("alice@example.org", "correct horse", client="192.0.2.1")
    await directory.set_password(ACTOR, "alice@example.org", "battery staple")
    with pytest.raises(AuthenticationFailed):
        await auth.authenticate("alice@example.org", "correct horse", client="192.0.2.1")
    await auth.authenticate("alice@example.org", "battery staple", client="192.0.2.1")


async def test_disabled_and_unknown_accounts_fail_alike(parts) -> None:  # type: ignore[no-untyped-def]
    auth, directory, _, _ = parts
    await directory.set_enabled(ACTOR, "alice@example.org", False)
    for who in ("alice@example.org", "nobody@example.org", "not an address"):
        with pytest.raises(AuthenticationFailed, match="invalid credentials"):
            await auth.authenticate(who, "correct horse", client="192.0.2.1")


async def test_lockout_after_failures(parts) -> None:  # type: ignore[no-untyped-def]
    auth, _, _, clock = parts
    for _ in range(5):
        with pytest.raises(AuthenticationFailed):
            await auth.authenticate("alice@example.org", "nope", client="203.0.113.5")
    with pytest.raises(Throttled) as caught:
        await auth.authenticate("alice@example.org", "correct horse", client="203.0.113.5")
    assert caught.value.retry_after_s > 0
    # Another address is not affected.
    await auth.authenticate("alice@example.org", "correct horse", client="192.0.2.7")
    clock.advance(901)
    await auth.authenticate("alice@example.org", "correct horse", client="203.0.113.5")


async def test_scram_keys_are_stored_for_both_hashes(parts, config: Config) -> None:  # type: ignore[no-untyped-def]
    auth, _, _, _ = parts
    for algorithm in ScramAlgorithm:
        found = await auth.scram_credentials("alice@example.org", algorithm)
        assert found is not None
        _, stored = found
        again = derive_scram_credentials(
            "correct horse", algorithm, iterations=stored.iterations, salt=stored.salt
        )
        assert again == stored
    assert await auth.scram_credentials("nobody@example.org", ScramAlgorithm.SHA_256) is None


async def test_plaintext_policy(parts) -> None:  # type: ignore[no-untyped-def]
    auth, _, _, _ = parts
    assert auth.plaintext_allowed(tls=True, client="192.0.2.1")
    assert auth.plaintext_allowed(tls=False, client="127.0.0.1")
    assert auth.plaintext_allowed(tls=False, client="::1")
    assert not auth.plaintext_allowed(tls=False, client="192.0.2.1")


async def test_weak_passwords_are_refused(parts) -> None:  # type: ignore[no-untyped-def]
    _, directory, _, _ = parts
    with pytest.raises(InvalidName, match="8 to 512"):
        await directory.add_user(ACTOR, "bob@example.org", "short")
    _account, generated = await directory.add_user(ACTOR, "bob@example.org", None)
    assert generated is not None and len(generated) >= 16


async def test_new_accounts_get_the_standard_folders(parts, sqlite_store: Store) -> None:  # type: ignore[no-untyped-def]
    account = await sqlite_store.read(sqlite_store.directory.account, "alice@example.org")
    boxes = await sqlite_store.read(sqlite_store.mail.mailboxes, account.id)
    roles = {b.name: b.special_use.value if b.special_use else None for b in boxes}
    assert roles == {
        "INBOX": None,
        "Sent": "\\Sent",
        "Drafts": "\\Drafts",
        "Trash": "\\Trash",
        "Junk": "\\Junk",
        "Archive": "\\Archive",
    }
    assert all(b.subscribed for b in boxes)
