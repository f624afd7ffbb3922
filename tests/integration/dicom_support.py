"""A DICOM server running in this test process (its own event loop in a thread), DICOM files made
with pydicom, and the DCMTK command-line tools, for the DICOM networking tests."""

from __future__ import annotations

import asyncio
import http.client
import io
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pydicom
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

from orthanc_py.app import build_context
from orthanc_py.config import settings_from_json
from orthanc_py.core.context import RequestOrigin, ServerContext
from orthanc_py.net import scp

T = TypeVar("T")

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
RLE_LOSSLESS = "1.2.840.10008.1.2.5"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server_process(tmp_path: Path, config: dict[str, Any]) -> subprocess.Popen[bytes]:
    """The real server (``python -m orthanc_py``) in a session of its own, on ``config``."""
    config_path = tmp_path / "orthanc.json"
    config_path.write_text(json.dumps({"StorageDirectory": str(tmp_path / "db"), **config}))
    return subprocess.Popen(
        [sys.executable, "-m", "orthanc_py", str(config_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def wait_for_server(http_port: int, timeout: float = 30) -> None:
    """Until ``GET /system`` answers 200 on ``http_port``."""
    deadline = time.monotonic() + timeout
    while True:
        connection = http.client.HTTPConnection("127.0.0.1", http_port, timeout=2)
        try:
            connection.request("GET", "/system")
            if connection.getresponse().status == 200:
                return
        except (OSError, http.client.HTTPException):
            pass
        finally:
            connection.close()
        if time.monotonic() > deadline:
            raise TimeoutError(f"no answer on port {http_port}")
        time.sleep(0.1)


def make_instance(
    patient: str = "P1",
    study: str = "1.2.826.0.1.3680043.8.1055.1.1",
    series: str = "1.2.826.0.1.3680043.8.1055.2.1",
    instance: str = "1.2.826.0.1.3680043.8.1055.3.1",
    *,
    sop_class: str = CT_IMAGE_STORAGE,
    patient_name: str = "DOE^JOHN",
    modality: str = "CT",
    study_description: str = "CHEST",
    transfer_syntax: str = ExplicitVRLittleEndian,
) -> bytes:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = instance
    meta.TransferSyntaxUID = ExplicitVRLittleEndian if transfer_syntax == RLE_LOSSLESS else transfer_syntax
    ds = FileDataset("x", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = instance
    ds.PatientID = patient
    ds.PatientName = patient_name
    ds.StudyInstanceUID = study
    ds.SeriesInstanceUID = series
    ds.StudyDate = "20240102"
    ds.StudyDescription = study_description
    ds.AccessionNumber = "ACC" + study[-3:]
    ds.Modality = modality
    ds.InstanceNumber = instance.rsplit(".", 1)[-1]
    ds.Rows = ds.Columns = 4
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.SamplesPerPixel = 1
    ds.PixelRepresentation = 0
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelData = bytes(16)
    if transfer_syntax == RLE_LOSSLESS:
        ds.compress(RLE_LOSSLESS)
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, ds, enforce_file_format=True, implicit_vr=transfer_syntax == "1.2.840.10008.1.2")
    return buffer.getvalue()


def write_instances(folder: Path, files: list[bytes]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, data in enumerate(files):
        path = folder / f"{number}.dcm"
        path.write_bytes(data)
        paths.append(path)
    return paths


class RunningServer:
    """orthanc_py's context and DICOM server on an event loop of their own, in a thread."""

    def __init__(self, storage: Path, configuration: dict[str, Any]) -> None:
        config = {"StorageDirectory": str(storage), "DicomPort": free_port(), "DicomAet": "ORTHANCPY"}
        config.update(configuration)
        self.settings = settings_from_json(config)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.context: ServerContext = build_context(self.settings)
        self.run(self.context.start())
        self.server = self.run(scp.start(self.context))
        assert self.server is not None
        self.port = self.server.port
        self.aet = self.settings.dicom_aet

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=60)

    def store(self, data: bytes) -> str:
        result = self.run(self.context.store(data, RequestOrigin(origin="RestApi")))
        return result.instance.ids.instance

    def close(self) -> None:
        self.run(scp.stop(self.server))
        self.run(self.context.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


def dcmtk(tool: str, *args: str | Path, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [f"/usr/bin/{tool}", *map(str, args)], capture_output=True, text=True, timeout=timeout, check=False
    )
