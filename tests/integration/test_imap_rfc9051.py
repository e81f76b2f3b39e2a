"""The examples of RFC 9051's command sections (§6), as wire transcripts
against a running Roost: the same commands and the same response shapes,
with our own mailboxes and messages.

Each test names the section it follows. Lines are exact where the RFC's
example is exact about the protocol; ``<?>`` holes stand for what varies
(UIDVALIDITY, dates, the human-readable text after a status, which RFC 9051
§7.1 leaves to the server). Where Roost's answer is equally valid but not
the example's (response order, quoting), the test says so.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import trustme

from tests.imap_support import (
    ALICE,
    ALICE_PASSWORD,
    MULTIPART,
    NEWSLETTER,
    PLAIN,
    Wire,
    deliver,
    imap_port,
    imap_roost,
    in_thread,
    wire_transcript,
)

REV2 = f"""
C: t1 LOGIN {ALICE} {ALICE_PASSWORD}
S: t1 OK <?>
C: t2 ENABLE IMAP4rev2
S: * ENABLED IMAP4rev2
S: t2 OK <?>
"""
"""Every example below speaks IMAP4rev2, as RFC 9051's examples do."""

MEMO = (
    b"Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n"
    b"From: Fred Foobar <foobar@example.com>\r\n"
    b"Subject: afternoon meeting\r\n"
    b"To: alice@example.org\r\n"
    b"Message-Id: <B27397-0100000@example.com>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n"
    b"\r\n"
    b"Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n"
)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


async def _run(tmp_path: Path, ca: trustme.CA, script: str, messages: list[bytes]) -> None:
    async with imap_roost(tmp_path, ca) as roost:
        if messages:
            await deliver(roost, messages)
        port = imap_port(roost)
        await in_thread(lambda: wire_transcript(port, REV2 + script))


async def test_any_state_commands(tmp_path: Path, ca: trustme.CA) -> None:
    """§6.1.1 CAPABILITY, §6.1.2 NOOP, §6.1.3 LOGOUT."""
    await _run(
        tmp_path,
        ca,
        """
        C: abcd CAPABILITY
        S: * CAPABILITY IMAP4rev1 IMAP4rev2 <?>
        S: abcd OK <?>
        C: a002 NOOP
        S: a002 OK <?>
        C: A023 LOGOUT
        S: * BYE <?>
        S: A023 OK <?>
        """,
        [],
    )


async def test_authenticate_plain_and_login(tmp_path: Path, ca: trustme.CA) -> None:
    """§6.2.2 AUTHENTICATE (an empty challenge, then the response; and the
    initial response of SASL-IR), §6.2.3 LOGIN with a wrong password."""
    token = base64.b64encode(f"\0{ALICE}\0{ALICE_PASSWORD}".encode()).decode()
    async with imap_roost(tmp_path, ca) as roost:
        port = imap_port(roost)
        await in_thread(
            lambda: wire_transcript(
                port,
                f"""
                C: A001 AUTHENTICATE PLAIN
                S: +<?>
                C: {token}
                S: A001 OK <?>
                C: A002 LOGOUT
                S: * BYE <?>
                S: A002 OK <?>
                """,
            )
        )
        await in_thread(
            lambda: wire_transcript(
                port,
                f"""
                C: a001 LOGIN {ALICE} wrong-password
                S: a001 NO [AUTHENTICATIONFAILED] <?>
                C: A002 AUTHENTICATE PLAIN {token}
                S: A002 OK <?>
                """,
            )
        )


async def test_enable(tmp_path: Path, ca: trustme.CA) -> None:
    """§6.3.1: ENABLE answers with the extensions it enabled, and ignores
    ones it does not know."""
    async with imap_roost(tmp_path, ca) as roost:
        port = imap_port(roost)
        await in_thread(
            lambda: wire_transcript(
                port,
                f"""
                C: t1 LOGIN {ALICE} {ALICE_PASSWORD}
                S: t1 OK <?>
                C: t2 ENABLE IMAP4rev2 CONDSTORE X-GOOD-IDEA
                S: * ENABLED IMAP4rev2 CONDSTORE
                S: t2 OK <?>
                """,
            )
        )


async def test_select_and_examine(tmp_path: Path, ca: trustme.CA) -> None:
    """§6.3.2 SELECT and §6.3.3 EXAMINE. The same responses as the example
    (FLAGS, EXISTS, PERMANENTFLAGS, UIDVALIDITY, UIDNEXT, LIST) in another
    order, which §6.3.2 leaves open, plus the HIGHESTMODSEQ of CONDSTORE and
    the MAILBOXID of OBJECTID; no RECENT in IMAP4rev2 (§6.3.2)."""
    await _run(
        tmp_path,
        ca,
        """
        C: A142 SELECT INBOX
        S: * FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)
        S: * 3 EXISTS
        S: * OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] <?>
        S: * OK [UIDVALIDITY <?>] <?>
        S: * OK [UIDNEXT 4] <?>
        S: * OK [HIGHESTMODSEQ <?>] <?>
        S: * OK [MAILBOXID (<?>)] <?>
        S: * LIST () "/" "INBOX"
        S: A142 OK [READ-WRITE] <?>
        C: A932 EXAMINE INBOX
        S: * OK [CLOSED] <?>
        S: * FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)
        S: * 3 EXISTS
        S: * OK [PERMANENTFLAGS ()] <?>
        S: * OK [UIDVALIDITY <?>] <?>
        S: * OK [UIDNEXT 4] <?>
        S: * OK [HIGHESTMODSEQ <?>] <?>
        S: * OK [MAILBOXID (<?>)] <?>
        S: * LIST () "/" "INBOX"
        S: A932 OK [READ-ONLY] <?>
        C: A933 SELECT no-such-box
        S: * OK [CLOSED] <?>
        S: A933 NO [NONEXISTENT] <?>
        C: A934 FETCH 1 FLAGS
        S: A934 BAD <?>
        """,
        [PLAIN, MULTIPART, NEWSLETTER],
    )


async def test_create_delete_rename(tmp_path: Path, ca: trustme.CA) -> None:
    """§6.3.4 CREATE (a trailing separator, intermediate names created),
    §6.3.5 DELETE (a name with inferiors), §6.3.6 RENAME (inferiors move
    with it; a target that exists)."""
    await _run(
        tmp_path,
        ca,
        """
        C: A003 CREATE owatagusiam/
        S: A003 OK <?>
        C: A004 CREATE owatagusiam/blurdybloop
        S: A004 OK <?>
        C: A005 CREATE owatagusiam
        S: A005 NO [ALREADYEXISTS] <?>
        C: A006 CREATE foo/bar/zap
        S: A006 OK <?>
        C: A682 LIST "" foo*
        S: * LIST (\\HasChildren) "/" "foo"
        S: * LIST (\\HasChildren) "/" "foo/bar"
        S: * LIST (\\HasNoChildren) "/" "foo/bar/zap"
        S: A682 OK <?>
        C: A683 RENAME foo zowie
        S: A683 OK <?>
        C: A684 LIST "" zowie*
        S: * LIST (\\HasChildren) "/" "zowie"
        S: * LIST (\\HasChildren) "/" "zowie/bar"
        S: * LIST (\\HasNoChildren) "/" "zowie/bar/zap"
        S: A684 OK <?>
        C: A685 LIST "" foo*
        S: A685 OK <?>
        C: A686 RENAME zowie owatagusiam
        S: A686 NO [ALREADYEXISTS] <?>
        C: A687 DELETE owatagusiam/blurdybloop
        S: A687 OK <?>
        C: A688 DELETE owatagusiam/blurdybloop
        S: A688 NO [NONEXISTENT] <?>
        C: A689 DELETE INBOX
        S: A689 NO <?>
        """,
        [],
    )


async def test_rename_inbox(tmp_path: Path, ca: trustme.CA) -> None:
    """§6.3.6: renaming INBOX moves its messages to the new name and leaves
    INBOX empty."""
    await _run(
        tmp_path,
        ca,
        """
        C: A1 RENAME INBOX old-mail
        S: A1 OK <?>
        C: A2 STATUS INBOX (MESSAGES)
        S: * STATUS "INBOX" (MESSAGES 0)
        S: A2 OK <?>
        C: A3 STATUS old-mail (MESSAGES)
        S: * STATUS "old-mail" (MESSAGES 2)
        S: A3 OK <?>
        """,
        [PLAIN, MULTIPART],
    )


async def test_subscribe_list_namespace_status(tmp_path: Path, ca: trustme.CA) -> None:
    """§6.3.7 SUBSCRIBE, §6.3.8 UNSUBSCRIBE, §6.3.9 LIST (the empty name
    gives the separator; `%` stops at a level; CREATE subscribes in Roost,
    so the ancestors are subscribed too), §6.3.10 NAMESPACE,
    §6.3.11 STATUS (the items in the order asked for; Roost always quotes
    the name, as the grammar allows)."""
    await _run(
        tmp_path,
        ca,
        """
        C: A001 CREATE news/comp/mail/misc
        S: A001 OK <?>
        C: A002 SUBSCRIBE news/comp/mail/misc
        S: A002 OK <?>
        C: A101 LIST "" ""
        S: * LIST (\\Noselect) "/" ""
        S: A101 OK <?>
        C: A102 LIST "news/" "comp/mail/%"
        S: * LIST (\\HasNoChildren) "/" "news/comp/mail/misc"
        S: A102 OK <?>
        C: A103 LIST (SUBSCRIBED) "" "news/comp/mail/*"
        S: * LIST (\\HasNoChildren \\Subscribed) "/" "news/comp/mail/misc"
        S: A103 OK <?>
        C: A104 UNSUBSCRIBE news/comp/mail/misc
        S: A104 OK <?>
        C: A105 LIST (SUBSCRIBED) "" "news/comp/mail/*"
        S: A105 OK <?>
        C: A106 NAMESPACE
        S: * NAMESPACE (("" "/")) NIL NIL
        S: A106 OK <?>
        C: A042 STATUS INBOX (UIDNEXT MESSAGES)
        S: * STATUS "INBOX" (UIDNEXT 3 MESSAGES 2)
        S: A042 OK <?>
        """,
        [PLAIN, MULTIPART],
    )


def _append_script(message: bytes) -> str:
    lines = message.decode().split("\r\n")[:-1]
    body = "\n".join(f"C: {line}" if line else "C:" for line in lines)
    return f"""
        C: A003 APPEND saved-messages (\\Seen) {{{len(message)}}}
        S: + <?>
        {body}
        C:
        S: A003 NO [TRYCREATE] <?>
        C: A004 CREATE saved-messages
        S: A004 OK <?>
        C: A005 APPEND saved-messages (\\Seen) {{{len(message)}}}
        S: + <?>
        {body}
        C:
        S: A005 OK [APPENDUID <?> 1] <?>
        C: A006 SELECT saved-messages
        S: * FLAGS <?>
        S: * 1 EXISTS
        S: * OK [PERMANENTFLAGS <?>
        S: * OK [UIDVALIDITY <?>
        S: * OK [UIDNEXT 2] <?>
        S: * OK [HIGHESTMODSEQ <?>
        S: * OK [MAILBOXID <?>
        S: * LIST () "/" "saved-messages"
        S: A006 OK [READ-WRITE] <?>
        C: A007 FETCH 1 (FLAGS RFC822.SIZE ENVELOPE)
        S: * 1 FETCH (FLAGS (\\Seen) RFC822.SIZE {len(message)} ENVELOPE \
("Mon, 7 Feb 1994 21:52:25 -0800" "afternoon meeting" \
(("Fred Foobar" NIL "foobar" "example.com")) (("Fred Foobar" NIL "foobar" "example.com")) \
(("Fred Foobar" NIL "foobar" "example.com")) ((NIL NIL "alice" "example.org")) \
NIL NIL NIL "<B27397-0100000@example.com>"))
        S: A007 OK <?>
    """


async def test_append(tmp_path: Path, ca: trustme.CA) -> None:
    """§6.3.12 APPEND with a synchronising literal: to a mailbox that does
    not exist (NO [TRYCREATE], after the literal: the go-ahead comes before
    the mailbox is looked up), then to one that does, with the APPENDUID of
    UIDPLUS (RFC 4315)."""
    await _run(tmp_path, ca, _append_script(MEMO), [])


async def test_close_unselect_expunge(tmp_path: Path, ca: trustme.CA) -> None:
    """§6.4.1 CLOSE (expunges silently), §6.4.2 UNSELECT (does not),
    §6.4.3 EXPUNGE. Roost announces expunges from the highest number down,
    so no number shifts under the client; the example goes upwards and
    repeats numbers as they shift (§7.5.1 allows both)."""
    await _run(
        tmp_path,
        ca,
        """
        C: A1 SELECT INBOX
        S: * FLAGS <?>
        S: * 5 EXISTS
        S: * OK [PERMANENTFLAGS <?>
        S: * OK [UIDVALIDITY <?>
        S: * OK [UIDNEXT 6] <?>
        S: * OK [HIGHESTMODSEQ <?>
        S: * OK [MAILBOXID <?>
        S: * LIST () "/" "INBOX"
        S: A1 OK [READ-WRITE] <?>
        C: A2 STORE 2,4 +FLAGS.SILENT (\\Deleted)
        S: A2 OK <?>
        C: A202 EXPUNGE
        S: * 4 EXPUNGE
        S: * 2 EXPUNGE
        S: A202 OK <?>
        C: A3 STORE 1 +FLAGS.SILENT (\\Deleted)
        S: A3 OK <?>
        C: A4 UNSELECT
        S: A4 OK <?>
        C: A5 STATUS INBOX (MESSAGES)
        S: * STATUS "INBOX" (MESSAGES 3)
        S: A5 OK <?>
        C: A6 SELECT INBOX
        S: * FLAGS <?>
        S: * 3 EXISTS
        S: * OK [PERMANENTFLAGS <?>
        S: * OK [UIDVALIDITY <?>
        S: * OK [UIDNEXT 6] <?>
        S: * OK [HIGHESTMODSEQ <?>
        S: * OK [MAILBOXID <?>
        S: * LIST () "/" "INBOX"
        S: A6 OK [READ-WRITE] <?>
        C: A341 CLOSE
        S: A341 OK <?>
        C: A7 STATUS INBOX (MESSAGES)
        S: * STATUS "INBOX" (MESSAGES 2)
        S: A7 OK <?>
        """,
        [PLAIN, MULTIPART, NEWSLETTER, MEMO, PLAIN],
    )


async def test_search(tmp_path: Path, ca: trustme.CA) -> None:
    """§6.4.4 SEARCH in IMAP4rev2: ESEARCH answers tagged with the command
    (RFC 9051 §7.3.4), RETURN options, a literal with CHARSET UTF-8, and
    UID SEARCH (§6.4.9)."""
    await _run(
        tmp_path,
        ca,
        """
        C: A1 SELECT INBOX
        S: * FLAGS <?>
        S: * 4 EXISTS
        S: * OK [PERMANENTFLAGS <?>
        S: * OK [UIDVALIDITY <?>
        S: * OK [UIDNEXT 5] <?>
        S: * OK [HIGHESTMODSEQ <?>
        S: * OK [MAILBOXID <?>
        S: * LIST () "/" "INBOX"
        S: A1 OK [READ-WRITE] <?>
        C: A2 STORE 2,4 +FLAGS.SILENT (\\Flagged)
        S: A2 OK <?>
        C: A282 SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"
        S: * ESEARCH (TAG "A282") MIN 2 COUNT 2
        S: A282 OK <?>
        C: A283 SEARCH TEXT "meeting" NOT FROM "Carol"
        S: * ESEARCH (TAG "A283") ALL 4
        S: A283 OK <?>
        C: A284 SEARCH SUBJECT "nothing like this"
        S: * ESEARCH (TAG "A284")
        S: A284 OK <?>
        C: A285 SEARCH RETURN () FLAGGED
        S: * ESEARCH (TAG "A285") ALL 2,4
        S: A285 OK <?>
        C: A286 SEARCH CHARSET UTF-8 SUBJECT {5+}
        C: café
        S: * ESEARCH (TAG "A286") ALL 2
        S: A286 OK <?>
        C: A287 UID SEARCH 1:4 UNFLAGGED
        S: * ESEARCH (TAG "A287") UID ALL 1,3
        S: A287 OK <?>
        """,
        [PLAIN, MULTIPART, NEWSLETTER, MEMO],
    )


async def test_fetch_store_copy_move_uid(tmp_path: Path, ca: trustme.CA) -> None:
    """§6.4.5 FETCH (header fields; BODY[] sets \\Seen), §6.4.6 STORE,
    §6.4.7 COPY (COPYUID of UIDPLUS; TRYCREATE), §6.4.8 MOVE (COPYUID in an
    untagged OK before the EXPUNGE), §6.4.9 UID FETCH (a UID range larger
    than the mailbox names what exists)."""
    await _run(
        tmp_path,
        ca,
        """
        C: A0 CREATE MEETING
        S: A0 OK <?>
        C: A1 SELECT INBOX
        S: * FLAGS <?>
        S: * 4 EXISTS
        S: * OK [PERMANENTFLAGS <?>
        S: * OK [UIDVALIDITY <?>
        S: * OK [UIDNEXT 5] <?>
        S: * OK [HIGHESTMODSEQ <?>
        S: * OK [MAILBOXID <?>
        S: * LIST () "/" "INBOX"
        S: A1 OK [READ-WRITE] <?>
        C: A654 FETCH 4 (FLAGS BODY.PEEK[HEADER.FIELDS (DATE FROM)])
        S: * 4 FETCH (FLAGS () BODY[HEADER.FIELDS (DATE FROM)] {80}
        S: Date: Mon, 7 Feb 1994 21:52:25 -0800
        S: From: Fred Foobar <foobar@example.com>
        S:
        S: )
        S: A654 OK <?>
        C: A655 FETCH 4 BODY[TEXT]
        S: * 4 FETCH (BODY[TEXT] {55}
        S: Hello Joe, do you think we can meet at 3:30 tomorrow?
        S:  FLAGS (\\Seen))
        S: A655 OK <?>
        C: A003 STORE 2:3 +FLAGS (\\Deleted)
        S: * 2 FETCH (FLAGS (\\Deleted))
        S: * 3 FETCH (FLAGS (\\Deleted))
        S: A003 OK <?>
        C: A004 STORE 2 FLAGS (\\Answered $Forwarded)
        S: * 2 FETCH (FLAGS (\\Answered $Forwarded))
        S: A004 OK <?>
        C: A005 STORE 3 -FLAGS.SILENT (\\Deleted)
        S: A005 OK <?>
        C: A006 COPY 2:4 MEETING
        S: A006 OK [COPYUID <?> 2:4 1:3] <?>
        C: A007 COPY 1 NO-SUCH-PLACE
        S: A007 NO [TRYCREATE] <?>
        C: a008 MOVE 1:2 MEETING
        S: * OK [COPYUID <?> 1:2 4:5] <?>
        S: * 2 EXPUNGE
        S: * 1 EXPUNGE
        S: a008 OK <?>
        C: A999 UID FETCH 1:4827313 FLAGS
        S: * 1 FETCH (UID 3 FLAGS ())
        S: * 2 FETCH (UID 4 FLAGS (\\Seen))
        S: A999 OK <?>
        """,
        [PLAIN, MULTIPART, NEWSLETTER, MEMO],
    )


async def test_noop_reports_what_another_session_did(tmp_path: Path, ca: trustme.CA) -> None:
    """§6.1.2: a NOOP brings the expunges, new messages and flag changes
    that happened elsewhere (§7.5.1 EXPUNGE, §7.4.1 EXISTS, §7.5.2 FETCH)."""
    async with imap_roost(tmp_path, ca) as roost:
        await deliver(roost, [PLAIN, MULTIPART, NEWSLETTER])
        port = imap_port(roost)
        watcher = await in_thread(lambda: Wire(port))
        other = await in_thread(lambda: Wire(port))
        try:
            await in_thread(lambda: watcher.ok("SELECT INBOX"))
            await in_thread(lambda: other.ok("SELECT INBOX"))
            await in_thread(lambda: other.ok("STORE 2 +FLAGS.SILENT (\\Deleted)"))
            await in_thread(lambda: other.ok("STORE 3 +FLAGS.SILENT (\\Seen)"))
            await in_thread(lambda: other.ok("EXPUNGE"))
            await deliver(roost, [MEMO])
            untagged, done = await in_thread(lambda: watcher.command("NOOP"))
        finally:
            watcher.close()
            other.close()
        assert done.startswith(b"OK")
        assert b"* 2 EXPUNGE" in untagged
        assert b"* 3 EXISTS" in untagged
        # Message 3 became message 2 with the expunge; its new flags follow.
        assert b"* 2 FETCH (UID 3 FLAGS (\\Seen))" in untagged
        assert untagged.index(b"* 2 EXPUNGE") < untagged.index(b"* 3 EXISTS")
