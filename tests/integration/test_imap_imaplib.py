"""Python's imaplib against Roost's IMAP service: every command of the first slice."""

from __future__ import annotations

import imaplib
import re
from pathlib import Path

import pytest
import trustme

from tests.imap_support import (
    ALICE,
    MULTIPART,
    NEWSLETTER,
    PLAIN,
    TRACE,
    deliver,
    imap_port,
    imap_roost,
    imaplib_login,
    in_thread,
)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def _ok(answer: tuple[str, list[object]]) -> list[object]:
    status, data = answer
    assert status == "OK", answer
    return data


async def test_any_state_commands(tmp_path: Path, ca: trustme.CA) -> None:
    async with imap_roost(tmp_path, ca) as roost:
        port = imap_port(roost)

        def scenario() -> None:
            client = imaplib.IMAP4("127.0.0.1", port, timeout=30)
            assert {"IMAP4REV1", "IMAP4REV2", "STARTTLS", "AUTH=PLAIN", "IDLE"} <= set(
                client.capabilities
            )
            _ok(client.noop())
            typ, _data = client.xatom("ID", '("name" "imaplib")')
            assert typ == "OK"
            assert client.untagged_responses.pop("ID") == [b'("name" "Roost" "vendor" "Roost")']
            assert client.logout()[0] == "BYE"

        await in_thread(scenario)


async def test_login_select_examine_and_namespace(tmp_path: Path, ca: trustme.CA) -> None:
    async with imap_roost(tmp_path, ca) as roost:
        await deliver(roost, [PLAIN, MULTIPART])
        port = imap_port(roost)

        def scenario() -> None:
            refused = imaplib.IMAP4("127.0.0.1", port, timeout=30)
            with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
                refused.login(ALICE, "wrong")
            refused.logout()
            client = imaplib_login(port)
            assert _ok(client.namespace()) == [b'(("" "/")) NIL NIL']
            assert _ok(client.select("inbox")) == [b"2"]
            responses = client.untagged_responses
            assert responses["FLAGS"] == [b"(\\Answered \\Flagged \\Deleted \\Seen \\Draft)"]
            assert responses["UIDNEXT"] == [b"3"] and responses["UNSEEN"] == [b"1"]
            assert int(responses["UIDVALIDITY"][0]) > 0
            assert int(responses["HIGHESTMODSEQ"][0]) > 0
            assert responses["READ-WRITE"] == [b""]
            assert _ok(client.select("INBOX", readonly=True)) == [b"2"]
            assert client.untagged_responses["PERMANENTFLAGS"] == [b"()"]
            typ, _ = client.store("1", "+FLAGS", "\\Seen")  # EXAMINE: read-only
            assert typ == "NO"
            typ, _ = client.select("Nowhere")
            assert typ == "NO"
            assert client.state == "AUTH"
            client.logout()

        await in_thread(scenario)


async def test_mailbox_management(tmp_path: Path, ca: trustme.CA) -> None:
    async with imap_roost(tmp_path, ca) as roost:
        await deliver(roost, [PLAIN, MULTIPART])
        port = imap_port(roost)

        def scenario() -> None:
            client = imaplib_login(port)
            _ok(client.create("Projects/Roost/Notes"))
            typ, data = client.create("Projects")
            assert typ == "NO" and b"ALREADYEXISTS" in data[0]
            listed = _ok(client.list('""', "Projects*"))
            assert listed == [
                b'(\\HasChildren) "/" "Projects"',
                b'(\\HasChildren) "/" "Projects/Roost"',
                b'(\\HasNoChildren) "/" "Projects/Roost/Notes"',
            ]
            assert _ok(client.list("Projects/", "%")) == [b'(\\HasChildren) "/" "Projects/Roost"']
            assert _ok(client.list('""', '""')) == [b'(\\Noselect) "/" ""']
            _ok(client.rename("Projects/Roost", "Archive/Roost"))
            names = [line.rsplit(b" ", 1)[1] for line in _ok(client.list())]  # type: ignore[union-attr]
            assert b'"Archive/Roost/Notes"' in names and b'"Projects/Roost"' not in names
            _ok(client.unsubscribe("Archive/Roost"))
            subscribed = _ok(client.lsub('""', "Archive*"))
            assert subscribed == [b'() "/" "Archive"', b'() "/" "Archive/Roost/Notes"']
            _ok(client.subscribe("Archive/Roost"))
            _ok(client.delete("Archive/Roost/Notes"))
            typ, data = client.delete("Archive/Roost/Notes")
            assert typ == "NO" and b"NONEXISTENT" in data[0]
            typ, data = client.delete("INBOX")
            assert typ == "NO"
            # RENAME INBOX moves its messages and leaves it empty (RFC 9051 §6.3.6).
            _ok(client.rename("INBOX", '"Old mail"'))
            status = _ok(client.status("INBOX", "(MESSAGES)"))
            assert status == [b'"INBOX" (MESSAGES 0)']
            status = _ok(client.status('"Old mail"', "(MESSAGES UIDNEXT)"))
            assert status == [b'"Old mail" (MESSAGES 2 UIDNEXT 3)']
            client.logout()

        await in_thread(scenario)


async def test_status_items(tmp_path: Path, ca: trustme.CA) -> None:
    async with imap_roost(tmp_path, ca) as roost:
        await deliver(roost, [PLAIN, MULTIPART, NEWSLETTER])
        port = imap_port(roost)

        def scenario() -> None:
            client = imaplib_login(port)
            client.select("INBOX")
            _ok(client.store("1", "+FLAGS", "(\\Seen \\Deleted)"))
            data = _ok(client.status("INBOX", "(MESSAGES UNSEEN DELETED SIZE UIDVALIDITY)"))
            size = len(TRACE) * 3 + len(PLAIN) + len(MULTIPART) + len(NEWSLETTER)
            assert re.fullmatch(
                rb'"INBOX" \(MESSAGES 3 UNSEEN 2 DELETED 1 SIZE '
                + str(size).encode()
                + rb" UIDVALIDITY \d+\)",
                data[0],  # type: ignore[arg-type]
            )
            typ, _ = client.status("Nowhere", "(MESSAGES)")
            assert typ == "NO"
            client.logout()

        await in_thread(scenario)


async def test_append_with_flags_and_date_then_fetch(tmp_path: Path, ca: trustme.CA) -> None:
    async with imap_roost(tmp_path, ca) as roost:
        port = imap_port(roost)

        def scenario() -> None:
            client = imaplib_login(port)
            date = imaplib.Time2Internaldate(1_700_000_000)
            typ, data = client.append("Drafts", "(\\Draft $Todo)", date, MULTIPART)
            assert typ == "OK" and re.match(rb"\[APPENDUID \d+ 1\]", data[0])  # type: ignore[arg-type]
            typ, data = client.append("Nowhere", "", None, PLAIN)
            assert typ == "NO" and b"TRYCREATE" in data[0]
            client.select("Drafts")
            data = _ok(client.fetch("1", "(FLAGS INTERNALDATE RFC822.SIZE)"))
            assert data == [
                b'1 (FLAGS (\\Draft $Todo) INTERNALDATE "14-Nov-2023 22:13:20 +0000" '
                + f"RFC822.SIZE {len(MULTIPART)})".encode()
            ]
            data = _ok(client.fetch("1", "(BODY.PEEK[] BODY.PEEK[1]<4.4>)"))
            assert data[0] == (b"1 (BODY[] {%d}" % len(MULTIPART), MULTIPART)  # type: ignore[str-bytes-safe]
            assert data[1] == (b" BODY[1]<4> {4}", b"menu")
            client.logout()

        await in_thread(scenario)


async def test_fetch_sets_seen_unless_peek(tmp_path: Path, ca: trustme.CA) -> None:
    async with imap_roost(tmp_path, ca) as roost:
        await deliver(roost, [PLAIN, MULTIPART])
        port = imap_port(roost)

        def scenario() -> None:
            client = imaplib_login(port)
            client.select("INBOX")
            data = _ok(client.fetch("1", "(BODY.PEEK[TEXT])"))
            assert data == [(b"1 (BODY[TEXT] {24}", b"Shall we meet at noon?\r\n"), b")"]
            assert _ok(client.fetch("1", "FLAGS")) == [b"1 (FLAGS ())"]
            data = _ok(client.fetch("1", "(RFC822.HEADER)"))
            header = data[0][1]  # type: ignore[index]
            assert header.startswith(TRACE) and header.endswith(b"\r\n\r\n")
            assert _ok(client.fetch("1", "FLAGS")) == [b"1 (FLAGS ())"]
            data = _ok(client.fetch("1", "(RFC822)"))
            assert data[0] == (b"1 (RFC822 {%d}" % (len(TRACE) + len(PLAIN)), TRACE + PLAIN)  # type: ignore[str-bytes-safe]
            assert data[1] == b" FLAGS (\\Seen))"
            data = _ok(client.fetch("2", "(BODY[HEADER.FIELDS (Subject)])"))
            assert data[0][1] == b"Subject: =?utf-8?q?caf=C3=A9_menu?=\r\n\r\n"  # type: ignore[index]
            data = _ok(client.uid("FETCH", "2", "(FLAGS)"))
            assert data == [b"2 (UID 2 FLAGS (\\Seen))"]
            with pytest.raises(imaplib.IMAP4.error, match="no message 9"):
                client.fetch("9", "FLAGS")
            client.logout()

        await in_thread(scenario)


async def test_store_search_copy_move_expunge(tmp_path: Path, ca: trustme.CA) -> None:
    async with imap_roost(tmp_path, ca) as roost:
        await deliver(roost, [PLAIN, MULTIPART, NEWSLETTER])
        port = imap_port(roost)

        def scenario() -> None:
            client = imaplib_login(port)
            client.select("INBOX")
            assert _ok(client.store("1:2", "+FLAGS", "(\\Flagged $Work)")) == [
                b"1 (FLAGS (\\Flagged $Work))",
                b"2 (FLAGS (\\Flagged $Work))",
            ]
            assert _ok(client.store("2", "-FLAGS.SILENT", "($Work)")) == [None]
            assert _ok(client.search(None, "FLAGGED")) == [b"1 2"]
            assert _ok(client.search(None, "KEYWORD", "$Work")) == [b"1"]
            assert _ok(client.search(None, "UNKEYWORD", "$Work", "UNFLAGGED")) == [b"3"]
            assert _ok(client.search(None, "FROM", "carol")) == [b"2"]
            client.literal = "CAFÉ".encode()  # imaplib sends it as a literal
            assert _ok(client.search("UTF-8", "SUBJECT")) == [b"2"]
            assert _ok(client.search(None, "BODY", "noon")) == [b"1"]
            assert _ok(client.search(None, "TEXT", "bob@example.net")) == [b"1 2 3"]  # trace
            assert _ok(client.search(None, "TEXT", '"Bob <bob"')) == [b"1"]
            assert _ok(client.search(None, "BODY", "JVBERi0")) == [b""]  # attachments excluded
            assert _ok(client.search(None, "LARGER", "2000")) == [b"3"]
            assert _ok(client.search(None, "SENTSINCE", "2-Apr-2025")) == [b"2 3"]
            assert _ok(client.search(None, "SENTBEFORE", "2-Apr-2025")) == [b"1"]
            assert _ok(client.search(None, "OR", "FROM", "news", "TO", "nobody")) == [b"3"]
            assert _ok(client.search(None, "NOT", "2:3")) == [b"1"]
            assert _ok(client.search(None, "HEADER", "Message-ID", "lunch")) == [b"1"]
            assert _ok(client.search(None, "SINCE", "1-Jan-2020", "UID", "2:*")) == [b"2 3"]
            assert _ok(client.uid("SEARCH", "FLAGGED")) == [b"1 2"]
            typ, data = client.copy("1:2", "Archive")
            assert typ == "OK" and data == [
                b"[COPYUID %s 1:2 1:2] COPY completed" % _uidvalidity(client, "Archive")
            ]  # type: ignore[str-bytes-safe]
            typ, data = client.copy("1", "Nowhere")
            assert typ == "NO" and b"TRYCREATE" in data[0]
            typ, data = client._simple_command("MOVE", "3", "Trash")  # type: ignore[attr-defined]
            assert typ == "OK"
            assert client.untagged_responses.pop("EXPUNGE") == [b"3"]
            client.store("1", "+FLAGS", "\\Deleted")
            typ, data = client.expunge()
            assert typ == "OK" and data == [b"1"]
            assert _ok(client.search(None, "ALL")) == [b"1"]
            _ok(client.check())
            client.store("1", "+FLAGS", "\\Deleted")
            _ok(client.close())
            assert client.state == "AUTH"
            assert _ok(client.status("INBOX", "(MESSAGES)")) == [b'"INBOX" (MESSAGES 0)']
            assert _ok(client.status("Archive", "(MESSAGES)")) == [b'"Archive" (MESSAGES 2)']
            assert _ok(client.status("Trash", "(MESSAGES)")) == [b'"Trash" (MESSAGES 1)']
            client.select("Archive")
            _ok(client.store("1:2", "+FLAGS", "\\Deleted"))
            typ, _ = client.xatom("UID", "EXPUNGE", "2")
            assert typ == "OK" and client.untagged_responses.pop("EXPUNGE") == [b"2"]
            _ok(client.unselect())
            assert _ok(client.status("Archive", "(MESSAGES)")) == [b'"Archive" (MESSAGES 1)']
            client.logout()

        await in_thread(scenario)


def _uidvalidity(client: imaplib.IMAP4, mailbox: str) -> bytes:
    data = _ok(client.status(mailbox, "(UIDVALIDITY)"))
    found = re.search(rb"UIDVALIDITY (\d+)", data[0])  # type: ignore[arg-type]
    assert found is not None
    return found.group(1)


async def test_quota_from_the_account(tmp_path: Path, ca: trustme.CA) -> None:
    async with imap_roost(tmp_path, ca) as roost:
        store = roost.store
        await deliver(roost, [PLAIN])
        port = imap_port(roost)

        def unlimited() -> None:
            client = imaplib_login(port)
            assert _ok(client.getquotaroot("INBOX")) == [[b'"INBOX"'], [None]]
            typ, data = client.getquota('""')
            assert typ == "NO" and b"NONEXISTENT" in data[0]
            client.logout()

        await in_thread(unlimited)
        quota_bytes = 3 * 1024 * 1024
        await store.write(store.directory.set_quota, ALICE, quota_bytes, 2)
        used = len(TRACE) + len(PLAIN)

        def limited() -> None:
            client = imaplib_login(port)
            root, quota = _ok(client.getquotaroot("INBOX"))
            assert root == [b'"INBOX" ""']
            assert quota == [b'"" (STORAGE 1 3072 MESSAGE 1 2)']
            assert _ok(client.getquota('""')) == [b'"" (STORAGE 1 3072 MESSAGE 1 2)']
            _ok(client.append("INBOX", "", None, PLAIN))
            typ, data = client.append("INBOX", "", None, PLAIN)
            assert typ == "NO" and b"OVERQUOTA" in data[0]
            typ, data = client.setquota('""', "(STORAGE 1)")
            assert typ == "NO"
            typ, _ = client.getquotaroot("Nowhere")
            assert typ == "NO"
            client.logout()

        assert used < 1024
        await in_thread(limited)
