"""The message on its way in: DATA content, or a run of BDAT chunks.

`MessageReceiver` (in `roost.proto.smtp.body`) checks and chunks the
octets; this module moves them from the receive buffer into it, counts
BDAT chunk sizes, and says what the session must answer when a DATA or a
chunk ends:

* DATA (RFC 5321 §4.1.1.4): content up to ``<CRLF>.<CRLF>``, then
  `DataEnd` for the service, or a refusal the core sends itself.
* BDAT (RFC 3030 §2): exactly the announced octets; then the core's own
  250 for a chunk that is not the last, `DataEnd` after LAST, or a
  refusal. A refused chunk is still read to its end, so its octets are
  never taken for commands.
"""

from __future__ import annotations

from collections import deque

from roost.proto.smtp import replies
from roost.proto.smtp.body import MessageReceiver
from roost.proto.smtp.buffer import ReceiveBuffer
from roost.proto.smtp.events import DataChunk, DataEnd, Event, MessageRefused
from roost.proto.smtp.replies import Reply
from roost.proto.smtp.session import BdatPlan
from roost.proto.smtp.settings import SmtpSettings


class Transfer:
    """The content of one message as it arrives; one per DATA or BDAT run.

    A transfer is in DATA mode until `start_chunk` gives it a BDAT chunk.
    The connection calls `read` until `done`, then `finish`.
    """

    __slots__ = ("_chunk", "_receiver", "_remaining", "_settings")

    def __init__(self, settings: SmtpSettings, receiver: MessageReceiver | None) -> None:
        self._settings = settings
        self._receiver = receiver
        self._chunk: BdatPlan | None = None
        self._remaining = 0

    @classmethod
    def for_message(cls, settings: SmtpSettings, *, binary: bool) -> Transfer:
        """A transfer into a new message; ``binary`` skips the line checks."""
        receiver = MessageReceiver(
            max_message_octets=settings.max_message_octets,
            max_line_octets=settings.max_data_line_octets,
            chunk_octets=settings.data_chunk_octets,
            check_lines=not binary,
        )
        return cls(settings, receiver)

    @classmethod
    def skipping(cls, settings: SmtpSettings, plan: BdatPlan) -> Transfer:
        """A transfer that reads a refused chunk, drops it, then sends
        ``plan.refusal``."""
        transfer = cls(settings, None)
        transfer._chunk = plan
        transfer._remaining = plan.size
        return transfer

    def start_chunk(self, plan: BdatPlan) -> None:
        """Read the chunk ``plan`` announced into the message (RFC 3030 §2)."""
        receiver = self._receiver
        assert receiver is not None
        limit = self._settings.max_message_octets
        if limit and receiver.octets + plan.size > limit:
            # RFC 1870 §6: refuse, once the chunk has been read.
            receiver.fail(replies.MESSAGE_TOO_BIG)
        self._chunk = plan
        self._remaining = plan.size

    @property
    def done(self) -> bool:
        """The end of data was read, or all the octets of the chunk."""
        if self._chunk is None:
            return self._receiver is not None and self._receiver.ended
        return self._remaining == 0

    def read(self, buffer: ReceiveBuffer, events: deque[Event]) -> bool:
        """Move content from ``buffer``; False when it needs more input."""
        receiver = self._receiver
        if self._chunk is None:
            assert receiver is not None
            used = receiver.feed_data(buffer.data)
            buffer.consume(used)
            emitted = self._emit_ready(receiver, events)
            return used > 0 or emitted or receiver.ended
        if not self._remaining:
            return True
        if not len(buffer):
            return False
        if receiver is None:
            used = min(self._remaining, len(buffer))
        else:
            used = receiver.feed_bdat(buffer.data, self._remaining)
            self._emit_ready(receiver, events)
        buffer.consume(used)
        self._remaining -= used
        return True

    def finish(self, events: deque[Event]) -> tuple[Reply | None, bool]:
        """Once `done`: the reply to send and whether the message is over.

        The reply is None when `DataEnd` now waits for the service, 250 for
        a BDAT chunk that is not the last, or a refusal. "Over" with a
        refusal means the core ended the transaction (`MessageRefused`).
        A skipped chunk is not over: it never belonged to a message.
        """
        receiver, chunk = self._receiver, self._chunk
        if receiver is None:
            assert chunk is not None
            return chunk.refusal, False
        if chunk is not None and chunk.last:
            receiver.finish_bdat()
        if chunk is not None and not chunk.last and receiver.problem is None:
            return replies.chunk_received(chunk.size), False
        self._receiver = None
        if receiver.problem is not None:
            events.append(MessageRefused(receiver.problem))
            return receiver.problem, True
        rest = receiver.take_rest()
        if rest:
            events.append(DataChunk(rest))
        events.append(DataEnd(receiver.octets))
        return None, True

    @staticmethod
    def _emit_ready(receiver: MessageReceiver, events: deque[Event]) -> bool:
        chunks = receiver.take_ready()
        events.extend(DataChunk(chunk) for chunk in chunks)
        return bool(chunks)
