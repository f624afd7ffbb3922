"""Storage commitment (Push Model), both ways, with a pynetdicom modality as the peer: orthanc_py
as SCP (N-ACTION in, N-EVENT-REPORT out on a new association) and as SCU
(``/modalities/{id}/storage-commitment``, the report at ``/storage-commitment/{id}``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pynetdicom import AE, build_role, evt
from starlette.testclient import TestClient

from orthanc_py.app import create_app
from orthanc_py.config import settings_from_json

from .dicom_support import CT_IMAGE_STORAGE, free_port, make_instance

pytestmark = pytest.mark.dcmtk

NO_SUCH_OBJECT = "One or more of the elements in the Referenced SOP Instance Sequence was not available"
STORAGE_COMMITMENT = "1.2.840.10008.1.20.1"
COMMITMENT_INSTANCE = "1.2.840.10008.1.20.1.1"
STORED = "1.2.826.0.1.3680043.8.1055.3.1"
UNKNOWN = "1.2.826.0.1.3680043.8.1055.3.999"


def references(pairs: list[tuple[str, str]], reasons: list[int] | None = None) -> Sequence:
    items = []
    for n, (sop_class, sop_instance) in enumerate(pairs):
        item = Dataset()
        item.ReferencedSOPClassUID = sop_class
        item.ReferencedSOPInstanceUID = sop_instance
        if reasons is not None:
            item.FailureReason = reasons[n]
        items.append(item)
    return Sequence(items)


class Modality:
    """A storage commitment modality: receives our N-EVENT-REPORTs and N-ACTIONs; answers each
    N-ACTION by an N-EVENT-REPORT on a new association, failing the SOP instances in ``refuse``."""

    def __init__(self, port: int, our_port: int) -> None:
        self.our_port = our_port
        self.reports: list[tuple[int, Dataset]] = []
        self.actions: list[Dataset] = []
        self.received = threading.Condition()
        self.refuse: set[str] = set()
        self.ae = AE(ae_title="PEER")
        self.stored: list[str] = []
        self.ae.add_supported_context(STORAGE_COMMITMENT, scu_role=True, scp_role=True)
        self.ae.add_supported_context(CT_IMAGE_STORAGE)
        self.server = self.ae.start_server(
            ("127.0.0.1", port),
            block=False,
            evt_handlers=[
                (evt.EVT_N_EVENT_REPORT, self.on_report),
                (evt.EVT_N_ACTION, self.on_action),
                (evt.EVT_C_STORE, self.on_store),
            ],
        )

    def on_store(self, event: evt.Event) -> int:
        self.stored.append(str(event.dataset.SOPInstanceUID))
        return 0

    def on_report(self, event: evt.Event) -> tuple[int, None]:
        with self.received:
            self.reports.append((int(event.event_type), event.event_information))
            self.received.notify_all()
        return 0, None

    def on_action(self, event: evt.Event) -> tuple[int, None]:
        request = event.action_information
        self.actions.append(request)
        threading.Thread(target=self.answer, args=(request,), daemon=True).start()
        return 0, None

    def answer(self, request: Dataset) -> None:
        pairs = [
            (str(i.ReferencedSOPClassUID), str(i.ReferencedSOPInstanceUID))
            for i in request.ReferencedSOPSequence
        ]
        report = Dataset()
        report.TransactionUID = request.TransactionUID
        report.ReferencedSOPSequence = references([p for p in pairs if p[1] not in self.refuse])
        failed = [p for p in pairs if p[1] in self.refuse]
        if failed:
            report.FailedSOPSequence = references(failed, [0x0112] * len(failed))
        self.send_report(report, 2 if failed else 1)

    def send_report(self, report: Dataset, event_type: int) -> int:
        ae = AE(ae_title="PEER")
        ae.add_requested_context(STORAGE_COMMITMENT)
        assoc = ae.associate(
            "127.0.0.1",
            self.our_port,
            ae_title="ORTHANCPY",
            ext_neg=[build_role(STORAGE_COMMITMENT, scp_role=True)],
        )
        assert assoc.is_established
        status, _ = assoc.send_n_event_report(report, event_type, STORAGE_COMMITMENT, COMMITMENT_INSTANCE)
        assoc.release()
        return int(status.Status)

    def request(self, transaction_uid: str, pairs: list[tuple[str, str]]) -> int:
        ae = AE(ae_title="PEER")
        ae.add_requested_context(STORAGE_COMMITMENT)
        assoc = ae.associate("127.0.0.1", self.our_port, ae_title="ORTHANCPY")
        assert assoc.is_established
        action = Dataset()
        action.TransactionUID = transaction_uid
        action.ReferencedSOPSequence = references(pairs)
        status, _ = assoc.send_n_action(action, 1, STORAGE_COMMITMENT, COMMITMENT_INSTANCE)
        assoc.release()
        return int(status.Status)

    def wait_report(self, transaction_uid: str) -> tuple[int, Dataset]:
        with self.received:
            for _ in range(100):
                for event_type, report in self.reports:
                    if report.TransactionUID == transaction_uid:
                        return event_type, report
                self.received.wait(0.2)
        raise AssertionError(f"no report for {transaction_uid}")


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Modality]]:
    folder: Path = tmp_path_factory.mktemp("commitment")
    our_port, peer_port = free_port(), free_port()
    settings = settings_from_json(
        {
            "StorageDirectory": str(folder),
            "DicomPort": our_port,
            "DicomAet": "ORTHANCPY",
            "StorageCommitmentReportsSize": 3,
            "DicomModalities": {"peer": ["PEER", "127.0.0.1", peer_port]},
        }
    )
    modality = Modality(peer_port, our_port)
    try:
        with TestClient(create_app(settings, dicom_server=True), client=("127.0.0.1", 1)) as client:
            client.post("/instances", content=make_instance(instance=STORED)).raise_for_status()
            yield client, modality
    finally:
        modality.server.shutdown()


def test_scp_checks_what_is_stored(setup: tuple[TestClient, Modality]) -> None:
    _, modality = setup
    uid = "2.25.1001"
    pairs = [(CT_IMAGE_STORAGE, STORED), (CT_IMAGE_STORAGE, UNKNOWN), ("1.2.840.10008.5.1.4.1.1.7", STORED)]
    assert modality.request(uid, pairs) == 0
    event_type, report = modality.wait_report(uid)
    assert event_type == 2  # failures exist
    assert [(i.ReferencedSOPClassUID, i.ReferencedSOPInstanceUID) for i in report.ReferencedSOPSequence] == [
        (CT_IMAGE_STORAGE, STORED)
    ]
    failed = [(i.ReferencedSOPInstanceUID, i.FailureReason) for i in report.FailedSOPSequence]
    assert failed == [(UNKNOWN, 0x0112), (STORED, 0x0119)]  # no such instance; class conflict


def test_scp_all_committed(setup: tuple[TestClient, Modality]) -> None:
    _, modality = setup
    assert modality.request("2.25.1002", [(CT_IMAGE_STORAGE, STORED)]) == 0
    event_type, report = modality.wait_report("2.25.1002")
    assert event_type == 1 and "FailedSOPSequence" not in report
    assert len(report.ReferencedSOPSequence) == 1


def wait_report(client: TestClient, uid: str) -> dict[str, Any]:
    for _ in range(100):
        answer = client.get(f"/storage-commitment/{uid}")
        assert answer.status_code == 200, answer.text
        if answer.json()["Status"] != "Pending":
            return dict(answer.json())
        time.sleep(0.1)
    raise AssertionError("the report stayed pending")


def test_scu_request_then_report(setup: tuple[TestClient, Modality]) -> None:
    client, modality = setup
    instance_id = client.get("/instances").json()[0]
    modality.refuse = {UNKNOWN}
    answer = client.post(
        "/modalities/peer/storage-commitment",
        json={"Resources": [instance_id], "DicomInstances": [[CT_IMAGE_STORAGE, UNKNOWN]], "Timeout": 10},
    )
    assert answer.status_code == 200, answer.text
    uid = answer.json()["ID"]
    assert uid.startswith("2.25.") and answer.json()["Path"] == f"/storage-commitment/{uid}"
    assert wait_report(client, uid) == {
        "RemoteAET": "PEER",
        "Status": "Failure",
        "Success": [{"SOPClassUID": CT_IMAGE_STORAGE, "SOPInstanceUID": STORED}],
        "Failures": [
            {
                "SOPClassUID": CT_IMAGE_STORAGE,
                "SOPInstanceUID": UNKNOWN,
                "FailureReason": 0x0112,
                "Description": NO_SUCH_OBJECT,
            }
        ],
    }
    refused = client.post(f"/storage-commitment/{uid}/remove")
    assert refused.status_code == 400 and refused.json()["OrthancError"] == "Bad sequence of calls"


def test_remove_after_success(setup: tuple[TestClient, Modality]) -> None:
    client, modality = setup
    extra = make_instance(instance="1.2.826.0.1.3680043.8.1055.3.2")
    instance_id = client.post("/instances", content=extra).json()["ID"]
    answer = client.post("/modalities/peer/storage-commitment", json={"Resources": [instance_id]})
    uid = answer.json()["ID"]
    assert wait_report(client, uid)["Status"] == "Success"
    assert client.post(f"/storage-commitment/{uid}/remove").json() == {}
    assert client.get(f"/instances/{instance_id}").status_code == 404


@pytest.mark.parametrize(
    "body",
    [[], {}, {"Resources": "x"}, {"Resources": [1]}, {"DicomInstances": [["a"]]}, {"DicomInstances": [{}]}],
)
def test_bad_requests(setup: tuple[TestClient, Modality], body: Any) -> None:
    client, _ = setup
    answer = client.post("/modalities/peer/storage-commitment", json=body)
    assert answer.status_code == 400, answer.text


def test_unknown_report_and_modality(setup: tuple[TestClient, Modality]) -> None:
    client, _ = setup
    assert client.get("/storage-commitment/2.25.42").status_code == 404
    assert client.post("/storage-commitment/2.25.42/remove").status_code == 404
    body = {"DicomInstances": [[CT_IMAGE_STORAGE, STORED]]}
    assert client.post("/modalities/nobody/storage-commitment", json=body).status_code == 404


def test_reports_kept_are_bounded(setup: tuple[TestClient, Modality]) -> None:
    client, _ = setup
    body = {"DicomInstances": [[CT_IMAGE_STORAGE, STORED]]}
    uids = [client.post("/modalities/peer/storage-commitment", json=body).json()["ID"] for _ in range(4)]
    for uid in uids[1:]:
        wait_report(client, uid)
    assert client.get(f"/storage-commitment/{uids[0]}").status_code == 404  # StorageCommitmentReportsSize 3


def test_store_then_commitment(setup: tuple[TestClient, Modality]) -> None:
    """``StorageCommitment`` on ``/store``: the job's content names the transaction, and the
    modality is asked to commit to what it received once the C-STOREs are done."""
    client, modality = setup
    modality.refuse = set()
    uid = "1.2.826.0.1.3680043.8.1055.3.3"
    instance_id = client.post("/instances", content=make_instance(instance=uid)).json()["ID"]
    answer = client.post(
        "/modalities/peer/store", json={"Resources": [instance_id], "StorageCommitment": True}
    )
    assert answer.status_code == 200, answer.text
    content = answer.json()
    transaction = content.pop("StorageCommitmentTransactionUID")
    assert transaction.startswith("2.25.")
    assert content == {
        "Description": "REST API",
        "FailedInstancesCount": 0,
        "InstancesCount": 1,
        "LocalAet": "ORTHANCPY",
        "ParentResources": [instance_id],
        "RemoteAet": "PEER",
    }
    assert uid in modality.stored
    assert modality.actions[-1].TransactionUID == transaction
    assert wait_report(client, transaction) == {
        "RemoteAET": "PEER",
        "Status": "Success",
        "Success": [{"SOPClassUID": CT_IMAGE_STORAGE, "SOPInstanceUID": uid}],
        "Failures": [],
    }


def test_store_without_commitment_has_no_transaction(setup: tuple[TestClient, Modality]) -> None:
    client, _ = setup
    instance_id = client.get("/instances").json()[0]
    answer = client.post("/modalities/peer/store", json={"Resources": [instance_id], "Asynchronous": True})
    job = answer.json()["ID"]
    for _ in range(100):
        state = client.get(f"/jobs/{job}").json()
        if state["State"] in ("Success", "Failure"):
            break
        time.sleep(0.1)
    assert state["State"] == "Success", state
    assert "StorageCommitmentTransactionUID" not in state["Content"]
