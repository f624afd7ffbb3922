"""Running the HTTP server: in this process, or in several worker processes sharing one socket.

Python runs one thread of Python code at a time, so one process uses about one core however many
requests are in flight; Orthanc, in C++, uses them all. With ``HttpProcesses`` > 1 the server forks
that many workers after preparing the index, all accepting from the one HTTP socket it binds, each
new connection going to the worker with the fewest busy (``http_listener.py``). They share nothing
but the index and the storage area, exactly as several nodes behind a load balancer do, so the
index interface must (and does) serve concurrent transactions from several processes.
The DICOM server runs in as many processes again, of their own (restarted likewise); the supervisor
accepts DICOM connections and hands each to the next of them (``net/dispatch.py``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Coroutine
from types import FrameType
from typing import Any

from . import http_listener
from .config import Settings
from .net.dispatch import ConnectionDispatcher

logger = logging.getLogger(__name__)

MAX_AUTOMATIC_PROCESSES = 4


def process_count(settings: Settings) -> int:
    if settings.http_processes > 0:
        return settings.http_processes
    return max(1, min(os.cpu_count() or 1, MAX_AUTOMATIC_PROCESSES))


def run(settings: Settings) -> bool:
    """Serve until stopped; True when ``/tools/reset`` asked for a restart with a fresh configuration."""
    from .app import prepare, serve

    processes = process_count(settings)
    if processes <= 1:
        return bool(asyncio.run(serve(settings)))
    asyncio.run(prepare(settings))  # schema upgrades and crash recovery, once, before any worker
    host = "0.0.0.0" if settings.remote_access_allowed else settings.http_bind
    listener = http_listener.bind(host, settings.http_port)  # a port in use stops start-up here
    try:
        return _Supervisor(settings, processes, listener).run()
    finally:
        listener.close()


class _Supervisor:
    """Forks the workers, replaces one that dies, and stops them all on a signal."""

    def __init__(self, settings: Settings, processes: int, listener: socket.socket) -> None:
        self.settings = settings
        self.processes = processes
        self.listener = listener
        self.connections = http_listener.ConnectionCounts(processes)
        self.http_workers: dict[int, int] = {}  # pid: its slot in self.connections
        self.children: set[int] = set()
        self.dicom_workers: set[int] = set()  # the processes running the DICOM server
        self.dispatcher: ConnectionDispatcher | None = None  # accepts DICOM connections for them
        self.stopping = False
        self.restart = False

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True
        self.restart = signum == signal.SIGHUP

    def run(self) -> bool:
        handled = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
        previous = {sig: signal.signal(sig, self._on_signal) for sig in handled}
        try:
            if self.settings.dicom_server_enabled:  # first: a DICOM port in use stops start-up here
                self.dispatcher = ConnectionDispatcher(self.settings.dicom_port)
            for slot in range(self.processes):
                self._spawn(slot)
            if self.dispatcher is not None:
                for _ in range(self.processes):
                    self._spawn_dicom_worker()
                logger.warning(
                    "DICOM server listening with AET %s on port %d (%d processes)",
                    self.settings.dicom_aet,
                    self.settings.dicom_port,
                    self.processes,
                )
            port = self.settings.http_port
            logger.warning("HTTP server listening on port %d (%d processes)", port, self.processes)
            logger.warning("Orthanc has started")
            while not self.stopping:
                # Polling rather than a blocking wait: a signal only sets a flag, checked here.
                try:
                    pid, status = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    break
                if pid == 0:
                    if self.dispatcher is not None:
                        self.dispatcher.wait_and_dispatch(0.2)
                    else:
                        time.sleep(0.2)
                    continue
                self.children.discard(pid)
                if pid in self.http_workers:
                    self.connections.set(self.http_workers[pid], http_listener.RETIRED)  # gone with it
                if self.stopping:
                    continue
                time.sleep(0.5)
                if pid in self.dicom_workers:
                    self.dicom_workers.discard(pid)
                    if self.dispatcher is not None:
                        self.dispatcher.remove_worker(pid)
                    logger.error("DICOM worker %d stopped (status %d), starting another", pid, status)
                    self._spawn_dicom_worker()
                else:
                    logger.error("HTTP worker %d stopped (status %d), starting another", pid, status)
                    self._spawn(self.http_workers.pop(pid))
        finally:
            self._stop_children()
            if self.dispatcher is not None:
                self.dispatcher.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return self.restart

    def _spawn(self, slot: int) -> None:
        from .app import serve

        def main() -> Coroutine[Any, Any, bool]:
            listener = http_listener.BalancedListener.of(self.listener, self.connections, slot)
            return serve(self.settings, listener=listener)

        pid = self._fork("HTTP", main)
        self.http_workers[pid] = slot
        self.children.add(pid)

    def _spawn_dicom_worker(self) -> None:
        """A DICOM worker: its own event loop and context on the shared index and storage,
        serving the associations this supervisor hands it (``net/dispatch.py``)."""
        from .net.scp import serve_alone

        assert self.dispatcher is not None
        ours, theirs = self.dispatcher.new_channel()

        def main() -> Coroutine[Any, Any, None]:
            ours.close()
            return serve_alone(self.settings, theirs)

        pid = self._fork("DICOM", main)
        theirs.close()
        self.dispatcher.add_worker(pid, ours)
        self.children.add(pid)
        self.dicom_workers.add(pid)

    def _fork(self, kind: str, main: Callable[[], Coroutine[Any, Any, Any]]) -> int:
        pid = os.fork()
        if pid == 0:  # the worker
            code = 0
            try:
                if self.dispatcher is not None:  # only the supervisor accepts and hands over
                    self.dispatcher.close()
                for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                    signal.signal(sig, signal.SIG_DFL)
                asyncio.run(main())
            except KeyboardInterrupt:
                pass
            except BaseException:
                logger.exception("%s worker failed", kind)
                code = 1
            finally:
                logging.shutdown()
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        return pid

    def _stop_children(self) -> None:
        for pid in list(self.children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                self.children.discard(pid)
        deadline = time.monotonic() + 10
        while self.children and time.monotonic() < deadline:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                time.sleep(0.05)
                continue
            self.children.discard(pid)
        for pid in self.children:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        self.children.clear()
