"""`roost retrieval add|list|show|remove|run` against a running Roost, with
Debian's Dovecot as the other server: the password never shown, retrieve
now through the API, the error in words on the account."""

from __future__ import annotations

from pathlib import Path

from tests.dovecot_peer import dovecot_peer
from tests.integration.test_cli import Server, roost, write_config
from tests.retrieval_support import REMOTE_PASSWORD, message, put_remote

# Accounts are due at a random moment within the hour: what is fetched here
# is fetched because the test asked.
RETRIEVAL = "interval_s = 86400\njitter_s = 3600"


def add(config: Path, port: int, user: str, password: str) -> str:
    done = roost(
        config,
        "retrieval",
        "add",
        "alice@example.org",
        "--protocol=pop3",
        "--host=127.0.0.1",
        f"--port={port}",
        "--tls=none",
        f"--username={user}",
        "--password-stdin",
        stdin=password + "\n",
    )
    assert done.returncode == 0, done.stderr
    assert password not in done.stdout
    return done.stdout.split()[2]


def test_add_run_show_remove(tmp_path: Path) -> None:
    with dovecot_peer(["remote-a"], REMOTE_PASSWORD) as peer:
        put_remote(peer, "remote-a", [message(n) for n in range(5)])
        server = Server(write_config(tmp_path, retrieval=RETRIEVAL))
        try:
            config = server.config
            assert roost(config, "domain", "add", "example.org").returncode == 0
            user = roost(
                config, "user", "add", "alice@example.org", "--password-stdin", stdin="pw-alice\n"
            )
            assert user.returncode == 0, user.stderr
            good = add(config, peer.port, "remote-a", REMOTE_PASSWORD)
            bad = add(config, peer.port, "remote-a", "not-the-password")

            listed = roost(config, "retrieval", "list", "alice@example.org")
            assert listed.returncode == 0, listed.stderr
            assert listed.stdout.count("not fetched yet") == 2

            ran = roost(config, "retrieval", "run", "alice@example.org", good)
            assert ran.returncode == 0, ran.stdout + ran.stderr
            assert "total_fetched:    5" in ran.stdout
            failed = roost(config, "retrieval", "run", "alice@example.org", bad)
            assert failed.returncode == 1
            assert "last_error:       authentication failed" in failed.stdout

            shown = roost(config, "retrieval", "show", "alice@example.org", good)
            assert shown.returncode == 0 and REMOTE_PASSWORD not in shown.stdout
            stored = (tmp_path / "data" / "roost.sqlite3").read_bytes()
            assert REMOTE_PASSWORD.encode() not in stored

            status = roost(config, "status")
            assert "POP Retrieval" in status.stdout and "IMAP Retrieval" in status.stdout

            removed = roost(config, "retrieval", "remove", "alice@example.org", bad)
            assert removed.returncode == 0, removed.stderr
            left = roost(config, "retrieval", "list")
            assert left.stdout.count("127.0.0.1:") == 1
            missing = roost(config, "retrieval", "show", "alice@example.org", bad)
            assert missing.returncode == 1 and "no external account" in missing.stderr
        finally:
            code, _out, err = server.stop()
            assert code == 0, err


def test_edit_and_manual(tmp_path: Path) -> None:
    """`roost retrieval edit` through the running server's API (PATCH)."""
    with dovecot_peer(["remote-a", "remote-b"], REMOTE_PASSWORD) as peer:
        put_remote(peer, "remote-b", [message(n) for n in range(3)])
        server = Server(write_config(tmp_path, retrieval=RETRIEVAL))
        try:
            config = server.config
            assert roost(config, "domain", "add", "example.org").returncode == 0
            user = roost(
                config, "user", "add", "alice@example.org", "--password-stdin", stdin="pw-alice\n"
            )
            assert user.returncode == 0, user.stderr
            rid = add(config, peer.port, "remote-a", "not-the-password")
            edit = ("retrieval", "edit", "alice@example.org", rid)

            nothing = roost(config, *edit)
            assert nothing.returncode != 0 and "nothing to change" in nothing.stderr
            refused = roost(config, *edit, "--mark-seen")
            assert refused.returncode == 1 and "IMAP accounts only" in refused.stderr
            clash = roost(config, *edit, "--interval=60", "--global-interval")
            assert clash.returncode != 0 and "exclude each other" in clash.stderr

            done = roost(
                config,
                *edit,
                "--username=remote-b",
                "--password-stdin",
                "--manual",
                "--leave-on-server",
                "--apop",
                stdin=REMOTE_PASSWORD + "\n",
            )
            assert done.returncode == 0, done.stderr
            assert REMOTE_PASSWORD not in done.stdout
            for line in ("username:         remote-b", "manual:           True"):
                assert line in done.stdout
            assert "apop:             True" in done.stdout
            # Dovecot here offers no APOP: the error says so.
            ran = roost(config, "retrieval", "run", "alice@example.org", rid)
            assert ran.returncode == 1 and "does not offer APOP" in ran.stdout
            off = roost(config, *edit, "--no-apop")
            assert off.returncode == 0, off.stderr
            ran = roost(config, "retrieval", "run", "alice@example.org", rid)
            assert ran.returncode == 0, ran.stdout + ran.stderr
            assert "total_fetched:    3" in ran.stdout
            assert "leave_on_server:  True" in ran.stdout
        finally:
            code, _out, err = server.stop()
            assert code == 0, err
