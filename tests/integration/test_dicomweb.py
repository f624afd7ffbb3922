"""DICOMweb against orthanc_py served over HTTP, driven by the ``dicomweb-client`` library.

STOW-RS stores, QIDO-RS searches, WADO-RS returns instances, metadata, frames and bulk data; the
metadata kept in the index is dropped with its instance. The server runs in a thread (hypercorn,
free port) with an empty storage per module.
"""

from __future__ import annotations

import asyncio
import io
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import pydicom
import pytest
from dicomweb_client.api import DICOMwebClient
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from orthanc_py.app import create_app
from orthanc_py.config import settings_from_json
from orthanc_py.dicomweb.multipart import parse_media_type, parse_multipart

STUDY_A, STUDY_B = "1.2.826.0.1.3680043.99.1", "1.2.826.0.1.3680043.99.2"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_instance(
    study: str, series: int, number: int, *, frames: int = 1, date: str = "20200101", name: str = "DOE^JOHN"
) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    meta.MediaStorageSOPInstanceUID = f"{study}.{series}.{number}"
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("x", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.PatientID = "P-" + study[-1]
    ds.PatientName = name
    ds.StudyInstanceUID = study
    ds.SeriesInstanceUID = f"{study}.{series}"
    ds.StudyDate = date
    ds.Modality = "MR" if series == 2 else "CT"
    ds.SeriesNumber = series
    ds.InstanceNumber = number
    ds.Rows, ds.Columns = 4, 3
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.PixelSpacing = [0.5, 0.5]
    if frames > 1:
        ds.NumberOfFrames = frames
    pixels = np.arange(frames * 12, dtype=np.uint16).reshape(frames, 4, 3) + 100 * number
    ds.PixelData = pixels.tobytes()
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return pydicom.dcmread(io.BytesIO(buffer.getvalue()))


class Server:
    """orthanc_py on a free port, in a thread with its own event loop."""

    def __init__(
        self, folder: Path, dicomweb: dict[str, object] | None = None, extra: dict[str, object] | None = None
    ) -> None:
        from hypercorn.asyncio import serve
        from hypercorn.config import Config

        self.port = free_port()
        settings = settings_from_json(
            {
                "StorageDirectory": str(folder),
                "DicomPort": free_port(),
                "HttpPort": self.port,
                "DicomWeb": dicomweb or {},
                **(extra or {}),
            }
        )
        self.app = create_app(settings)
        config = Config()
        config.bind = [f"127.0.0.1:{self.port}"]
        config.accesslog = None
        self.loop = asyncio.new_event_loop()
        self.stop = asyncio.Event()
        self.thread = threading.Thread(
            target=self.loop.run_until_complete,
            args=(serve(self.app, config, shutdown_trigger=self._wait_stop),),  # type: ignore[arg-type]
            daemon=True,
        )
        self.thread.start()
        for _ in range(200):
            try:
                httpx.get(f"{self.url}/system", timeout=1)
                break
            except httpx.HTTPError:
                threading.Event().wait(0.05)

    async def _wait_stop(self) -> None:
        self.stop = asyncio.Event()
        await self.stop.wait()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(timeout=10)


@contextmanager
def running_server(
    folder: Path, dicomweb: dict[str, object] | None = None, extra: dict[str, object] | None = None
) -> Iterator[Server]:
    server = Server(folder, dicomweb, extra)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("dicomweb")) as running:
        yield running


@pytest.fixture(scope="module")
def client(server: Server) -> DICOMwebClient:
    dicomweb = DICOMwebClient(url=f"{server.url}/dicom-web")
    instances = [
        make_instance(STUDY_A, 1, 1),
        make_instance(STUDY_A, 1, 2),
        make_instance(STUDY_A, 2, 1, frames=3),
        make_instance(STUDY_B, 1, 1, date="20190615", name="ROE^JANE"),
    ]
    answer = dicomweb.store_instances(instances)
    assert len(answer.ReferencedSOPSequence) == 4
    assert "FailedSOPSequence" not in answer
    return dicomweb


def test_search_levels(client: DICOMwebClient) -> None:
    studies = client.search_for_studies()
    assert sorted(s["0020000D"]["Value"][0] for s in studies) == [STUDY_A, STUDY_B]
    study_a = next(s for s in studies if s["0020000D"]["Value"][0] == STUDY_A)
    assert study_a["00201206"]["Value"] == [2]  # NumberOfStudyRelatedSeries
    assert study_a["00201208"]["Value"] == [3]
    assert study_a["00080061"]["Value"] == ["CT", "MR"]
    assert study_a["00100010"]["Value"] == [{"Alphabetic": "DOE^JOHN"}]
    assert study_a["00081190"]["Value"][0].endswith(f"/dicom-web/studies/{STUDY_A}")
    series = client.search_for_series(STUDY_A)
    assert sorted(s["0020000E"]["Value"][0] for s in series) == [f"{STUDY_A}.1", f"{STUDY_A}.2"]
    instances = client.search_for_instances(STUDY_A, f"{STUDY_A}.2")
    assert [i["00080018"]["Value"][0] for i in instances] == [f"{STUDY_A}.2.1"]
    assert instances[0]["00280008"]["Value"] == [3]  # NumberOfFrames, read from the file
    assert len(client.search_for_instances()) == 4


def test_search_matching(client: DICOMwebClient) -> None:
    def uids(**filters: str) -> list[str]:
        found = client.search_for_studies(search_filters=filters)
        return sorted(s["0020000D"]["Value"][0] for s in found)

    assert uids(PatientName="ROE*") == [STUDY_B]
    assert uids(StudyDate="20190101-20191231") == [STUDY_B]
    assert uids(StudyDate="20200101-") == [STUDY_A]
    assert uids(StudyInstanceUID=f"{STUDY_A},{STUDY_B}") == [STUDY_A, STUDY_B]
    assert uids(ModalitiesInStudy="MR") == [STUDY_A]
    assert uids(**{"00100020": "P-2"}) == [STUDY_B]
    assert len(client.search_for_studies(limit=1)) == 1
    assert len(client.search_for_studies(limit=1, offset=1)) == 1
    assert client.search_for_studies(offset=2) == []
    found = client.search_for_studies(search_filters={"StudyInstanceUID": STUDY_B}, fields=["PixelSpacing"])
    assert found[0]["00280030"]["Value"] == ["0.5", "0.5"]  # includefield read from a file


def test_search_errors(server: Server) -> None:
    answer = httpx.get(f"{server.url}/dicom-web/studies?fuzzymatching=maybe")
    assert answer.status_code == 400
    assert "fuzzy" in answer.json()["Details"]
    assert httpx.get(f"{server.url}/dicom-web/studies?limit=-1").status_code == 400


def test_metadata(server: Server, client: DICOMwebClient) -> None:
    instance = client.retrieve_instance_metadata(STUDY_A, f"{STUDY_A}.1", f"{STUDY_A}.1.2")
    assert instance["00080005"]["Value"] == ["ISO_IR 100"]
    assert instance["00200013"] == {"vr": "IS", "Value": [2]}
    assert instance["00280030"] == {"vr": "DS", "Value": ["0.5", "0.5"]}
    bulk = instance["7FE00010"]["BulkDataURI"]
    assert bulk.endswith(f"/studies/{STUDY_A}/series/{STUDY_A}.1/instances/{STUDY_A}.1.2/bulk/7fe00010")
    series = client.retrieve_series_metadata(STUDY_A, f"{STUDY_A}.1")
    assert sorted(i["00080018"]["Value"][0] for i in series) == [f"{STUDY_A}.1.1", f"{STUDY_A}.1.2"]
    assert len(client.retrieve_study_metadata(STUDY_A)) == 3
    # the second time, from the index: the same answer
    assert client.retrieve_series_metadata(STUDY_A, f"{STUDY_A}.1") == series
    # dicomweb-client sends "Host: 127.0.0.1" without the port, and the URI follows the Host header
    assert bulk.startswith("http://127.0.0.1/dicom-web/")
    (value,) = client.retrieve_bulkdata(bulk.replace("http://127.0.0.1/", f"{server.url}/"))
    assert value == make_instance(STUDY_A, 1, 2).PixelData


def test_retrieve_instances(client: DICOMwebClient) -> None:
    instance = client.retrieve_instance(STUDY_A, f"{STUDY_A}.2", f"{STUDY_A}.2.1")
    assert instance.SOPInstanceUID == f"{STUDY_A}.2.1"
    assert instance.PixelData == make_instance(STUDY_A, 2, 1, frames=3).PixelData
    study = client.retrieve_study(STUDY_A)
    assert sorted(i.SOPInstanceUID for i in study) == [f"{STUDY_A}.1.1", f"{STUDY_A}.1.2", f"{STUDY_A}.2.1"]


def test_retrieve_transcoded(server: Server, client: DICOMwebClient) -> None:
    url = f"{server.url}/dicom-web/studies/{STUDY_B}/series/{STUDY_B}.1/instances/{STUDY_B}.1.1"
    accept = f'multipart/related; type="application/dicom"; transfer-syntax={ImplicitVRLittleEndian}'
    answer = httpx.get(url, headers={"Accept": accept})
    assert answer.status_code == 200
    media, params = parse_media_type(answer.headers["content-type"])
    assert (media, params["type"]) == ("multipart/related", "application/dicom")
    (part,) = parse_multipart(answer.content, params["boundary"])
    implicit = pydicom.dcmread(io.BytesIO(part.data))
    assert implicit.file_meta.TransferSyntaxUID == ImplicitVRLittleEndian
    assert implicit.PatientName == "ROE^JANE"


def test_frames(server: Server, client: DICOMwebClient) -> None:
    expected = np.arange(36, dtype=np.uint16).reshape(3, 4, 3) + 100
    frames = client.retrieve_instance_frames(STUDY_A, f"{STUDY_A}.2", f"{STUDY_A}.2.1", frame_numbers=[3, 1])
    assert frames == [expected[2].tobytes(), expected[0].tobytes()]
    url = f"{server.url}/dicom-web/studies/{STUDY_A}/series/{STUDY_A}.2/instances/{STUDY_A}.2.1/frames/2"
    answer = httpx.get(url)
    media, params = parse_media_type(answer.headers["content-type"])
    assert params["type"] == "application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1"
    assert b"Content-Location: " + url.encode() in answer.content


def test_retrieve_default_syntax(server: Server) -> None:
    """Without transfer-syntax, Explicit VR Little Endian (as the plugin); "*": as stored."""
    implicit = make_instance("1.2.826.0.1.3680043.99.5", 1, 1)
    implicit.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, implicit, enforce_file_format=True)
    assert httpx.post(f"{server.url}/instances", content=buffer.getvalue()).status_code == 200
    url = f"{server.url}/dicom-web/studies/1.2.826.0.1.3680043.99.5"
    syntaxes = []
    for accept in (None, 'multipart/related; type="application/dicom"; transfer-syntax=*'):
        answer = httpx.get(url, headers={"Accept": accept} if accept else {})
        (part,) = parse_multipart(
            answer.content, parse_media_type(answer.headers["content-type"])[1]["boundary"]
        )
        syntaxes.append(pydicom.dcmread(io.BytesIO(part.data)).file_meta.TransferSyntaxUID)
    assert syntaxes == [ExplicitVRLittleEndian, ImplicitVRLittleEndian]
    refused = httpx.get(url, headers={"Accept": "application/dicom"})
    assert refused.status_code == 400


def test_missing_resources(server: Server) -> None:
    answer = httpx.get(f"{server.url}/dicom-web/studies/{STUDY_A}/series/1.2.3/metadata")
    assert answer.status_code == 404
    assert answer.json()["Details"] == f"Accessing an inexistent Series with WADO-RS: {STUDY_A}/1.2.3"
    frames = f"{server.url}/dicom-web/studies/{STUDY_A}/series/{STUDY_A}.2/instances/{STUDY_A}.2.1/frames/4"
    assert httpx.get(frames).status_code == 400


def test_stow_outside_study(server: Server) -> None:
    dicomweb = DICOMwebClient(url=f"{server.url}/dicom-web")
    with pytest.raises(Exception, match="409"):
        dicomweb.store_instances(
            [make_instance("1.2.826.0.1.3680043.99.7", 1, 1)], study_instance_uid=STUDY_A
        )
    answer = httpx.post(
        f"{server.url}/dicom-web/studies", content=b"x", headers={"Content-Type": "application/dicom"}
    )
    assert answer.status_code == 415


def test_wado_uri(server: Server) -> None:
    params = {
        "requestType": "WADO",
        "studyUID": STUDY_B,
        "seriesUID": f"{STUDY_B}.1",
        "objectUID": f"{STUDY_B}.1.1",
        "contentType": "application/dicom",
    }
    answer = httpx.get(f"{server.url}/wado", params=params)
    assert answer.status_code == 200
    assert pydicom.dcmread(io.BytesIO(answer.content)).SOPInstanceUID == f"{STUDY_B}.1.1"
    assert httpx.get(f"{server.url}/wado", params={**params, "seriesUID": "1.2"}).status_code == 404
    # as the plugin: a bare 404 to a request it cannot serve
    assert httpx.get(f"{server.url}/wado", params={**params, "requestType": "X"}).status_code == 404
    png = httpx.get(f"{server.url}/wado", params={**params, "contentType": "image/png"})
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")


def test_rendered(server: Server) -> None:
    base = f"{server.url}/dicom-web/studies/{STUDY_A}/series/{STUDY_A}.2/instances/{STUDY_A}.2.1"
    jpeg = httpx.get(f"{base}/frames/2/rendered", headers={"Accept": "image/jpeg"})
    assert jpeg.status_code == 200 and jpeg.headers["content-type"] == "image/jpeg"
    png = httpx.get(f"{server.url}/dicom-web/studies/{STUDY_A}/thumbnail", headers={"Accept": "image/png"})
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")


def test_metadata_dropped_with_instance(server: Server, client: DICOMwebClient) -> None:
    uid = "1.2.826.0.1.3680043.99.3"
    client.store_instances([make_instance(uid, 1, 1)])
    assert len(client.retrieve_series_metadata(uid, f"{uid}.1")) == 1
    context = server.app.state.context

    async def kept_rows() -> int:
        async with context.index.transaction() as tx:
            rows = await tx._all("SELECT COUNT(*) FROM dicomweb_metadata")  # noqa: SLF001
        return int(rows[0][0])

    before = asyncio.run_coroutine_threadsafe(kept_rows(), server.loop).result()
    (study,) = httpx.post(f"{server.url}/tools/lookup", content=uid).json()
    assert httpx.delete(f"{server.url}/studies/{study['ID']}").status_code == 200
    assert asyncio.run_coroutine_threadsafe(kept_rows(), server.loop).result() == before - 1


def test_client_side(server: Server, client: DICOMwebClient) -> None:
    """The server as a DICOMweb client of itself: define it, QIDO through it, STOW and retrieve."""
    base = f"{server.url}/dicom-web"
    assert httpx.put(f"{base}/servers/self", json={"Url": base, "HttpHeaders": {"X-Test": "1"}}).json() == {}
    assert "self" in httpx.get(f"{base}/servers").json()
    assert httpx.get(f"{base}/servers?expand").json()["self"]["HttpHeaders"] == ["X-Test"]
    assert httpx.get(f"{base}/servers/self").json() == ["get", "retrieve", "stow", "wado", "qido"]
    found = httpx.post(
        f"{base}/servers/self/qido", json={"Uri": "/studies", "Arguments": {"StudyInstanceUID": STUDY_B}}
    )
    assert found.status_code == 200
    assert [s["0020000D"]["Value"][0] for s in found.json()] == [STUDY_B]
    (study,) = httpx.post(f"{server.url}/tools/lookup", content=STUDY_B).json()
    sent = httpx.post(f"{base}/servers/self/stow", json={"Resources": [study["ID"]]}, timeout=30)
    assert sent.status_code == 200 and sent.json()["Instances"] == 1
    got = httpx.post(f"{base}/servers/self/retrieve", json={"Resources": [{"Study": STUDY_B}]}, timeout=30)
    assert got.status_code == 200 and got.json()["InstancesCount"] == 1
    assert httpx.delete(f"{base}/servers/self").json() == {}
    assert httpx.get(f"{base}/servers/self").status_code == 404
    assert httpx.delete(f"{base}/servers/self").status_code == 400
