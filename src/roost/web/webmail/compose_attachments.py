"""Files uploaded to a message being written: a per-compose area under the data folder.

Each compose page gets an area, `<data>/webmail/compose/<account id>/<token>/`,
named by a random token in the page's form. A file arrives as the raw body of
one POST (the page's script reports its upload progress), is written as it
streams in and is refused the moment the files would make the message larger
than the limit (base64 makes a file a third larger). Sending the message
removes its area; saving a draft keeps the files in the draft itself, so an
area is only a scratch space. Areas older than a session's whole life, and
an account's oldest beyond `compose_max_open`, are removed when a new one is
made.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from roost.control.compose_mime import Attachment, ComposeError
from roost.control.mail_view import safe_filename

AREA_FOLDER = Path("webmail") / "compose"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
_ID = re.compile(r"^[0-9]{1,6}$")
_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,62}/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}$")
MESSAGE_TYPE = "message/rfc822"
ENVELOPE_BYTES = 16_384
"""Room kept for the header fields and the body text beside the files."""


@dataclass(frozen=True, slots=True)
class Upload:
    id: str
    filename: str
    content_type: str
    size: int
    message: bool
    """A whole message forwarded as message/rfc822 (byte for byte, not base64)."""

    @property
    def encoded_size(self) -> int:
        """Its size in the message: base64 (4 octets per 3, CRLF every 76)."""
        if self.message:
            return self.size
        return (self.size + 2) // 3 * 4 * 78 // 76


def encoded_size(size: int) -> int:
    return Upload("", "", "", size, False).encoded_size


class ComposeAreas:
    def __init__(
        self,
        data_dir: Path,
        *,
        max_message_bytes: int,
        max_files: int,
        max_open: int,
        max_age_s: float,
    ) -> None:
        self._root = data_dir / AREA_FOLDER
        self.max_message_bytes = max_message_bytes
        self._max_files = max_files
        self._max_open = max_open
        self._max_age_s = max_age_s

    # --- areas

    async def new_area(self, account_id: int) -> str:
        token = secrets.token_urlsafe(24)
        await asyncio.to_thread(self._make, account_id, token)
        return token

    def _make(self, account_id: int, token: str) -> None:
        folder = self._root / str(account_id)
        folder.mkdir(parents=True, exist_ok=True)
        now = time.time()
        areas = sorted((p for p in folder.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
        keep = []
        for area in areas:
            if now - area.stat().st_mtime > self._max_age_s:
                shutil.rmtree(area, ignore_errors=True)
            else:
                keep.append(area)
        for area in keep[: max(0, len(keep) - self._max_open + 1)]:
            shutil.rmtree(area, ignore_errors=True)
        (folder / token).mkdir()

    def _area(self, account_id: int, token: str) -> Path:
        if not _TOKEN.match(token):
            raise ComposeError("This compose page is out of date: reload it.", 400)
        area = self._root / str(account_id) / token
        if not area.is_dir():
            raise ComposeError(
                "The attachments of this message are no longer kept (the page was open "
                "too long): reload the page or reopen the draft.",
                410,
            )
        return area

    async def drop(self, account_id: int, token: str) -> None:
        if _TOKEN.match(token):
            area = self._root / str(account_id) / token
            await asyncio.to_thread(shutil.rmtree, area, True)

    # --- files

    async def uploads(self, account_id: int, token: str) -> list[Upload]:
        return await asyncio.to_thread(self._uploads, self._area(account_id, token))

    def _uploads(self, area: Path) -> list[Upload]:
        found = []
        for meta in sorted(area.glob("*.json"), key=lambda p: int(p.stem)):
            fields = json.loads(meta.read_text("utf-8"))
            found.append(
                Upload(
                    meta.stem,
                    str(fields["filename"]),
                    str(fields["content_type"]),
                    int(fields["size"]),
                    bool(fields["message"]),
                )
            )
        return found

    async def add(
        self, account_id: int, token: str, filename: str, content_type: str, data: bytes
    ) -> Upload:
        """A file the page starts with (a forward's or a draft's)."""

        async def chunks() -> AsyncIterator[bytes]:
            yield data

        return await self.receive(account_id, token, filename, content_type, chunks())

    async def receive(
        self,
        account_id: int,
        token: str,
        filename: str,
        content_type: str,
        chunks: AsyncIterator[bytes],
        declared: int | None = None,
    ) -> Upload:
        """Write an upload as it arrives; `ComposeError` (413) once it cannot fit."""
        area = self._area(account_id, token)
        present = await self.uploads(account_id, token)
        if len(present) >= self._max_files:
            raise ComposeError(f"A message may carry at most {self._max_files} attachments.", 413)
        kind = content_type.split(";")[0].strip().lower()
        message = kind == MESSAGE_TYPE
        if not _TYPE.match(kind) or (kind.startswith(("multipart/", "message/")) and not message):
            kind = "application/octet-stream"
        room = self.max_message_bytes - ENVELOPE_BYTES - sum(u.encoded_size for u in present)
        if declared is not None and _size_in_message(declared, message) > room:
            raise self._too_large(declared, present)
        upload_id = str(max((int(u.id) for u in present), default=0) + 1)
        path = area / f"{upload_id}.data"
        size = 0
        handle = await asyncio.to_thread(path.open, "wb")
        try:
            async for chunk in chunks:
                size += len(chunk)
                if _size_in_message(size, message) > room:
                    raise self._too_large(size, present)
                await asyncio.to_thread(handle.write, chunk)
        except BaseException:
            handle.close()
            await asyncio.to_thread(path.unlink, True)
            raise
        handle.close()
        upload = Upload(upload_id, safe_filename(filename), kind, size, message)
        meta = {
            "filename": upload.filename,
            "content_type": kind,
            "size": size,
            "message": message,
        }
        await asyncio.to_thread((area / f"{upload_id}.json").write_text, json.dumps(meta))
        return upload

    def _too_large(self, size: int, present: list[Upload]) -> ComposeError:
        used = sum(u.size for u in present)
        return ComposeError(
            f"This file ({_mb(size)}) does not fit: the attachments of one message may come "
            f"to about {_mb(self.max_message_bytes * 3 // 4)} in all"
            + (f", and {_mb(used)} are attached already." if used else ".")
            + " Send a link to the file instead.",
            413,
        )

    async def remove(self, account_id: int, token: str, upload_id: str) -> None:
        area = self._area(account_id, token)
        if not _ID.match(upload_id):
            raise ComposeError("That is not an attachment of this message.", 404)
        for suffix in (".json", ".data"):
            await asyncio.to_thread((area / f"{upload_id}{suffix}").unlink, True)

    async def read(
        self, account_id: int, token: str
    ) -> tuple[tuple[Attachment, ...], tuple[bytes, ...]]:
        """The files (for multipart/mixed) and the forwarded messages, in upload order."""
        area = self._area(account_id, token)
        uploads = await self.uploads(account_id, token)
        files: list[Attachment] = []
        messages: list[bytes] = []
        for upload in uploads:
            data = await asyncio.to_thread((area / f"{upload.id}.data").read_bytes)
            if upload.message:
                messages.append(data)
            else:
                files.append(Attachment(upload.filename, upload.content_type, data))
        return tuple(files), tuple(messages)


def _size_in_message(size: int, message: bool) -> int:
    return size if message else encoded_size(size)


def _mb(size: int) -> str:
    return f"{size / 1_048_576:.1f} MB"
