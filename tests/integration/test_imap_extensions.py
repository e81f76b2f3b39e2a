"""imapclient and wire transcripts for the extensions: ENABLE, CONDSTORE,
ESEARCH and SEARCHRES, LIST-EXTENDED with SPECIAL-USE and STATUS, MOVE."""

from __future__ import annotations

from pathlib import Path

import pytest
import trustme

from tests.imap_support import (
    ALICE,
    ALICE_PASSWORD,
    MULTIPART,
    NEWSLETTER,
    PLAIN,
    deliver,
    imap_port,
    imap_roost,
    imapclient_login,
    in_thread,
    wire_transcript,
)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


async def test_imapclient_everyday_use(tmp_path: Path, ca: trustme.CA) -> None:
    async with imap_roost(tmp_path, ca) as roost:
        await deliver(roost, [PLAIN, MULTIPART, NEWSLETTER])
        port = imap_port(roost)

        def scenario() -> None:
            client = imapclient_login(port)
            assert client.has_capability("MOVE") and client.has_capability("CONDSTORE")
            assert client.enable("CONDSTORE", "X-NOPE") == [b"CONDSTORE"]
            assert client.namespace().personal == (("", "/"),)
            assert client.find_special_folder(b"\\Sent") == "Sent"
            client.create_folder("Lists")
            assert client.folder_exists("Lists")
            selected = client.select_folder("INBOX")
            assert selected[b"EXISTS"] == 3 and selected[b"HIGHESTMODSEQ"] > 0
            uids = client.search(["ALL"])
            assert uids == [1, 2, 3]
            data = client.fetch(uids, ["ENVELOPE", "FLAGS", "RFC822.SIZE", "MODSEQ"])
            assert data[1][b"ENVELOPE"].subject == b"Lunch"
            assert data[2][b"ENVELOPE"].from_[0].mailbox == b"carol"
            modseq = max(d[b"MODSEQ"][0] for d in data.values())
            client.add_flags([2], [b"\\Seen"])
            changed = client.fetch(uids, ["FLAGS"], modifiers=[f"CHANGEDSINCE {modseq}"])
            assert list(changed) == [2] and b"\\Seen" in changed[2][b"FLAGS"]
            assert client.get_flags([2])[2] == (b"\\Seen",)
            client.move([3], "Lists")
            assert client.search(["ALL"]) == [1, 2]
            assert client.folder_status("Lists", ["MESSAGES", "UNSEEN"]) == {
                b"MESSAGES": 1,
                b"UNSEEN": 1,
            }
            roots = client.get_quota_root("INBOX")
            assert roots[0].mailbox == "INBOX"
            client.unselect_folder()
            client.delete_folder("Lists")
            client.logout()

        await in_thread(scenario)


async def test_condstore_store_and_search(tmp_path: Path, ca: trustme.CA) -> None:
    async with imap_roost(tmp_path, ca) as roost:
        await deliver(roost, [PLAIN, MULTIPART])
        port = imap_port(roost)
        await in_thread(
            lambda: wire_transcript(
                port,
                f"""
                C: a1 LOGIN {ALICE} {ALICE_PASSWORD}
                S: a1 OK <?>
                C: a2 SELECT INBOX (CONDSTORE)
                S: * FLAGS <?>
                S: * 2 EXISTS
                S: * 0 RECENT
                S: * OK [UNSEEN 1] <?>
                S: * OK [PERMANENTFLAGS <?>
                S: * OK [UIDVALIDITY <?>
                S: * OK [UIDNEXT 3] <?>
                S: * OK [HIGHESTMODSEQ 2] <?>
                S: * OK [MAILBOXID (F<?>)] Ok
                S: a2 OK [READ-WRITE] SELECT completed
                C: a3 STORE 1 +FLAGS (\\Flagged)
                S: * 1 FETCH (UID 1 FLAGS (\\Flagged) MODSEQ (3))
                S: a3 OK STORE completed
                C: a4 UID STORE 1:2 (UNCHANGEDSINCE 2) +FLAGS.SILENT (\\Seen)
                S: * 2 FETCH (UID 2 MODSEQ (4))
                S: a4 OK [MODIFIED 1] Conditional STORE failed for some messages
                C: a5 SEARCH MODSEQ 4
                S: * SEARCH 2 (MODSEQ 4)
                S: a5 OK SEARCH completed
                C: a6 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 3)
                S: * 2 FETCH (UID 2 FLAGS (\\Seen) MODSEQ (4))
                S: a6 OK FETCH completed
                C: a7 STATUS INBOX (HIGHESTMODSEQ MESSAGES)
                S: * STATUS "INBOX" (HIGHESTMODSEQ 4 MESSAGES 2)
                S: a7 OK STATUS completed
                """,
            )
        )


async def test_esearch_and_searchres(tmp_path: Path, ca: trustme.CA) -> None:
    async with imap_roost(tmp_path, ca) as roost:
        await deliver(roost, [PLAIN, MULTIPART, NEWSLETTER, PLAIN])
        port = imap_port(roost)
        await in_thread(
            lambda: wire_transcript(
                port,
                f"""
                C: a1 LOGIN {ALICE} {ALICE_PASSWORD}
                S: a1 OK <?>
                C: a2 EXAMINE INBOX
                S: * FLAGS <?>
                S: * 4 EXISTS
                S: * 0 RECENT
                S: * OK [UNSEEN 1] <?>
                S: * OK [PERMANENTFLAGS ()] <?>
                S: * OK [UIDVALIDITY <?>
                S: * OK [UIDNEXT 5] <?>
                S: * OK [HIGHESTMODSEQ <?>
                S: * OK [MAILBOXID (F<?>)] Ok
                S: a2 OK [READ-ONLY] EXAMINE completed
                C: a3 SEARCH RETURN (MIN MAX COUNT ALL) FROM bob
                S: * ESEARCH (TAG "a3") MIN 1 MAX 4 ALL 1,4 COUNT 2
                S: a3 OK SEARCH completed
                C: a4 UID SEARCH RETURN () SUBJECT lunch
                S: * ESEARCH (TAG "a4") UID ALL 1,4
                S: a4 OK SEARCH completed
                C: a5 SEARCH RETURN (COUNT) FROM nobody
                S: * ESEARCH (TAG "a5") COUNT 0
                S: a5 OK SEARCH completed
                C: a6 SEARCH RETURN (SAVE) LARGER 1000
                S: a6 OK SEARCH completed
                C: a7 FETCH $ (UID)
                S: * 3 FETCH (UID 3)
                S: a7 OK FETCH completed
                C: a8 SEARCH RETURN (SAVE MIN) FROM bob
                S: * ESEARCH (TAG "a8") MIN 1
                S: a8 OK SEARCH completed
                C: a9 UID SEARCH $
                S: * SEARCH 1
                S: a9 OK SEARCH completed
                C: b1 ENABLE IMAP4rev2
                S: b1 BAD ENABLE is not allowed in the selected state
                """,
            )
        )


async def test_list_extended(tmp_path: Path, ca: trustme.CA) -> None:
    async with imap_roost(tmp_path, ca) as roost:
        await deliver(roost, [PLAIN])
        port = imap_port(roost)
        await in_thread(
            lambda: wire_transcript(
                port,
                f"""
                C: a1 LOGIN {ALICE} {ALICE_PASSWORD}
                S: a1 OK <?>
                C: a2 CREATE Work/Reports (USE (\\Flagged))
                S: a2 OK [MAILBOXID (F<?>)] CREATE completed
                C: a3 UNSUBSCRIBE Work
                S: a3 OK UNSUBSCRIBE completed
                C: a4 LIST (SPECIAL-USE) "" *
                S: * LIST (\\HasNoChildren \\Archive) "/" "Archive"
                S: * LIST (\\HasNoChildren \\Drafts) "/" "Drafts"
                S: * LIST (\\HasNoChildren \\Junk) "/" "Junk"
                S: * LIST (\\HasNoChildren \\Sent) "/" "Sent"
                S: * LIST (\\HasNoChildren \\Trash) "/" "Trash"
                S: * LIST (\\HasNoChildren \\Flagged) "/" "Work/Reports"
                S: a4 OK LIST completed
                C: a5 LIST (SUBSCRIBED RECURSIVEMATCH) "" W%
                S: * LIST (\\HasChildren) "/" "Work" (CHILDINFO ("SUBSCRIBED"))
                S: a5 OK LIST completed
                C: a6 LIST "" (INBOX Work) RETURN (SUBSCRIBED STATUS (MESSAGES UIDNEXT))
                S: * LIST (\\HasNoChildren \\Subscribed) "/" "INBOX"
                S: * STATUS "INBOX" (MESSAGES 1 UIDNEXT 2)
                S: * LIST (\\HasChildren) "/" "Work"
                S: * STATUS "Work" (MESSAGES 0 UIDNEXT 1)
                S: a6 OK LIST completed
                C: a7 GETQUOTAROOT INBOX
                S: * QUOTAROOT "INBOX"
                S: a7 OK GETQUOTAROOT completed
                C: a8 SETQUOTA "" (STORAGE 10)
                S: a8 NO [NOPERM] Quotas are set by the administrator
                """,
            )
        )
