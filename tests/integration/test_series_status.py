"""Series status from ImagesInAcquisition and the IndexInSeries (InstanceNumber) of each instance."""

from __future__ import annotations

import io
from pathlib import Path

import pydicom
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian
from starlette.testclient import TestClient

from orthanc_py.app import create_app
from orthanc_py.config import settings_from_json


def instance(number: int, expected: int = 3) -> bytes:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    meta.MediaStorageSOPInstanceUID = f"1.2.3.9.{number}"
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("x", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.PatientID = "STATUS"
    ds.StudyInstanceUID = "1.2.3.7"
    ds.SeriesInstanceUID = "1.2.3.8"
    ds.ImagesInAcquisition = expected
    ds.InstanceNumber = number
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()


def test_series_becomes_complete(tmp_path: Path) -> None:
    app = create_app(settings_from_json({"StorageDirectory": str(tmp_path)}))
    with TestClient(app, client=("127.0.0.1", 1)) as client:
        series = client.post("/instances", content=instance(1)).json()["ParentSeries"]
        client.post("/instances", content=instance(3))
        answer = client.get(f"/series/{series}").json()
        assert (answer["ExpectedNumberOfInstances"], answer["Status"]) == (3, "Missing")
        client.post("/instances", content=instance(2))
        assert client.get(f"/series/{series}").json()["Status"] == "Complete"
        assert client.get("/series?expand").json()[0]["Status"] == "Complete"
        client.post("/instances", content=instance(7))  # an index beyond the expected size
        assert client.get(f"/series/{series}").json()["Status"] == "Inconsistent"


def test_completed_series_is_logged(tmp_path: Path) -> None:
    app = create_app(settings_from_json({"StorageDirectory": str(tmp_path)}))
    with TestClient(app, client=("127.0.0.1", 1)) as client:
        for number in (1, 2, 3):
            client.post("/instances", content=instance(number))
        changes = [c["ChangeType"] for c in client.get("/changes").json()["Changes"]]
        assert changes.count("CompletedSeries") == 1
        assert changes[-1] == "CompletedSeries"
