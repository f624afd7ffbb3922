"""orthanc_py and the real Orthanc 1.10.1 as DICOM peers of each other, both ways: orthanc_py's
client (``net/scu.py``) against Orthanc's server, and Orthanc's client (driven through its REST
API) against orthanc_py's server."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import httpx
import pytest

from orthanc_py.core.errors import ErrorCode, OrthancError
from orthanc_py.core.identifiers import ResourceLevel
from orthanc_py.net import scu, storage_commitment
from orthanc_py.net.modalities import RemoteModality, registry_for

from .dicom_support import RunningServer, free_port, make_instance
from .real_orthanc import RealOrthanc

pytestmark = [pytest.mark.orthanc, pytest.mark.dcmtk]

T = TypeVar("T")
NO_SUCH_OBJECT = "One or more of the elements in the Referenced SOP Instance Sequence was not available"


def study(n: int) -> str:
    return f"1.2.826.0.1.3680043.8.1055.1.{n}"


def instance(patient: int, n: int) -> bytes:
    return make_instance(
        f"P{patient}",
        study(patient),
        f"1.2.826.0.1.3680043.8.1055.2.{patient}",
        f"1.2.826.0.1.3680043.8.1055.3.{patient}.{n}",
    )


class Peers:
    def __init__(self, ours: RunningServer, http: httpx.Client, orthanc: RemoteModality) -> None:
        self.ours = ours
        self.http = http
        self.orthanc = orthanc

    def our_instance_count(self) -> int:
        async def count() -> int:
            async with self.ours.context.index.transaction() as tx:
                return await tx.count_resources(ResourceLevel.INSTANCE)

        return self.ours.run(count())


@pytest.fixture(scope="module")
def peers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Peers]:
    folder = tmp_path_factory.mktemp("peers")
    orthanc_dicom = free_port()
    ours = RunningServer(
        folder / "ours", {"DicomModalities": {"orthanc": ["ORTHANC110", "127.0.0.1", orthanc_dicom]}}
    )
    orthanc = None
    try:
        orthanc = RealOrthanc(
            folder / "orthanc",
            {
                "DicomPort": orthanc_dicom,
                "DicomAet": "ORTHANC110",
                "DicomModalities": {"py": ["ORTHANCPY", "127.0.0.1", ours.port]},
            },
        )
        modality = ours.run(registry_for(ours.context).get("orthanc"))
        yield Peers(ours, orthanc.http, modality)
    finally:
        if orthanc is not None:
            orthanc.close()
        ours.close()


def test_echo(peers: Peers) -> None:
    peers.ours.run(scu.echo(peers.ours.context, peers.orthanc))
    closed = RemoteModality("closed", "NOBODY", "127.0.0.1", free_port())
    with pytest.raises(OrthancError) as raised:
        peers.ours.run(scu.echo(peers.ours.context, closed))
    assert raised.value.code == ErrorCode.NetworkProtocol
    assert 'DicomAssociation - connecting to AET "NOBODY"' in (raised.value.details or "")


def test_store_then_find_on_orthanc(peers: Peers) -> None:
    ids = [peers.ours.store(instance(1, n)) for n in range(3)]
    progress: list[tuple[int, int]] = []
    outcome = peers.ours.run(
        scu.store(
            peers.ours.context,
            peers.orthanc,
            ids,
            progress=lambda done, total: progress.append((done, total)),
        )
    )
    assert outcome.sent == ids and progress[-1] == (3, 3)
    assert len(peers.http.get("/instances").json()) == 3
    answers = peers.ours.run(scu.find(peers.ours.context, peers.orthanc, "Study", {"PatientID": "P1"}))
    assert [str(a.StudyInstanceUID) for a in answers] == [study(1)]
    series = peers.ours.run(
        scu.find(
            peers.ours.context,
            peers.orthanc,
            "Instance",
            {"StudyInstanceUID": study(1), "SOPInstanceUID": ""},
        )
    )
    assert len(series) == 3


def test_orthanc_queries_and_moves_from_us(peers: Peers) -> None:
    for n in range(2):
        peers.ours.store(instance(2, n))
    query = peers.http.post(
        "/modalities/py/query", json={"Level": "Study", "Query": {"PatientID": "P2"}}
    ).json()
    answers = peers.http.get(f"/queries/{query['ID']}/answers?expand").json()
    assert [a["0020,000d"]["Value"] for a in answers] == [study(2)]
    moved = peers.http.post(
        "/modalities/py/move",
        json={"Level": "Study", "Resources": [{"StudyInstanceUID": study(2)}], "TargetAet": "ORTHANC110"},
    )
    assert moved.status_code == 200, moved.text
    found = peers.http.post("/tools/find", json={"Level": "Instance", "Query": {"PatientID": "P2"}}).json()
    assert len(found) == 2


def test_move_and_get_from_orthanc(peers: Peers) -> None:
    for patient in (3, 4):
        for n in range(2):
            peers.http.post("/instances", content=instance(patient, n)).raise_for_status()
    before = peers.our_instance_count()
    peers.ours.run(
        scu.move(peers.ours.context, peers.orthanc, "Study", {"StudyInstanceUID": study(3)}, "ORTHANCPY")
    )
    assert peers.our_instance_count() == before + 2
    outcome = peers.ours.run(
        scu.get(peers.ours.context, peers.orthanc, "Study", {"StudyInstanceUID": study(4)})
    )
    assert len(outcome.received) == 2
    assert peers.our_instance_count() == before + 4


def _wait(check: Callable[[], T | None]) -> T:
    for _ in range(150):
        value = check()
        if value is not None:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_orthanc_asks_us_for_storage_commitment(peers: Peers) -> None:
    for n in range(2):
        peers.http.post("/instances", content=instance(5, n)).raise_for_status()
    found = peers.http.post("/tools/find", json={"Level": "Study", "Query": {"PatientID": "P5"}}).json()
    stored = peers.http.post(
        "/modalities/py/store", json={"Resources": found, "StorageCommitment": True, "Synchronous": True}
    )
    assert stored.status_code == 200, stored.text
    uid = stored.json()["StorageCommitmentTransactionUID"]

    def report() -> dict[str, Any] | None:
        answer = peers.http.get(f"/storage-commitment/{uid}").json()
        return None if answer["Status"] == "Pending" else dict(answer)

    final = _wait(report)
    assert final["Status"] == "Success" and final["RemoteAET"] == "ORTHANCPY"
    assert len(final["Success"]) == 2 and final["Failures"] == []

    unknown = ["1.2.840.10008.5.1.4.1.1.2", "1.2.826.0.1.3680043.8.1055.3.5.9"]
    asked = peers.http.post("/modalities/py/storage-commitment", json={"DicomInstances": [unknown]})
    uid = asked.json()["ID"]
    failed = _wait(report)
    assert failed["Status"] == "Failure" and failed["Success"] == []
    assert failed["Failures"] == [
        {
            "SOPClassUID": unknown[0],
            "SOPInstanceUID": unknown[1],
            "FailureReason": 0x0112,
            "Description": NO_SUCH_OBJECT,
        }
    ]


def test_we_ask_orthanc_for_storage_commitment(peers: Peers) -> None:
    peers.http.post("/instances", content=instance(6, 0)).raise_for_status()
    sop_class = "1.2.840.10008.5.1.4.1.1.2"
    pairs = [(sop_class, "1.2.826.0.1.3680043.8.1055.3.6.0"), (sop_class, "1.2.826.0.1.3680043.8.1055.3.6.9")]
    uid = peers.ours.run(storage_commitment.request_commitment(peers.ours.context, peers.orthanc, pairs))

    def report() -> storage_commitment.CommitmentReport | None:
        found = peers.ours.run(storage_commitment.load_report(peers.ours.context, uid))
        return found if found.complete else None

    final = _wait(report)
    assert final.to_json() == {
        "RemoteAET": "ORTHANC110",
        "Status": "Failure",
        "Success": [{"SOPClassUID": sop_class, "SOPInstanceUID": pairs[0][1]}],
        "Failures": [
            {
                "SOPClassUID": sop_class,
                "SOPInstanceUID": pairs[1][1],
                "FailureReason": 0x0112,
                "Description": NO_SUCH_OBJECT,
            }
        ],
    }
