"""The driver: one task per accepted connection, running the service's handler.

`Server` joins a `Listener` to a `SessionHandler`. Each session runs in its
own task: implicit TLS first (on a TLS listener), then the handler, then the
socket is closed whatever happened. The errors of `roost.net.errors` end a
session with one log line; anything else is a bug in the handler and is
logged with its traceback, without disturbing other sessions.

`stop(grace_s)` is what the supervisor calls: stop accepting, tell every
session the server is stopping (a read ``between_commands`` raises
`ShuttingDown`, so an idle IMAP client does not hold the stop for the whole
grace time), wait up to the grace time, then cancel what is left and close
its sockets.
"""

from __future__ import annotations

import asyncio
import logging
import ssl

from roost.net.connection import ConnectionOptions, TcpConnection
from roost.net.errors import (
    ConnectionClosed,
    IdleTimeout,
    NetError,
    ShuttingDown,
    TlsHandshakeError,
)
from roost.net.interfaces import SessionHandler
from roost.net.listener import ListenAddress, Listener

__all__ = ["Server", "connect"]

_log = logging.getLogger(__name__)

# After the grace time, how long cancelled sessions get to unwind.
_CANCEL_WAIT_S = 5.0
# Least time the last replies get to leave when the grace time is spent.
_MIN_FLUSH_S = 0.2


class Server:
    """Sessions of one listener, started and stopped together."""

    def __init__(self, listener: Listener, handler: SessionHandler) -> None:
        self.listener = listener
        self._handler = handler
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False

    @property
    def addresses(self) -> tuple[ListenAddress, ...]:
        return self.listener.bound

    @property
    def active_sessions(self) -> int:
        return len(self._tasks)

    @property
    def stopping(self) -> bool:
        return self._stopping

    async def start(self) -> None:
        """Bind and accept; raises `StartupError` if an address is unusable."""
        self._stopping = False
        await self.listener.start(self._on_connection)

    async def stop(self, grace_s: float) -> None:
        """Stop accepting; let sessions finish for *grace_s*; then cancel them."""
        self._stopping = True
        name = self.listener.name
        self.listener.stop_accepting()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace_s
        sessions = set(self._tasks)
        _log.info("[%s] stopping: %d sessions, grace %.1f s", name, len(sessions), grace_s)
        for conn in self.listener.connections:
            conn.request_shutdown()
        pending: set[asyncio.Task[None]] = set()
        if sessions:
            _done, pending = await asyncio.wait(sessions, timeout=grace_s)
        for task in pending:
            task.cancel()
        if pending:
            _done, stuck = await asyncio.wait(pending, timeout=_CANCEL_WAIT_S)
            if stuck:
                _log.warning("[%s] %d sessions ignored cancellation", name, len(stuck))
        # Finished sessions' sockets may still be flushing their last reply:
        # they get what is left of the grace time, then are aborted.
        flush_s = max(deadline - loop.time(), _MIN_FLUSH_S)
        closing = self.listener.connections
        if closing:
            await asyncio.gather(*(conn.wait_closed(flush_s) for conn in closing))
        for conn in self.listener.connections:
            conn.abort()
        await self.listener.close()
        _log.info(
            "[%s] stopped: %d sessions finished within grace, %d cancelled",
            name,
            len(sessions) - len(pending),
            len(pending),
        )

    def _on_connection(self, conn: TcpConnection) -> None:
        task = asyncio.get_running_loop().create_task(
            self._session(conn), name=f"session {conn.session_id}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _session(self, conn: TcpConnection) -> None:
        sid = conn.session_id
        try:
            if self.listener.tls is not None:
                await conn.start_tls(self.listener.tls)
            await self._handler(conn)
        except TlsHandshakeError:
            pass  # start_tls logged it
        except IdleTimeout as exc:
            _log.info("[%s] %s; closing", sid, exc)
        except ShuttingDown:
            _log.debug("[%s] closed: server stopping", sid)
        except ConnectionClosed as exc:
            _log.debug("[%s] closed: %s", sid, exc)
        except NetError as exc:
            _log.info("[%s] closing: %s", sid, exc)
        except asyncio.CancelledError:
            _log.info("[%s] session cancelled", sid)
            conn.abort()
            raise
        except Exception:
            _log.exception("[%s] session failed", sid)
        finally:
            conn.close()


async def connect(
    host: str,
    port: int,
    *,
    tls: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
    options: ConnectionOptions | None = None,
    timeout_s: float = 30.0,
    label: str = "out",
) -> TcpConnection:
    """Open a client connection (probes, tests), with implicit TLS if *tls*."""
    loop = asyncio.get_running_loop()
    opts = options or ConnectionOptions()
    try:
        async with asyncio.timeout(timeout_s):
            _transport, conn = await loop.create_connection(
                lambda: TcpConnection(opts, server_side=False, label=label), host, port
            )
    except TimeoutError:
        raise ConnectionClosed(f"connecting to {host}:{port} timed out") from None
    except OSError as exc:
        raise ConnectionClosed(f"cannot connect to {host}:{port}: {exc.strerror or exc}") from exc
    if tls is not None:
        try:
            await conn.start_tls(tls, server_hostname=server_hostname or host)
        except BaseException:
            conn.abort()
            raise
    return conn
