"""Start and stop the servers under test, each with its own config and a fresh storage folder.

Three kinds of server can be started:

- ``orthanc_py``: ``python -m orthanc_py CONFIG.json`` from this checkout;
- ``orthanc-1.10``: Debian 12's ``/usr/sbin/Orthanc`` (``apt-get install orthanc``);
- ``orthanc-1.12``: Debian 13's Orthanc through ``../shared/tools/orthanc-1.12`` (a chroot wrapper).

Every server gets free loopback ports, ``"Plugins": []``, the default SQLite index, no authentication
and ``RemoteAccessAllowed`` false. CPU time and peak RSS are read from ``/proc`` for the real server
process and its descendants (for the chroot wrapper that is the ``Orthanc`` process, not the shell).
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

ServerKind = Literal["orthanc_py", "orthanc-1.10", "orthanc-1.12"]
SERVER_KINDS: tuple[ServerKind, ...] = ("orthanc_py", "orthanc-1.10", "orthanc-1.12")

REPO_ROOT = Path(__file__).resolve().parent.parent
ORTHANC_110_BINARY = Path("/usr/sbin/Orthanc")
ORTHANC_112_WRAPPER = REPO_ROOT.parent / "shared" / "tools" / "orthanc-1.12"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class ServerError(RuntimeError):
    """A server could not be started, or died."""


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports free right now (the kernel picks them, all held open at once)."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _children_by_parent() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The command name (field 2) may hold spaces and parentheses: parse after the last ')'.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    return children


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its live descendants."""
    children = _children_by_parent()
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def _process_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid``, including its reaped children (utime+stime+cutime+cstime)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # After the command name: state(3) ppid(4) ... utime(14) stime(15) cutime(16) cstime(17).
    utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
    return (utime + stime + cutime + cstime) / CLOCK_TICKS


def status_kib(pid: int, key: str) -> int:
    """A ``kB`` field of ``/proc/PID/status`` such as ``VmHWM`` (peak RSS) or ``VmRSS``."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def pss_kib(pid: int) -> int:
    """Proportional set size: resident memory with pages shared between processes split among them."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class MemoryWatch:
    """Samples a server's PSS (summed over its processes) in a thread and keeps the peak.

    For a server of several processes (orthanc_py's ``HttpProcesses``), summing VmHWM counts the pages
    the forked workers share once per process; the sampled PSS sum counts them once.
    """

    def __init__(self, server: Server, interval: float = 0.25) -> None:
        self.server, self.interval = server, interval
        self.peak_mib = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(self.interval):
                return

    def sample(self) -> None:
        pids = process_tree(self.server.pid) if self.server.pid else []
        self.peak_mib = max(self.peak_mib, sum(pss_kib(pid) for pid in pids) / 1024)

    def start(self) -> MemoryWatch:
        self._thread.start()
        return self

    def stop(self) -> float:
        """Stop sampling (again is harmless); the peak in MiB."""
        if not self._stop.is_set():
            self._stop.set()
            self._thread.join()
            self.sample()
        return self.peak_mib

    def __enter__(self) -> MemoryWatch:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class Server:
    """One server process with its own config, storage and index folder under ``workdir``."""

    kind: ServerKind
    label: str
    workdir: Path
    extra_config: dict[str, Any] = field(default_factory=dict)
    bind_root: Path | None = None  # a folder above workdir for the orthanc-1.12 chroot to bind
    http_port: int = 0
    dicom_port: int = 0
    system: dict[str, Any] = field(default_factory=dict)
    _process: subprocess.Popen[bytes] | None = None
    _server_pid: int = 0
    _log_file: Any = None

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def pid(self) -> int:
        """PID of the process that serves (the real ``Orthanc``, not a wrapper)."""
        return self._server_pid

    @property
    def version(self) -> str:
        return str(self.system.get("Version", "?"))

    def config(self) -> dict[str, Any]:
        storage = self.workdir / "storage"
        return {
            "Name": self.label,
            "HttpPort": self.http_port,
            "DicomPort": self.dicom_port,
            "StorageDirectory": str(storage),
            "IndexDirectory": str(self.workdir / "index"),
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "Plugins": [],
            **self.extra_config,
        }

    def command(self, config_path: Path) -> list[str]:
        if self.kind == "orthanc_py":
            return [sys.executable, "-m", "orthanc_py", str(config_path)]
        if self.kind == "orthanc-1.10":
            if not ORTHANC_110_BINARY.exists():
                raise ServerError(f"{ORTHANC_110_BINARY} is missing: apt-get install -y orthanc")
            return [str(ORTHANC_110_BINARY), str(config_path)]
        if not ORTHANC_112_WRAPPER.exists():
            raise ServerError(f"{ORTHANC_112_WRAPPER} is missing")
        return ["bash", str(ORTHANC_112_WRAPPER), str(config_path)]

    def start(self, timeout: float = 120.0) -> None:
        """Start on fresh ports and a fresh storage folder; return once ``GET /system`` answers."""
        if self.workdir.exists():
            shutil.rmtree(self.workdir)
        self.workdir.mkdir(parents=True)
        self.http_port, self.dicom_port = free_ports(2)
        config_path = self.workdir / "config.json"
        config_path.write_text(json.dumps(self.config(), indent=2))
        env = dict(os.environ)
        if self.kind == "orthanc_py":
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        if self.kind == "orthanc-1.12" and not self.workdir.is_relative_to("/tmp"):
            # The chroot sees /tmp and the checkout's parent; bind the work root too (e.g. /dev/shm/...).
            # The wrapper leaves its bind mounts in place, so bind one stable folder, not one per run.
            bind = str(self.bind_root or self.workdir)
            env["ORTHANC_BIND"] = os.pathsep.join(filter(None, [bind, env.get("ORTHANC_BIND")]))
        self._log_file = open(self.workdir / "server.log", "wb")  # noqa: SIM115 - closed in stop()
        self._process = subprocess.Popen(
            self.command(config_path),
            cwd=REPO_ROOT,  # the orthanc-1.12 wrapper binds the folder holding this checkout
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stop() reaches any children
        )
        deadline = time.monotonic() + timeout
        while True:
            if self._process.poll() is not None:
                raise ServerError(f"{self.label} exited with {self._process.returncode}:\n{self.log_tail()}")
            system = self._try_get_system()
            if system is not None:
                self.system = system
                break
            if time.monotonic() > deadline:
                self.stop()
                raise ServerError(f"{self.label} did not answer GET /system in {timeout:.0f} s")
            time.sleep(0.2)
        self._server_pid = self._find_server_pid()

    def _try_get_system(self) -> dict[str, Any] | None:
        connection = http.client.HTTPConnection(self.host, self.http_port, timeout=5)
        try:
            connection.request("GET", "/system")
            response = connection.getresponse()
            body = response.read()
            if response.status != 200:
                return None
            result: dict[str, Any] = json.loads(body)
            return result
        except (OSError, http.client.HTTPException, ValueError):
            return None
        finally:
            connection.close()

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _find_server_pid(self) -> int:
        assert self._process is not None
        root = self._process.pid
        if self.kind == "orthanc_py":
            return root
        for pid in process_tree(root):
            if _process_name(pid) == "Orthanc":
                return pid
        return root

    def cpu_seconds(self) -> float:
        """CPU seconds used so far by the server process and its descendants."""
        return sum(cpu_seconds(pid) for pid in process_tree(self.pid))

    def peak_rss_mib(self) -> float:
        """Peak resident memory (VmHWM), summed over the server process and its descendants."""
        return sum(status_kib(pid, "VmHWM") for pid in process_tree(self.pid)) / 1024

    def rss_mib(self) -> float:
        return sum(status_kib(pid, "VmRSS") for pid in process_tree(self.pid)) / 1024

    def storage_mib(self) -> float:
        total = sum(path.stat().st_size for path in self.workdir.rglob("*") if path.is_file())
        return total / (1024 * 1024)

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = (self.workdir / "server.log").read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, keep_files: bool = False, timeout: float = 60.0) -> None:
        """SIGTERM the server's process group, SIGKILL it if it lingers, and drop its folder."""
        process = self._process
        if process is not None and process.poll() is None:
            pgid = process.pid  # start_new_session: the group id is the pid we started
            try:
                os.killpg(pgid, signal.SIGTERM)
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(pgid, signal.SIGKILL)
                process.wait()
            except ProcessLookupError:
                pass
        self._process = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if not keep_files:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
