"""``/modalities/{id}/find-worklist``: a C-FIND on the Modality Worklist model against a pynetdicom
worklist SCP, with the query (sequences included) and the answer formats of Orthanc."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydicom.dataset import Dataset
from pynetdicom import AE, evt
from starlette.testclient import TestClient

from orthanc_py.app import create_app
from orthanc_py.config import settings_from_json

from .dicom_support import free_port

WORKLIST_FIND = "1.2.840.10008.5.1.4.31"


def worklist_item(patient: str, station: str) -> Dataset:
    item = Dataset()
    item.SpecificCharacterSet = "ISO_IR 100"
    item.PatientID = patient
    item.PatientName = f"{patient}^TEST"
    item.AccessionNumber = f"A{patient}"
    step = Dataset()
    step.ScheduledStationAETitle = station
    step.Modality = "CT"
    step.ScheduledProcedureStepStartDate = "20240102"
    item.ScheduledProcedureStepSequence = [step]
    return item


class WorklistScp:
    """Answers each C-FIND with the items whose PatientID and scheduled station match."""

    def __init__(self, port: int) -> None:
        self.items = [worklist_item("W1", "CT1"), worklist_item("W2", "CT2")]
        self.queries: list[Dataset] = []
        self.ae = AE(ae_title="WORKLIST")
        self.ae.add_supported_context(WORKLIST_FIND)
        self.server = self.ae.start_server(
            ("127.0.0.1", port), block=False, evt_handlers=[(evt.EVT_C_FIND, self.on_find)]
        )

    def on_find(self, event: evt.Event) -> Iterator[tuple[int, Dataset | None]]:
        query = event.identifier
        self.queries.append(query)
        wanted_patient = str(query.get("PatientID", "") or "")
        steps = query.get("ScheduledProcedureStepSequence") or []
        wanted_station = str(steps[0].get("ScheduledStationAETitle", "") or "") if steps else ""
        for item in self.items:
            if wanted_patient not in ("", "*") and item.PatientID != wanted_patient:
                continue
            if (
                wanted_station
                and item.ScheduledProcedureStepSequence[0].ScheduledStationAETitle != wanted_station
            ):
                continue
            yield 0xFF00, item
        yield 0x0000, None


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, WorklistScp]]:
    folder: Path = tmp_path_factory.mktemp("worklist")
    port = free_port()
    scp = WorklistScp(port)
    settings = settings_from_json(
        {"StorageDirectory": str(folder), "DicomModalities": {"ris": ["WORKLIST", "127.0.0.1", port]}}
    )
    try:
        with TestClient(create_app(settings), client=("127.0.0.1", 1)) as client:
            yield client, scp
    finally:
        scp.server.shutdown()


def find(client: TestClient, body: Any) -> Any:
    answer = client.post("/modalities/ris/find-worklist", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_query_with_a_sequence(setup: tuple[TestClient, WorklistScp]) -> None:
    client, scp = setup
    body = {
        "Query": {
            "PatientID": "",
            "PatientName": "",
            "ScheduledProcedureStepSequence": [{"ScheduledStationAETitle": "CT2", "Modality": ""}],
        }
    }
    answers = find(client, body)
    assert [a["PatientID"] for a in answers] == ["W2"]
    assert answers[0]["ScheduledProcedureStepSequence"] == [
        {"Modality": "CT", "ScheduledProcedureStepStartDate": "20240102", "ScheduledStationAETitle": "CT2"}
    ]
    sent = scp.queries[-1]
    assert sent.ScheduledProcedureStepSequence[0].ScheduledStationAETitle == "CT2"
    assert "PatientName" in sent and not sent.PatientName


def test_answer_formats(setup: tuple[TestClient, WorklistScp]) -> None:
    client, _ = setup
    full = find(client, {"Query": {"PatientID": "W1"}, "Full": True})
    assert full[0]["0010,0020"] == {"Name": "PatientID", "Type": "String", "Value": "W1"}
    short = find(client, {"Query": {"PatientID": "W1"}, "Short": True})
    assert short[0]["0010,0020"] == "W1"


def test_query_as_the_body(setup: tuple[TestClient, WorklistScp]) -> None:
    """Before Orthanc 1.9.5 the body was the query itself; it is still accepted."""
    client, _ = setup
    answers = find(client, {"PatientID": "*", "0008,0050": ""})
    assert sorted(a["AccessionNumber"] for a in answers) == ["AW1", "AW2"]


@pytest.mark.parametrize(
    "body",
    [[], {"Query": "x"}, {"Query": {"NoSuchTag": ""}}, {"Query": {"PatientID": 3}}, {"Query": {}, "Full": 1}],
)
def test_bad_requests(setup: tuple[TestClient, WorklistScp], body: Any) -> None:
    client, _ = setup
    assert client.post("/modalities/ris/find-worklist", json=body).status_code == 400


def test_unknown_modality(setup: tuple[TestClient, WorklistScp]) -> None:
    client, _ = setup
    assert client.post("/modalities/nope/find-worklist", json={"Query": {}}).status_code == 404
