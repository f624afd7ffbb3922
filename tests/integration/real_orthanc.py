"""Servers started as processes for the tests: the real Orthanc 1.10.1 (Debian's package, the
reference peer of the DICOM and peers tests) with the configuration a test needs, or any command
serving the REST API (orthanc_py itself), waited for until ``/system`` answers."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from .dicom_support import free_port

ORTHANC = Path("/usr/sbin/Orthanc")


def start_http_server(
    command: list[str], port: int, auth: tuple[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], httpx.Client]:
    """Start ``command``, and return it with a client once its REST API answers on ``port``."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30, auth=auth)
    deadline = time.monotonic() + 30
    while True:
        try:
            http.get("/system").raise_for_status()
            return process, http
        except httpx.HTTPError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                http.close()
                raise
            time.sleep(0.1)


def stop_http_server(process: subprocess.Popen[bytes], http: httpx.Client) -> None:
    http.close()
    process.terminate()
    process.wait(timeout=20)


class RealOrthanc:
    """The real Orthanc with its storage in ``folder``, on free HTTP and DICOM ports, without
    plugins nor authentication unless ``configuration`` says otherwise."""

    def __init__(
        self, folder: Path, configuration: dict[str, Any], auth: tuple[str, str] | None = None
    ) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.http_port = free_port()
        self.dicom_port = int(configuration.get("DicomPort") or free_port())
        config = {
            "Name": "reference",
            "StorageDirectory": str(folder),
            "IndexDirectory": str(folder),
            "HttpPort": self.http_port,
            "DicomPort": self.dicom_port,
            "RemoteAccessAllowed": True,
            "AuthenticationEnabled": False,
            "Plugins": [],
            **configuration,
        }
        path = folder / "orthanc.json"
        path.write_text(json.dumps(config))
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.process, self.http = start_http_server([str(ORTHANC), str(path)], self.http_port, auth)

    def close(self) -> None:
        stop_http_server(self.process, self.http)
