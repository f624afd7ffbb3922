"""The supervisor hands DICOM connections to its workers in turn (``net/dispatch.py``)."""

from __future__ import annotations

import socket

from orthanc_py.net.dispatch import ConnectionDispatcher


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _received(channel: socket.socket) -> list[socket.socket]:
    channel.settimeout(0.1)
    sockets = []
    while True:
        try:
            _, fds, _, _ = socket.recv_fds(channel, 16, 1)
        except TimeoutError:
            return sockets
        if not fds:
            return sockets
        sockets.append(socket.socket(fileno=fds[0]))


def test_connections_go_to_each_worker_in_turn_and_skip_a_dead_one() -> None:
    dispatcher = ConnectionDispatcher(_free_port())
    port = dispatcher.listener.getsockname()[1]
    ends = {}
    for pid in (101, 102, 103):
        ours, theirs = dispatcher.new_channel()
        dispatcher.add_worker(pid, ours)
        ends[pid] = theirs
    ends[103].close()  # a worker that died before the supervisor noticed
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(4)]
    try:
        for _ in range(4):
            dispatcher.wait_and_dispatch(0.05)
        received = {pid: _received(ends[pid]) for pid in (101, 102)}
        assert [len(received[101]), len(received[102])] == [2, 2]
        # The handed-over sockets are the clients' connections: what a client sends arrives.
        clients[0].sendall(b"ping")
        everything = received[101] + received[102]
        peers = {s.getpeername() for s in everything}
        assert peers == {c.getsockname() for c in clients}
        first = next(s for s in everything if s.getpeername() == clients[0].getsockname())
        assert first.recv(4) == b"ping"
        for s in everything:
            s.close()
    finally:
        for c in clients:
            c.close()
        dispatcher.close()
        for pid in (101, 102):
            ends[pid].close()
