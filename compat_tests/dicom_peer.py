"""The DICOM modality that the DICOM scenarios talk to, the same when recording and when replaying.

A pynetdicom SCP (AET ``COMPATPEER``) holding the main data set of ``dicom_factory`` (read from
``fixtures/dicom``): it answers C-ECHO, C-FIND, C-MOVE and C-GET (Patient and Study Root) and
storage commitment, and accepts C-STORE. What it is sent is kept apart, so that its answers to
queries never change during a scenario. A C-MOVE, and the report of a storage commitment, go to
the server under test, whatever the destination AET.

A scenario uses it by naming ``PEER_PORT_PLACEHOLDER`` as the port of a modality in its
configuration: the harness then starts the peer on a free port, gives the server under test a free
DICOM port (so that it can receive the peer's C-STOREs) and puts both ports in the configuration it
runs with; the recorded configuration keeps the placeholder.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from collections.abc import Iterator
from typing import Any

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import AE, evt
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    PatientRootQueryRetrieveInformationModelFind,
    PatientRootQueryRetrieveInformationModelGet,
    PatientRootQueryRetrieveInformationModelMove,
    StorageCommitmentPushModel,
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
    Verification,
)

from .dicom_factory import (
    CT_IMAGE_STORAGE,
    ENHANCED_MR_IMAGE_STORAGE,
    MAIN_KEYS,
    MR_IMAGE_STORAGE,
    fixture_path,
)

PEER_AET = "COMPATPEER"
PEER_PORT_PLACEHOLDER = "<peer-port>"

STORAGE_CLASSES = (CT_IMAGE_STORAGE, MR_IMAGE_STORAGE, ENHANCED_MR_IMAGE_STORAGE)
TRANSFER_SYNTAXES = [ExplicitVRLittleEndian, ImplicitVRLittleEndian]

LEVEL_KEYS = {
    "PATIENT": "PatientID",
    "STUDY": "StudyInstanceUID",
    "SERIES": "SeriesInstanceUID",
    "IMAGE": "SOPInstanceUID",
}
LEVELS = list(LEVEL_KEYS)
# Keys a peer computes instead of reading them from the files.
COMPUTED = {
    "NumberOfPatientRelatedStudies": ("PATIENT", "STUDY"),
    "NumberOfPatientRelatedSeries": ("PATIENT", "SERIES"),
    "NumberOfPatientRelatedInstances": ("PATIENT", "IMAGE"),
    "NumberOfStudyRelatedSeries": ("STUDY", "SERIES"),
    "NumberOfStudyRelatedInstances": ("STUDY", "IMAGE"),
    "NumberOfSeriesRelatedInstances": ("SERIES", "IMAGE"),
}
NOT_MATCHED = {"QueryRetrieveLevel", "SpecificCharacterSet", *COMPUTED, "ModalitiesInStudy"}


def uses_peer(config: dict[str, Any]) -> bool:
    modalities = config.get("DicomModalities") or {}
    return PEER_PORT_PLACEHOLDER in repr(modalities)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _matches(value: Any, wanted: Any, vr: str) -> bool:
    """DICOM matching of one key, enough for the scenarios: universal, wildcard, range, UID list."""
    if wanted is None or wanted == "" or vr == "SQ":
        return True
    text, pattern = str(value if value is not None else ""), str(wanted)
    if vr in ("DA", "TM", "DT") and "-" in pattern:
        low, high = pattern.split("-", 1)
        return (not low or text >= low) and (not high or text <= high)
    if vr == "UI" and "\\" in pattern:
        return text in pattern.split("\\")
    if "*" in pattern or "?" in pattern:  # DICOM's only wildcards (no character classes)
        regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
        return re.fullmatch(regex, text, re.DOTALL) is not None
    return text == pattern


class DicomPeer:
    def __init__(self, keys: list[str] | None = None) -> None:
        self.datasets = [dcmread(fixture_path(key)) for key in keys or MAIN_KEYS]
        self.received: list[Dataset] = []
        self.requests: list[Dataset] = []  # the identifiers of the C-FINDs and C-MOVEs, to debug
        self.destination: tuple[str, int] = ("127.0.0.1", 0)
        self.server_aet = "ORTHANC"  # the called AET of the storage commitment reports
        self._lock = threading.Lock()
        ae = AE(ae_title=PEER_AET)
        ae.add_supported_context(Verification)
        ae.add_supported_context(StorageCommitmentPushModel)
        ae.add_requested_context(StorageCommitmentPushModel)
        for sop in (
            PatientRootQueryRetrieveInformationModelFind,
            StudyRootQueryRetrieveInformationModelFind,
            PatientRootQueryRetrieveInformationModelMove,
            StudyRootQueryRetrieveInformationModelMove,
            PatientRootQueryRetrieveInformationModelGet,
            StudyRootQueryRetrieveInformationModelGet,
        ):
            ae.add_supported_context(sop)
        for sop in STORAGE_CLASSES:
            # scp_role: a C-GET's requestor may act as the storage SCP on the same association.
            ae.add_supported_context(sop, TRANSFER_SYNTAXES, scu_role=False, scp_role=True)
            ae.add_requested_context(sop, TRANSFER_SYNTAXES)
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10
        self.ae = ae
        self.port = 0

    # ------------------------------------------------------------------ matching

    def _level_of(self, identifier: Dataset) -> str:
        level = str(identifier.get("QueryRetrieveLevel", "")).upper()
        return level if level in LEVEL_KEYS else "STUDY"

    def _matching(self, identifier: Dataset, level: str) -> list[Dataset]:
        """The first held file of each entity of ``level`` that matches every key of the query."""
        seen: set[str] = set()
        out = []
        for ds in self.datasets:
            uid = str(ds.get(LEVEL_KEYS[level], ""))
            if uid in seen:
                continue
            if all(
                _matches(ds[elem.tag].value if elem.tag in ds else None, elem.value, elem.VR)
                for elem in identifier
                if elem.keyword and elem.keyword not in NOT_MATCHED
            ):
                seen.add(uid)
                out.append(ds)
        return out

    def _below(self, ds: Dataset, level: str) -> list[Dataset]:
        depth = LEVELS.index(level)
        return [
            other
            for other in self.datasets
            if all(other.get(LEVEL_KEYS[lv]) == ds.get(LEVEL_KEYS[lv]) for lv in LEVELS[: depth + 1])
        ]

    def _answer(self, identifier: Dataset, ds: Dataset, level: str) -> Dataset:
        answer = Dataset()
        if "SpecificCharacterSet" in ds:
            answer.SpecificCharacterSet = ds.SpecificCharacterSet
        below = self._below(ds, level)
        for elem in identifier:
            keyword = elem.keyword
            if keyword in ("QueryRetrieveLevel", "SpecificCharacterSet") or not keyword:
                continue
            if keyword in COMPUTED:
                count_level = COMPUTED[keyword][1]
                setattr(answer, keyword, str(len({str(d.get(LEVEL_KEYS[count_level])) for d in below})))
            elif keyword == "ModalitiesInStudy":
                answer.ModalitiesInStudy = sorted({str(d.Modality) for d in below})
            elif keyword in ds:
                answer[elem.tag] = ds[elem.tag]
            else:
                answer[elem.tag] = elem
        answer.QueryRetrieveLevel = level
        return answer

    # ------------------------------------------------------------------ handlers

    def _on_find(self, event: evt.Event) -> Iterator[tuple[int, Dataset | None]]:
        identifier = event.identifier
        self.requests.append(identifier)
        level = self._level_of(identifier)
        for ds in self._matching(identifier, level):
            yield 0xFF00, self._answer(identifier, ds, level)

    def _on_move(self, event: evt.Event) -> Iterator[Any]:
        identifier = event.identifier
        self.requests.append(identifier)
        level = self._level_of(identifier)
        yield self.destination
        instances = [inst for ds in self._matching(identifier, level) for inst in self._below(ds, level)]
        yield len(instances)
        for instance in instances:
            yield 0xFF00, instance

    def _on_get(self, event: evt.Event) -> Iterator[Any]:
        identifier = event.identifier
        self.requests.append(identifier)
        level = self._level_of(identifier)
        instances = [inst for ds in self._matching(identifier, level) for inst in self._below(ds, level)]
        yield len(instances)
        for instance in instances:
            yield 0xFF00, instance

    def _on_commitment(self, event: evt.Event) -> tuple[int, None]:
        """N-ACTION of storage commitment: accepted at once, its report (N-EVENT-REPORT) sent on
        an association of its own, as most archives do; the peer commits to the instances it holds
        or was sent, and fails the others (0x0112: no such object instance)."""
        request = event.action_information
        held = {str(ds.SOPInstanceUID) for ds in self.datasets}
        with self._lock:
            held |= {str(ds.SOPInstanceUID) for ds in self.received}
        report = Dataset()
        report.TransactionUID = request.TransactionUID
        success, failed = [], []
        for item in request.ReferencedSOPSequence:
            reference = Dataset()
            reference.ReferencedSOPClassUID = item.ReferencedSOPClassUID
            reference.ReferencedSOPInstanceUID = item.ReferencedSOPInstanceUID
            if str(item.ReferencedSOPInstanceUID) in held:
                success.append(reference)
            else:
                reference.FailureReason = 0x0112
                failed.append(reference)
        if success:
            report.ReferencedSOPSequence = success
        if failed:
            report.FailedSOPSequence = failed
        event_type = 2 if failed else 1
        threading.Thread(target=self._send_report, args=(report, event_type), daemon=True).start()
        return 0x0000, None

    def _send_report(self, report: Dataset, event_type: int) -> None:
        assoc = self.ae.associate(*self.destination, ae_title=self.server_aet)
        if assoc.is_established:
            assoc.send_n_event_report(
                report, event_type, StorageCommitmentPushModel, "1.2.840.10008.1.20.1.1"
            )
            assoc.release()

    def _on_store(self, event: evt.Event) -> int:
        with self._lock:
            self.received.append(event.dataset)
        return 0x0000

    # ------------------------------------------------------------------ life

    def start(self) -> None:
        handlers = [
            (evt.EVT_C_ECHO, lambda event: 0x0000),
            (evt.EVT_C_FIND, self._on_find),
            (evt.EVT_C_MOVE, self._on_move),
            (evt.EVT_C_GET, self._on_get),
            (evt.EVT_N_ACTION, self._on_commitment),
            (evt.EVT_C_STORE, self._on_store),
        ]
        server = self.ae.start_server(("127.0.0.1", 0), block=False, evt_handlers=handlers)
        self.port = int(server.server_address[1])

    def stop(self) -> None:
        self.ae.shutdown()


@contextlib.contextmanager
def dicom_peer_for(config: dict[str, Any]) -> Iterator[dict[str, int] | None]:
    """For a configuration naming the peer: the running peer's port and a free DICOM port for the
    server under test (``{"peer": .., "server": ..}``), else None."""
    if not uses_peer(config):
        yield None
        return
    peer = DicomPeer()
    peer.server_aet = str(config.get("DicomAet", "ORTHANC"))
    server_port = free_port()
    peer.destination = ("127.0.0.1", server_port)
    peer.start()
    try:
        yield {"peer": peer.port, "server": server_port}
    finally:
        peer.stop()


def with_ports(config: dict[str, Any], ports: dict[str, int] | None) -> dict[str, Any]:
    """The configuration to run with: the peer's port in place of the placeholder, the server's
    DICOM port."""
    if ports is None:
        return config
    out = dict(config)
    out["DicomPort"] = ports["server"]
    modalities = {}
    for name, value in (config.get("DicomModalities") or {}).items():
        if isinstance(value, list):
            value = [ports["peer"] if item == PEER_PORT_PLACEHOLDER else item for item in value]
        elif isinstance(value, dict) and value.get("Port") == PEER_PORT_PLACEHOLDER:
            value = {**value, "Port": ports["peer"]}
        modalities[name] = value
    out["DicomModalities"] = modalities
    return out
