"""The DICOMweb client jobs (``DicomWebStowClient``, ``DicomWebRetrieveClient``) against the real
Orthanc 1.10.1 with its DICOMweb plugin as the remote server."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest

from orthanc_py.core.errors import ErrorCode, OrthancError
from orthanc_py.core.jobs.dicomweb_client import (
    DicomWebRetrieveClientJob,
    DicomWebStowClientJob,
    retrieve_paths,
)
from orthanc_py.core.jobs.model import make_job
from orthanc_py.dicomweb.servers import RemoteServer

from .dicom_support import RunningServer, free_port, make_instance
from .real_orthanc import RealOrthanc

pytestmark = pytest.mark.orthanc

PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"


def study_instance(study: int, n: int) -> bytes:
    return make_instance(
        f"WEB{study}",
        f"1.2.826.0.1.3680043.8.1055.61.{study}",
        f"1.2.826.0.1.3680043.8.1055.62.{study}",
        f"1.2.826.0.1.3680043.8.1055.63.{study}.{n}",
    )


@pytest.fixture(scope="module")
def peers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, RealOrthanc]]:
    folder = tmp_path_factory.mktemp("dicomweb-jobs")
    ours = RunningServer(folder / "ours", {})
    orthanc = None
    try:
        orthanc = RealOrthanc(folder / "orthanc", {"Plugins": [PLUGIN], "DicomWeb": {"Enable": True}})
        yield ours, orthanc
    finally:
        if orthanc is not None:
            orthanc.close()
        ours.close()


def remote(orthanc: RealOrthanc) -> RemoteServer:
    return RemoteServer(url=f"{orthanc.url}/dicom-web/")


def test_stow_in_batches(peers: tuple[RunningServer, RealOrthanc]) -> None:
    ours, orthanc = peers
    ids = [ours.store(study_instance(1, n)) for n in range(20)]  # two STOW-RS requests
    job = DicomWebStowClientJob("real", remote(orthanc), ids, resources=["some-study"])
    content = ours.run(ours.context.jobs.submit_and_wait(job))
    assert content == {"Resources": ["some-study"], "Instances": 20}
    found = orthanc.http.post("/tools/find", json={"Level": "Instance", "Query": {"PatientID": "WEB1"}})
    assert len(found.json()) == 20


def test_retrieve_studies_and_series(peers: tuple[RunningServer, RealOrthanc]) -> None:
    ours, orthanc = peers
    for n in range(3):
        orthanc.http.post("/instances", content=study_instance(2, n)).raise_for_status()
    paths = retrieve_paths(
        [{"Study": "1.2.826.0.1.3680043.8.1055.61.2", "Series": ["1.2.826.0.1.3680043.8.1055.62.2"]}]
    )
    assert paths == ["studies/1.2.826.0.1.3680043.8.1055.61.2/series/1.2.826.0.1.3680043.8.1055.62.2"]
    job = DicomWebRetrieveClientJob("real", remote(orthanc), paths)
    content = ours.run(ours.context.jobs.submit_and_wait(job))
    assert content["InstancesCount"] == 3 and len(set(content["Instances"])) == 3
    assert all(ours.run(ours.context.read_dicom(i)) for i in content["Instances"])


def test_unreachable_server_fails_the_job(peers: tuple[RunningServer, RealOrthanc]) -> None:
    ours, _ = peers
    closed = RemoteServer(url=f"http://127.0.0.1:{free_port()}/dicom-web/")
    job = DicomWebRetrieveClientJob("closed", closed, ["studies/1.2.3"])
    with pytest.raises(OrthancError) as raised:
        ours.run(ours.context.jobs.submit_and_wait(job))
    assert raised.value.code == ErrorCode.NetworkProtocol


def test_parameters_resume_the_same_job() -> None:
    server = RemoteServer(url="http://example.invalid/dicom-web/", username="u", password="p")
    stow = DicomWebStowClientJob(
        "x", server, ["a", "b"], resources=["r"], http_headers={"X": "1"}, position=1
    )
    again = make_job(stow.job_type, orjson.dumps(stow.parameters()).decode())
    assert again.parameters() == stow.parameters() and again.content() == stow.content()
    retrieve = DicomWebRetrieveClientJob("x", server, ["studies/1"], position=1, stored=["i"])
    again = make_job(retrieve.job_type, orjson.dumps(retrieve.parameters()).decode())
    assert again.parameters() == retrieve.parameters() and again.progress() == 1.0


@pytest.mark.parametrize(
    "resources", ["x", [{"Series": []}], [{"Study": "1", "Series": "2"}], [{"Study": 1}]]
)
def test_bad_retrieve_resources(resources: object) -> None:
    with pytest.raises(OrthancError) as raised:
        retrieve_paths(resources)
    assert raised.value.code == ErrorCode.BadFileFormat
