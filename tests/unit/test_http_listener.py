"""The HTTP workers' shared listening socket (orthanc_py/http_listener.py), on real sockets."""

from __future__ import annotations

import asyncio
import os
import select
import socket
import time

import pytest

from orthanc_py import http_listener
from orthanc_py.http_listener import RETIRED, BalancedListener, ConnectionCounts


def test_counts_are_shared_with_forked_processes() -> None:
    counts = ConnectionCounts(3)
    assert [counts.get(slot) for slot in range(3)] == [RETIRED] * 3
    pid = os.fork()
    if pid == 0:
        counts.set(1, 7)
        os._exit(0)
    os.waitpid(pid, 0)
    assert counts.get(1) == 7


def test_fewest_and_too_many() -> None:
    counts = ConnectionCounts(3)
    counts.set(0, 2)
    counts.set(1, 2)
    assert counts.has_fewest(0) and counts.has_fewest(1)  # ties: either may take the next one
    assert not counts.has_fewest(2)  # a retired slot never does
    counts.set(1, 0)
    assert not counts.has_fewest(0) and counts.has_fewest(1)
    assert counts.has_too_many(0)  # 2 against 0: moving one evens them out
    counts.set(1, 1)
    assert not counts.has_too_many(0)  # 2 against 1: moving one changes nothing


def listener_pair(slots: int = 2) -> tuple[BalancedListener, ConnectionCounts, int]:
    counts = ConnectionCounts(slots)
    shared = http_listener.bind("127.0.0.1", 0)
    port = shared.getsockname()[1]
    listener = BalancedListener.of(shared, counts, 0)
    listener.setblocking(False)
    return listener, counts, port


def connect(listener: BalancedListener, port: int) -> socket.socket:
    """A client connection, once it waits in the listener's queue."""
    client = socket.create_connection(("127.0.0.1", port))
    assert select.select([listener], [], [], 5)[0]
    return client


def test_a_worker_with_more_busy_connections_leaves_a_new_one_to_another() -> None:
    async def scenario() -> None:
        listener, counts, port = listener_pair()
        counts.set(1, 0)  # the other worker: idle
        listener.used(("10.0.0.1", 1))  # this one: a busy connection
        client = connect(listener, port)
        with pytest.raises(BlockingIOError):
            listener.accept()  # the other's turn...
        await asyncio.sleep(http_listener.PASS_OVER_SECONDS * 2)
        connection, address = listener.accept()  # ...until it has let the connection wait too long
        assert address == client.getsockname()
        assert counts.get(0) == 2
        connection.close()
        assert counts.get(0) == 1  # closed: no longer counted
        client.close()
        listener.close()

    asyncio.run(scenario())


def test_the_worker_with_fewest_accepts_at_once() -> None:
    async def scenario() -> None:
        listener, counts, port = listener_pair()
        counts.set(1, 3)
        client = connect(listener, port)
        connection, _ = listener.accept()
        assert counts.get(0) == 1
        del connection  # collected without close(): still uncounted
        assert counts.get(0) == 0
        client.close()
        listener.close()

    asyncio.run(scenario())


def test_idle_connections_stop_counting() -> None:
    async def scenario() -> None:
        listener, counts, _port = listener_pair()
        listener.used(("10.0.0.1", 1))
        listener.used(("10.0.0.2", 2))
        assert counts.get(0) == 2
        await asyncio.sleep(http_listener.BUSY_SECONDS * 1.6)  # the periodic update has run meanwhile
        assert counts.get(0) == 0
        listener.close()

    asyncio.run(scenario())


def test_a_worker_with_too_many_closes_one_connection_at_a_time() -> None:
    async def scenario() -> None:
        listener, counts, _port = listener_pair()
        counts.set(1, 0)
        for n in range(3):
            listener.used(("10.0.0.1", n))
        assert listener.should_close_a_connection()
        assert not listener.should_close_a_connection()  # the first one has not gone yet
        time.sleep(http_listener.SHED_INTERVAL_SECONDS * 1.5)
        assert listener.should_close_a_connection()
        counts.set(1, 2)
        time.sleep(http_listener.SHED_INTERVAL_SECONDS * 1.5)
        assert not listener.should_close_a_connection()  # 3 against 2: as even as it gets
        listener.close()

    asyncio.run(scenario())


def test_the_asgi_wrapper_adds_connection_close_only_when_needed() -> None:
    async def scenario() -> list[list[tuple[bytes, bytes]]]:
        listener, counts, _port = listener_pair()
        counts.set(1, 1)

        async def app(scope, receive, send):  # type: ignore[no-untyped-def]
            await send({"type": "http.response.start", "status": 200, "headers": [(b"a", b"b")]})
            await send({"type": "http.response.body", "body": b""})

        balanced = http_listener.balancing(app, listener)
        sent: list[list[tuple[bytes, bytes]]] = []

        async def send(message):  # type: ignore[no-untyped-def]
            if message["type"] == "http.response.start":
                sent.append(list(message["headers"]))

        async def receive():  # type: ignore[no-untyped-def]
            return {"type": "http.request", "body": b"", "more_body": False}

        for port in (1, 2, 3):  # the third busy connection makes 3 against 1
            await balanced({"type": "http", "client": ("10.0.0.1", port)}, receive, send)
        listener.close()
        return sent

    sent = asyncio.run(scenario())
    assert sent[0] == [(b"a", b"b")] and sent[1] == [(b"a", b"b")]
    assert sent[2] == [(b"a", b"b"), (b"connection", b"close")]
