"""The summary FETCH (row attributes and ENVELOPE, BODYSTRUCTURE, BODY only)
is written by its own fast path; it must give the octets of the general
path, which answers as soon as another attribute (EMAILID) is asked for."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import trustme

from tests.imap_support import Wire, deliver, imap_port, imap_roost, in_thread
from tests.unit.mime_corpus import CORPUS

EMAILID = re.compile(rb" EMAILID \([^)]*\)\)$")
SUMMARIES = (
    "UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE",
    "FLAGS MODSEQ BODYSTRUCTURE BODY",
    "ENVELOPE UID",
)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.mark.parametrize("enable", [None, "IMAP4rev2", "UTF8=ACCEPT"])
async def test_summary_path_writes_what_the_general_path_writes(
    tmp_path: Path, ca: trustme.CA, enable: str | None
) -> None:
    async with imap_roost(tmp_path, ca) as roost:
        await deliver(roost, [build() for build in CORPUS.values()])
        port = imap_port(roost)

        def scenario() -> None:
            wire = Wire(port)
            try:
                if enable:
                    wire.ok(f"ENABLE {enable}")
                wire.ok("SELECT INBOX")
                wire.ok("STORE 1:3 +FLAGS ($Label1 \\Flagged)")
                wire.ok("STORE 2 +FLAGS (\\Seen Zebra)")
                for attrs in SUMMARIES:
                    for uid in ("", "UID "):
                        fast = wire.ok(f"{uid}FETCH 1:* ({attrs})")
                        general = wire.ok(f"{uid}FETCH 1:* ({attrs} EMAILID)")
                        assert len(fast) == len(CORPUS)
                        assert [EMAILID.sub(b")", line) for line in general] == fast
            finally:
                wire.close()

        await in_thread(scenario)
