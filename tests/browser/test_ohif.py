"""OHIF, the web viewer most Orthanc sites run, lists and displays a study served by orthanc_py.

The built viewer (npm package ``@ohif/app``, its ``dist/``) is served on the same origin as
orthanc_py's DICOMweb API (``ohif_server.py``); headless Chromium (``ohif_viewer.cjs``, driven by
``playwright-core``) opens the study list, then the study. The test checks that the list shows the
patient, that the viewport shows the image (its bright disk, in the middle), and that no request
the viewer made failed.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filewriter import dcmwrite
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HERE = Path(__file__).parent
OHIF_VERSION = "3.12.0"
PLAYWRIGHT_VERSION = "1.57.0"
CACHE = Path(os.environ.get("ORTHANC_PY_TEST_CACHE", Path.home() / ".cache" / "orthanc-py-tests"))
PATIENT_NAME = "OHIF^PHANTOM"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def _npm(*args: str, cwd: Path) -> None:
    subprocess.run(["npm", *args, "--no-audit", "--no-fund"], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def viewer_assets() -> tuple[Path, Path]:
    """OHIF's ``dist/`` and a ``node_modules`` with playwright-core, fetched once from npm."""
    root = CACHE / f"ohif-{OHIF_VERSION}"
    dist = root / "package" / "dist"
    if not (dist / "index.html").exists():
        root.mkdir(parents=True, exist_ok=True)
        _npm("pack", f"@ohif/app@{OHIF_VERSION}", cwd=root)
        with tarfile.open(root / f"ohif-app-{OHIF_VERSION}.tgz") as archive:
            archive.extractall(root, filter="data")
        (root / f"ohif-app-{OHIF_VERSION}.tgz").unlink()
    modules = CACHE / f"playwright-core-{PLAYWRIGHT_VERSION}"
    if not (modules / "node_modules" / "playwright-core").exists():
        modules.mkdir(parents=True, exist_ok=True)
        _npm("install", f"playwright-core@{PLAYWRIGHT_VERSION}", cwd=modules)
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing (Debian package chromium)"
    return dist, modules / "node_modules"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def phantom_series(count: int = 6) -> tuple[str, list[bytes]]:
    """A CT series: a bright disk on a dark background, so that 'the image is shown' is checkable."""
    study, series = generate_uid(), generate_uid()
    y, x = np.mgrid[0:256, 0:256]
    disk = ((x - 128) ** 2 + (y - 128) ** 2) < 70**2
    files = []
    for k in range(count):
        pixels = np.where(disk, 1000 + 20 * k, 0).astype(np.int16)
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
        ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
        ds.PatientName, ds.PatientID = PATIENT_NAME, "OHIF-1"
        ds.PatientBirthDate, ds.PatientSex = "19700101", "O"
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.StudyDate, ds.StudyTime, ds.StudyID, ds.AccessionNumber = "20240102", "101010", "1", "A1"
        ds.StudyDescription, ds.SeriesDescription = "Phantom", "Disk"
        ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "CT", 1, k + 1
        ds.FrameOfReferenceUID = generate_uid()
        ds.ImagePositionPatient = [0, 0, float(k * 2)]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing, ds.SliceThickness = [1, 1], 2
        ds.Rows = ds.Columns = 256
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
        ds.WindowCenter, ds.WindowWidth = -500, 1000
        ds.PixelData = pixels.tobytes()
        buffer = io.BytesIO()
        dcmwrite(buffer, ds, enforce_file_format=True)
        files.append(buffer.getvalue())
    return study, files


@pytest.fixture(scope="module")
def served_study(viewer_assets, tmp_path_factory):  # type: ignore[no-untyped-def]
    dist, _ = viewer_assets
    folder = tmp_path_factory.mktemp("ohif")
    port = _free_port()
    config = folder / "orthanc.json"
    config.write_text(
        json.dumps(
            {"StorageDirectory": str(folder / "storage"), "HttpPort": port, "DicomServerEnabled": False}
        )
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.browser.ohif_server", str(config), str(dist), str(port)],
        cwd=HERE.parent.parent,
        stdout=subprocess.DEVNULL,
        stderr=open(folder / "server.log", "wb"),  # noqa: SIM115
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(base + "/dicom-web/studies", timeout=1).read()
                break
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError((folder / "server.log").read_text()) from None
                time.sleep(0.1)
        study, files = phantom_series()
        for data in files:
            # The viewer's proxy only forwards DICOMweb: upload through STOW-RS, as a modality
            # gateway would.
            request = urllib.request.Request(
                base + "/dicom-web/studies",
                data=b"--b\r\nContent-Type: application/dicom\r\n\r\n" + data + b"\r\n--b--\r\n",
                method="POST",
                headers={"Content-Type": 'multipart/related; type="application/dicom"; boundary=b'},
            )
            assert urllib.request.urlopen(request, timeout=30).status == 200
        yield base, study, folder
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_ohif_lists_and_displays_a_study(viewer_assets, served_study) -> None:  # type: ignore[no-untyped-def]
    _, node_modules = viewer_assets
    base, study, folder = served_study
    screenshot = folder / "viewer.png"
    run = subprocess.run(
        ["node", str(HERE / "ohif_viewer.cjs"), base, study, "PHANTOM", str(screenshot)],
        env={**os.environ, "NODE_PATH": str(node_modules), "CHROMIUM": CHROMIUM},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout)
    keep = os.environ.get("ORTHANC_PY_KEEP_SCREENSHOT")
    if keep:
        shutil.copy(screenshot, keep)

    failures = [r for r in result["responses"] if r["status"] >= 400] + result["failed"]
    assert not failures, f"requests that failed: {failures}"
    dicomweb = [r for r in result["responses"] if "/dicom-web/" in r["url"]]
    assert any("/metadata" in r["url"] for r in dicomweb), dicomweb
    assert any("/frames/" in r["url"] or "/rendered" in r["url"] for r in dicomweb), dicomweb
    assert result["studyListShown"], result.get("studyListError")

    box = result["viewportBox"]
    image = np.asarray(Image.open(screenshot).convert("L"), dtype=np.float64)
    left, top = int(box["x"]), int(box["y"])
    width, height = int(box["width"]), int(box["height"])
    viewport = image[top : top + height, left : left + width]
    cy, cx, r = height // 2, width // 2, max(4, min(width, height) // 20)
    centre = viewport[cy - r : cy + r, cx - r : cx + r].mean()
    corner = viewport[: 2 * r, : 2 * r].mean()
    # The disk (1000 HU above air, window -500/1000) is white; the air around it is black.
    assert centre > 150 and centre - corner > 100, (centre, corner, box)
