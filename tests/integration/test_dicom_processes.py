"""With several HTTP processes, the DICOM server runs in one dedicated process: it answers, and
what it stores is seen through the REST API of every HTTP worker."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from .dicom_support import (
    dcmtk,
    free_port,
    make_instance,
    start_server_process,
    wait_for_server,
    write_instances,
)

pytestmark = pytest.mark.dcmtk


def test_dicom_worker_beside_http_workers(tmp_path: Path) -> None:
    http_port, dicom_port = free_port(), free_port()
    config = {"HttpPort": http_port, "DicomPort": dicom_port, "DicomAet": "MULTI", "HttpProcesses": 2}
    process = start_server_process(tmp_path, config)
    try:
        wait_for_server(http_port)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            result = dcmtk("echoscu", "-aec", "MULTI", "127.0.0.1", dicom_port)
            if result.returncode == 0 and "E:" not in result.stderr:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the DICOM server does not answer")
        paths = write_instances(tmp_path / "in", [make_instance(instance=f"1.2.3.{n}") for n in range(3)])
        result = dcmtk("storescu", "-aec", "MULTI", "-aet", "SENDER", "127.0.0.1", dicom_port, *paths)
        assert result.returncode == 0, result.stderr
        for _ in range(4):  # whichever worker answers
            instances = httpx.get(f"http://127.0.0.1:{http_port}/instances", timeout=5).json()
            assert len(instances) == 3
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
