"""A small HTTPS server on 127.0.0.1 for tests: one canned answer per request.

Enough HTTP/1.1 for a client that sends one GET and reads one answer
(`Connection: close`). The answer can be changed while the server runs; a
stalled answer waits until the server stops (or 30 s), for timeout tests.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field

STALL_LIMIT_S = 30.0


@dataclass
class Answer:
    status: int = 200
    reason: str = "OK"
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "text/plain"})
    body: bytes = b""
    stall: bool = False


@dataclass
class Request:
    line: str
    headers: dict[str, str]


@dataclass
class HttpsServer:
    port: int
    answer: Answer
    requests: list[Request] = field(default_factory=list)


@asynccontextmanager
async def https_server(context: ssl.SSLContext, answer: Answer) -> AsyncIterator[HttpsServer]:
    """Serve `answer` over TLS with `context` on 127.0.0.1 at a free port."""
    stopping = asyncio.Event()
    handlers: set[asyncio.Task[None]] = set()
    state = HttpsServer(0, answer)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            line, *fields = head.decode("latin-1").split("\r\n")
            headers = {}
            for item in fields:
                name, colon, value = item.partition(":")
                if colon:
                    headers[name.strip().lower()] = value.strip()
            state.requests.append(Request(line, headers))
            reply = state.answer
            if reply.stall:
                with suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), STALL_LIMIT_S)
                return
            lines = [f"HTTP/1.1 {reply.status} {reply.reason}"]
            lines += [f"{k}: {v}" for k, v in reply.headers.items()]
            lines += [f"Content-Length: {len(reply.body)}", "Connection: close", "", ""]
            writer.write("\r\n".join(lines).encode("latin-1") + reply.body)
            await asyncio.wait_for(writer.drain(), 10)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            pass
        finally:
            writer.close()
            with suppress(OSError, TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), 5)
            handlers.discard(task)

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    state.port = server.sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        stopping.set()
        server.close()
        await server.wait_closed()
        if handlers:
            await asyncio.wait(set(handlers), timeout=10)
