"""/modalities and /queries over REST, against DCMTK's storescp and the real Orthanc 1.10.1."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from orthanc_py.app import create_app
from orthanc_py.config import settings_from_json

from .dicom_support import free_port, make_instance
from .real_orthanc import RealOrthanc

pytestmark = [pytest.mark.orthanc, pytest.mark.dcmtk]


class Setup:
    def __init__(self, ours: TestClient, orthanc: httpx.Client, storescp_folder: Path) -> None:
        self.ours, self.orthanc, self.storescp_folder = ours, orthanc, storescp_folder


def instance(n: int, study: int = 1) -> bytes:
    return make_instance(
        f"MOD{study}",
        f"1.2.826.0.1.3680043.8.1055.51.{study}",
        f"1.2.826.0.1.3680043.8.1055.52.{study}",
        f"1.2.826.0.1.3680043.8.1055.53.{study}.{n}",
    )


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    folder = tmp_path_factory.mktemp("modalities")
    our_dicom, scp_port = free_port(), free_port()
    (folder / "scp").mkdir()
    storescp = subprocess.Popen(
        ["/usr/bin/storescp", "-aet", "STORESCP", "-od", str(folder / "scp"), str(scp_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    orthanc = None
    try:
        orthanc = RealOrthanc(
            folder / "orthanc",
            {"DicomAet": "ORTHANC110", "DicomModalities": {"py": ["ORTHANCPY", "127.0.0.1", our_dicom]}},
        )
        settings = settings_from_json(
            {
                "StorageDirectory": str(folder / "ours"),
                "DicomPort": our_dicom,
                "DicomAet": "ORTHANCPY",
                "DicomModalities": {
                    "orthanc": ["ORTHANC110", "127.0.0.1", orthanc.dicom_port],
                    "scp": {"AET": "STORESCP", "Host": "127.0.0.1", "Port": scp_port},
                },
            }
        )
        with TestClient(create_app(settings, dicom_server=True), client=("127.0.0.1", 1)) as ours:
            yield Setup(ours, orthanc.http, folder / "scp")
    finally:
        if orthanc is not None:
            orthanc.close()
        storescp.terminate()
        storescp.wait(timeout=20)


def test_list_configuration_put_delete(setup: Setup) -> None:
    ours = setup.ours
    assert ours.get("/modalities").json() == ["orthanc", "scp"]
    expanded = ours.get("/modalities", params={"expand": ""}).json()
    assert expanded["scp"]["AET"] == "STORESCP" and expanded["orthanc"]["Port"] > 0
    assert ours.get("/modalities/scp/configuration").json() == expanded["scp"]
    assert "store" in ours.get("/modalities/scp").json()
    assert ours.get("/modalities/nope").status_code == 404
    assert ours.put("/modalities/extra", json=["EXTRA", "127.0.0.1", 1234]).text == ""
    assert ours.get("/modalities/extra/configuration").json()["AET"] == "EXTRA"
    assert ours.delete("/modalities/extra").status_code == 200
    assert "extra" not in ours.get("/modalities").json()


def test_echo(setup: Setup) -> None:
    assert setup.ours.post("/modalities/scp/echo", content=b"").json() == {}
    assert setup.ours.post("/modalities/orthanc/echo", json={"Timeout": 5}).json() == {}
    setup.ours.put("/modalities/closed", json=["CLOSED", "127.0.0.1", free_port()])
    closed = setup.ours.post("/modalities/closed/echo", content=b"")
    assert closed.status_code == 500 and closed.json()["OrthancStatus"] == 9
    assert setup.ours.post("/modalities/nope/echo", content=b"").status_code == 404


def test_store_to_storescp_and_orthanc(setup: Setup) -> None:
    ours = setup.ours
    ids = [ours.post("/instances", content=instance(n)).json() for n in range(3)]
    study = ids[0]["ParentStudy"]
    content = ours.post("/modalities/scp/store", json={"Resources": [study]}).json()
    assert content == {
        "Description": "REST API",
        "FailedInstancesCount": 0,
        "InstancesCount": 3,
        "LocalAet": "ORTHANCPY",
        "ParentResources": [study],
        "RemoteAet": "STORESCP",
    }
    assert len(list(setup.storescp_folder.iterdir())) == 3
    answer = ours.post(
        "/modalities/orthanc/store",
        json={
            "Resources": [ids[0]["ID"]],
            "Asynchronous": True,
            "MoveOriginatorAet": "X",
            "MoveOriginatorID": 7,
        },
    ).json()
    deadline = time.monotonic() + 20
    while (job := ours.get(answer["Path"]).json())["State"] != "Success":
        assert time.monotonic() < deadline and job["State"] in ("Pending", "Running"), job
        time.sleep(0.05)
    assert job["Type"] == "DicomModalityStore" and job["Content"]["MoveOriginatorAET"] == "X"
    assert job["Content"]["MoveOriginatorID"] == 7
    assert setup.orthanc.get(f"/instances/{ids[0]['ID']}").status_code == 200
    straight = ours.post("/modalities/orthanc/store-straight", content=instance(9, study=2)).json()
    assert straight["SOPInstanceUID"] == "1.2.826.0.1.3680043.8.1055.53.2.9"


def test_query_answers_and_retrieve(setup: Setup) -> None:
    ours, orthanc = setup.ours, setup.orthanc
    for n in range(2):
        assert orthanc.post("/instances", content=instance(n, study=3)).status_code == 200
    query = ours.post(
        "/modalities/orthanc/query", json={"Level": "Study", "Query": {"PatientID": "MOD3"}}
    ).json()
    assert query["Path"] == f"/queries/{query['ID']}" and query["ID"] in ours.get("/queries").json()
    path = query["Path"]
    assert ours.get(f"{path}/level").text == "Study" and ours.get(f"{path}/modality").text == "orthanc"
    assert ours.get(f"{path}/query").json() == {
        "0010,0020": {"Name": "PatientID", "Type": "String", "Value": "MOD3"}
    }
    assert ours.get(f"{path}/query?simplify").json() == {"PatientID": "MOD3"}
    assert ours.get(f"{path}/answers").json() == ["0"]
    content = ours.get(f"{path}/answers/0/content", params={"simplify": ""}).json()
    assert content["StudyInstanceUID"] == "1.2.826.0.1.3680043.8.1055.51.3"
    assert ours.get(f"{path}/answers/0/content").json()["0020,000d"]["Name"] == "StudyInstanceUID"
    assert ours.get(f"{path}/answers/5/content").status_code == 400
    series = ours.post(f"{path}/answers/0/query-series", json={}).json()
    assert ours.get(f"{series['Path']}/answers").json() == ["0"]
    moved = ours.post(f"{path}/answers/0/retrieve", json={"TargetAet": "ORTHANCPY"}).json()
    assert moved["TargetAet"] == "ORTHANCPY" and moved["RemoteAet"] == "ORTHANC110"
    assert moved["Query"][0]["0020,000d"] == "1.2.826.0.1.3680043.8.1055.51.3"
    patients = ours.get("/patients", params={"expand": ""}).json()
    assert any(p["MainDicomTags"]["PatientID"] == "MOD3" for p in patients)
    assert ours.delete(path).content == b"" and ours.get(path).status_code == 404


def test_find_routes(setup: Setup) -> None:
    ours, orthanc = setup.ours, setup.orthanc
    assert orthanc.post("/instances", content=instance(0, study=4)).status_code == 200
    answers = ours.post("/modalities/orthanc/find-study", json={"PatientID": "MOD4"}).json()
    assert [a["StudyInstanceUID"] for a in answers] == ["1.2.826.0.1.3680043.8.1055.51.4"]


def test_move_job(setup: Setup) -> None:
    ours, orthanc = setup.ours, setup.orthanc
    assert orthanc.post("/instances", content=instance(0, study=5)).status_code == 200
    body: dict[str, Any] = {
        "Level": "Study",
        "Resources": [{"StudyInstanceUID": "1.2.826.0.1.3680043.8.1055.51.5"}],
        "TargetAet": "ORTHANCPY",
    }
    content = ours.post("/modalities/orthanc/move", json=body).json()
    assert content["TargetAet"] == "ORTHANCPY"
    studies = ours.post("/tools/find", json={"Level": "Study", "Query": {"PatientID": "MOD5"}}).json()
    assert len(studies) == 1


def test_find_routes_refuse_vague_queries(setup: Setup) -> None:
    ours = setup.ours
    assert ours.post("/modalities/orthanc/find-study", json={"PatientID": "M*"}).status_code == 400
    assert ours.post("/modalities/orthanc/find-series", json={"PatientID": "MOD4"}).status_code == 400
    assert ours.post("/modalities/orthanc/find-patient", json={"NoSuchTag": ""}).status_code == 400


def test_hierarchical_find(setup: Setup) -> None:
    ours, orthanc = setup.ours, setup.orthanc
    for n in range(2):
        assert orthanc.post("/instances", content=instance(n, study=6)).status_code == 200
    answer = ours.post("/modalities/orthanc/find", json={"PatientID": "MOD6"})
    assert answer.status_code == 200, answer.text
    [patient] = answer.json()
    assert patient["PatientID"] == "MOD6" and patient["PatientName"] == "DOE^JOHN"
    [study] = patient["Studies"]
    assert study["StudyInstanceUID"] == "1.2.826.0.1.3680043.8.1055.51.6"
    assert study["StudyDescription"] == "CHEST" and study["AccessionNumber"] == "ACC1.6"
    [series] = study["Series"]
    assert series["SeriesInstanceUID"] == "1.2.826.0.1.3680043.8.1055.52.6" and series["Modality"] == "CT"
    assert ours.post("/modalities/orthanc/find", json={"PatientID": "NOBODY"}).json() == []


def test_child_queries_of_answers(setup: Setup) -> None:
    ours, orthanc = setup.ours, setup.orthanc
    for n in range(3):
        assert orthanc.post("/instances", content=instance(n, study=7)).status_code == 200
    patients = ours.post(
        "/modalities/orthanc/query", json={"Level": "Patient", "Query": {"PatientID": "MOD7"}}
    )
    path = patients.json()["Path"]
    assert ours.get(f"{path}/answers/0").json() == [
        "content", "retrieve", "query-study", "query-series", "query-instances"
    ]  # fmt: skip
    studies = ours.post(f"{path}/answers/0/query-studies", json={"Query": {"StudyDescription": ""}}).json()
    assert ours.get(f"{studies['Path']}/level").text == "Study"
    content = ours.get(f"{studies['Path']}/answers/0/content", params={"simplify": ""}).json()
    assert content["StudyInstanceUID"] == "1.2.826.0.1.3680043.8.1055.51.7"
    assert content["StudyDescription"] == "CHEST"
    assert ours.get(f"{studies['Path']}/query?simplify").json()["PatientID"] == "MOD7"
    assert ours.post(f"{studies['Path']}/answers/0/query-studies", json={}).status_code == 404
    series = ours.post(f"{studies['Path']}/answers/0/query-series", json={}).json()
    assert ours.get(f"{series['Path']}/answers/0").json() == ["content", "retrieve", "query-instances"]
    instances = ours.post(f"{series['Path']}/answers/0/query-instances", json={}).json()
    assert ours.get(f"{instances['Path']}/level").text == "Instance"
    uids = {
        ours.get(f"{instances['Path']}/answers/{n}/content", params={"simplify": ""}).json()["SOPInstanceUID"]
        for n in ours.get(f"{instances['Path']}/answers").json()
    }
    assert uids == {f"1.2.826.0.1.3680043.8.1055.53.7.{n}" for n in range(3)}
    assert ours.get(f"{instances['Path']}/answers/0").json() == ["content", "retrieve"]
    assert ours.post(f"{instances['Path']}/answers/0/query-instances", json={}).status_code == 404
    assert ours.post(f"{path}/answers/9/query-studies", json={}).status_code == 400


def test_store_straight_to_storescp(setup: Setup) -> None:
    before = set(setup.storescp_folder.iterdir())
    answer = setup.ours.post("/modalities/scp/store-straight", content=instance(1, study=8))
    assert answer.json() == {
        "SOPClassUID": "1.2.840.10008.5.1.4.1.1.2",
        "SOPInstanceUID": "1.2.826.0.1.3680043.8.1055.53.8.1",
    }
    [received] = set(setup.storescp_folder.iterdir()) - before
    assert received.name.endswith("1.2.826.0.1.3680043.8.1055.53.8.1")
    assert setup.ours.get("/instances").json() == [] or all(
        setup.ours.get(f"/instances/{i}").json()["MainDicomTags"]["SOPInstanceUID"]
        != "1.2.826.0.1.3680043.8.1055.53.8.1"
        for i in setup.ours.get("/instances").json()
    )  # sent as is, not stored here
    bad = setup.ours.post("/modalities/scp/store-straight", content=b"not DICOM")
    assert bad.status_code == 400
