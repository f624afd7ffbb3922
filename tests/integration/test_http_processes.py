"""The HTTP server's connections: spread evenly over several processes, closed once the client
has closed its side."""

from __future__ import annotations

import http.client
import os
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from .dicom_support import free_port, start_server_process, wait_for_server

CLOSE_WAIT = "08"  # the state's code in /proc/net/tcp


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except OSError:
                pass
    return found


ESTABLISHED = "01"


def server_side_sockets(server_port: int) -> list[tuple[str, int, int]]:
    """State, client port and inode of each server-side socket on ``server_port`` (/proc/net/tcp)."""
    with open("/proc/net/tcp") as table:
        rows = [line.split() for line in table.readlines()[1:]]
    return [
        (row[3], int(row[2].split(":")[1], 16), int(row[9]))
        for row in rows
        if int(row[1].split(":")[1], 16) == server_port
    ]


def server_sockets(server_port: int, state: str) -> int:
    return sum(1 for row_state, _, _ in server_side_sockets(server_port) if row_state == state)


@pytest.mark.parametrize("processes", [1, 2])
def test_connections_closed_by_clients_are_closed_at_once(tmp_path: Path, processes: int) -> None:
    """Not after the keep-alive timeout (30 s): a client opening a connection per request would
    otherwise pile up sockets in CLOSE-WAIT, each holding a file descriptor of the server."""
    http_port = free_port()
    config = {"HttpPort": http_port, "DicomServerEnabled": False, "HttpProcesses": processes}
    process = start_server_process(tmp_path, config)
    try:
        wait_for_server(http_port)
        for _ in range(10):
            client = http.client.HTTPConnection("127.0.0.1", http_port, timeout=10)
            client.request("GET", "/system")
            assert client.getresponse().read()
            client.close()
        deadline = time.monotonic() + 5
        while server_sockets(http_port, CLOSE_WAIT) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server_sockets(http_port, CLOSE_WAIT) == 0
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)


def connection_owners(server_port: int, pids: list[int]) -> dict[int, int]:
    """Client port of each established connection to ``server_port``: the pid holding it."""
    inodes = {
        inode: client_port
        for state, client_port, inode in server_side_sockets(server_port)
        if state == ESTABLISHED
    }
    owners = {}
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:[") and int(target[8:-1]) in inodes:
                    owners[inodes[int(target[8:-1])]] = pid
        except OSError:
            pass
    return owners


def test_four_busy_clients_are_served_two_by_two(tmp_path: Path) -> None:
    http_port = free_port()
    config = {"HttpPort": http_port, "DicomServerEnabled": False, "HttpProcesses": 2}
    process = start_server_process(tmp_path, config)
    clients = [http.client.HTTPConnection("127.0.0.1", http_port, timeout=10) for _ in range(4)]
    try:
        wait_for_server(http_port)
        stop = time.monotonic() + 3
        closed_by_server: Counter[int] = Counter()

        def keep_busy(index: int) -> None:
            client = clients[index]
            while time.monotonic() < stop:
                client.request("GET", "/statistics")
                response = client.getresponse()
                assert response.status == 200
                response.read()
                if response.will_close:  # the next request goes out on a new connection
                    closed_by_server[index] += 1
                    client.close()

        threads = [threading.Thread(target=keep_busy, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(2.5)  # well past the time a connection counts as busy
        client_ports = {client.sock.getsockname()[1] for client in clients if client.sock is not None}
        owners = connection_owners(http_port, children(process.pid))
        for thread in threads:
            thread.join()
        per_worker = Counter(pid for port, pid in owners.items() if port in client_ports)
        assert sorted(per_worker.values()) == [2, 2], (per_worker, dict(closed_by_server))
    finally:
        for client in clients:
            client.close()
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
