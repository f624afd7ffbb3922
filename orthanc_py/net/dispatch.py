"""Spreading DICOM associations over several worker processes, one association at a time.

pynetdicom decodes every PDU in Python, and Python runs one thread of Python code at a time per
process: several processes are what lets several associations use several cores, as Orthanc's
threads do. The kernel could spread connections itself (``SO_REUSEPORT``), but it picks a process
by hashing addresses, so four associations often land three on one process and one on another.
Instead the supervisor (``server.py``) accepts each connection and hands its socket to the next
DICOM worker in turn over a Unix socket (``SCM_RIGHTS``); the worker serves it as if it had
accepted it itself.
"""

from __future__ import annotations

import logging
import select
import socket
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pynetdicom.transport import ThreadedAssociationServer

logger = logging.getLogger(__name__)


class ConnectionDispatcher:
    """Supervisor side: the listening socket and one hand-off channel per DICOM worker."""

    def __init__(self, port: int) -> None:
        self.listener = socket.create_server(("0.0.0.0", port), backlog=128)
        self.listener.setblocking(False)
        self.channels: dict[int, socket.socket] = {}  # worker pid -> our end of its channel
        self._turn = 0

    def new_channel(self) -> tuple[socket.socket, socket.socket]:
        """(supervisor end, worker end) of a channel for a worker about to be forked."""
        return socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)

    def add_worker(self, pid: int, channel: socket.socket) -> None:
        self.channels[pid] = channel

    def remove_worker(self, pid: int) -> None:
        channel = self.channels.pop(pid, None)
        if channel is not None:
            channel.close()

    def wait_and_dispatch(self, timeout: float) -> None:
        """Hand over the connections that arrive within ``timeout`` seconds."""
        ready, _, _ = select.select([self.listener], [], [], timeout)
        if not ready:
            return
        while True:
            try:
                connection, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            with connection:
                self._hand_over(connection)

    def _hand_over(self, connection: socket.socket) -> None:
        workers = sorted(self.channels)
        for attempt in range(len(workers)):
            pid = workers[(self._turn + attempt) % len(workers)]
            try:
                socket.send_fds(self.channels[pid], [b"c"], [connection.fileno()])
            except OSError:  # that worker is gone: the next one takes it
                continue
            self._turn = (self._turn + attempt + 1) % len(workers)
            return
        logger.error("No DICOM worker could take an incoming connection: it is closed")

    def close(self) -> None:
        for pid in list(self.channels):
            self.remove_worker(pid)
        self.listener.close()


def serve_handed_over(channel: socket.socket, server: ThreadedAssociationServer) -> None:
    """Worker side, in a thread: serve each connection the supervisor hands over, until it
    closes the channel."""
    while True:
        try:
            _, fds, _, _ = socket.recv_fds(channel, 16, 1)
        except OSError:
            return
        if not fds:  # the supervisor closed the channel
            return
        connection = socket.socket(fileno=fds[0])
        try:
            address = connection.getpeername()
        except OSError:  # the peer left already
            connection.close()
            continue
        connection.setblocking(True)
        server.process_request(connection, address)  # a thread per association, as accept() gives
