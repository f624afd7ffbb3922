"""The HTTP port of several worker processes: one socket, each new connection to the least busy.

With ``HttpProcesses`` > 1 the supervisor (``server.py``) binds the port once and every worker
accepts from that socket. Left alone, the first worker to wake up takes every connection of a
burst; one socket per worker (``SO_REUSEPORT``) is no better, as the kernel spreads connections by
a hash of their addresses: four keep-alive clients end up 3 + 1 or 4 + 0 half the time, and the
process with more of them, running one thread of Python at a time, caps the throughput (a
4-client ingest runs about 10 % slower than with 2 + 2).

So each worker counts its busy connections in memory the processes share, and accepts a new one
only while no other worker has fewer. A worker that does not take its turn within a few
milliseconds (busy with a long request, or still starting) is passed over, so no connection waits
on it. And since keep-alive connections stay where they were accepted, a worker with two more
than another answers its next request with ``Connection: close``: the client, as HTTP/1.1 has it,
opens a new connection for its next request, which goes to the other worker.
"""

from __future__ import annotations

import asyncio
import errno
import mmap
import socket
import struct
import time
import weakref
from collections.abc import Callable
from functools import partial
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The count of a slot whose worker is gone: never the fewest.
RETIRED = 2**62
# How long the other workers leave a new connection to the one with the fewest.
PASS_OVER_SECONDS = 0.005
# A connection counts as busy this long after it was accepted or last carried a request.
BUSY_SECONDS = 1.0
# Refusals further apart than this are about different connections.
NEW_CONNECTION_SECONDS = 0.02
# At most one connection closed this often by a worker with too many, so as not to close several
# at once before the first has gone.
SHED_INTERVAL_SECONDS = 0.1

_COUNT = struct.Struct("q")


class ConnectionCounts:
    """Busy connections per worker slot, in anonymous shared memory: made before ``fork()``, seen
    by every worker. Only a slot's own worker writes it (the supervisor too, once it is dead)."""

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self._memory = mmap.mmap(-1, _COUNT.size * slots)
        for slot in range(slots):
            self.set(slot, RETIRED)

    def get(self, slot: int) -> int:
        return int(_COUNT.unpack_from(self._memory, _COUNT.size * slot)[0])

    def set(self, slot: int, value: int) -> None:
        _COUNT.pack_into(self._memory, _COUNT.size * slot, value)

    def has_fewest(self, slot: int) -> bool:
        mine = self.get(slot)
        return all(mine <= self.get(other) for other in range(self.slots) if other != slot)

    def has_too_many(self, slot: int) -> bool:
        """Two or more above another worker: one connection moved would even them out."""
        fewest = min((self.get(other) for other in range(self.slots) if other != slot), default=RETIRED)
        return self.get(slot) >= fewest + 2


def bind(host: str, port: int, backlog: int = 128) -> socket.socket:
    """The listening socket the supervisor makes for its workers."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # inherited by accepted sockets
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock


class BalancedListener(socket.socket):
    """The shared listening socket as one worker uses it: hand it to the event loop's server, whose
    ``accept()`` calls then take a connection only on this worker's turn (a refusal reads as "no
    connection waiting", and the loop asks again on its next round).

    A worker's count is of its busy connections: those accepted or used within ``BUSY_SECONDS``
    (a browser or a script keeps idle connections open, which cost nothing).
    """

    _counts: ConnectionCounts
    _slot: int
    _busy: dict[Any, float]  # peer address: when it was last accepted or used, oldest first
    _publishing = False
    _last_refusal = float("-inf")
    _waiting_since = 0.0
    _last_shed = float("-inf")

    @classmethod
    def of(cls, shared: socket.socket, counts: ConnectionCounts, slot: int) -> BalancedListener:
        listener = cls(fileno=shared.detach())
        listener._counts, listener._slot, listener._busy = counts, slot, {}
        counts.set(slot, 0)
        return listener

    def accept(self) -> tuple[socket.socket, Any]:
        self._start_publishing()
        if not self._counts.has_fewest(self._slot) and not self._passed_over():
            raise BlockingIOError(errno.EAGAIN, "Another worker's turn to accept")
        self._last_refusal = float("-inf")
        fd, address = self._accept()  # type: ignore[attr-defined]
        connection = CountedConnection(self.family, self.type, self.proto, fileno=fd)
        key = tuple(address[:2])
        connection.on_close(partial(self.closed, key))
        self.used(key)
        return connection, address

    def _passed_over(self) -> bool:
        """True once the workers with fewer connections have left this one waiting long enough."""
        now = time.monotonic()
        if now - self._last_refusal > NEW_CONNECTION_SECONDS:
            self._waiting_since = now
        self._last_refusal = now
        return now - self._waiting_since >= PASS_OVER_SECONDS

    def used(self, peer: Any) -> None:
        self._start_publishing()
        self._busy.pop(peer, None)
        self._busy[peer] = time.monotonic()
        self._publish()

    def closed(self, peer: Any) -> None:
        self._busy.pop(peer, None)
        self._publish()

    def _publish(self) -> None:
        horizon = time.monotonic() - BUSY_SECONDS
        while self._busy:
            peer, last_used = next(iter(self._busy.items()))
            if last_used >= horizon:
                break
            del self._busy[peer]
        self._counts.set(self._slot, len(self._busy))

    def _start_publishing(self) -> None:
        if not self._publishing:  # the first call, from the event loop
            self._publishing = True
            asyncio.get_running_loop().call_later(BUSY_SECONDS / 2, self._publish_periodically)

    def _publish_periodically(self) -> None:
        """So that the others see this worker's connections fall idle even while it receives nothing."""
        self._publish()
        asyncio.get_running_loop().call_later(BUSY_SECONDS / 2, self._publish_periodically)

    def should_close_a_connection(self) -> bool:
        if not self._counts.has_too_many(self._slot):
            return False
        now = time.monotonic()
        if now - self._last_shed < SHED_INTERVAL_SECONDS:
            return False
        self._last_shed = now
        return True


def balancing(app: ASGIApp, listener: BalancedListener) -> ASGIApp:
    """``app`` answering with ``Connection: close`` when this worker has too many connections."""

    async def balanced_app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return

        client = scope.get("client")
        if client:
            listener.used(tuple(client[:2]))

        async def send_closing_if_needed(message: Message) -> None:
            if message["type"] == "http.response.start" and listener.should_close_a_connection():
                message = {**message, "headers": [*message.get("headers", ()), (b"connection", b"close")]}
            await send(message)

        await app(scope, receive, send_closing_if_needed)

    return balanced_app


class CountedConnection(socket.socket):
    """An accepted connection that tells its listener when it is closed (or collected)."""

    _closed_callback: weakref.finalize | None = None

    def on_close(self, callback: Callable[[], None]) -> None:
        self._closed_callback = weakref.finalize(self, callback)

    def close(self) -> None:
        if self._closed_callback is not None:
            self._closed_callback()  # once: a finalizer runs at most one time
        super().close()
