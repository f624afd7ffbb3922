"""C-FIND answers of orthanc_py and of the real Orthanc 1.10.1, compared tag by tag.

Both servers hold the same files and share one AET; pynetdicom asks both the same queries (every
level, both information models, wildcard, range, list, case and character set matching, computed
counters, sequences) and every answer must be identical, except for the differences listed in
``DELIBERATE_DIFFERENCES``.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pynetdicom import AE

from .dicom_support import RunningServer, make_instance
from .real_orthanc import RealOrthanc

pytestmark = pytest.mark.orthanc

AET = "PARITY"
PATIENT_ROOT = "1.2.840.10008.5.1.4.1.2.1.1"
STUDY_ROOT = "1.2.840.10008.5.1.4.1.2.2.1"
STUDY_1 = "1.2.826.0.1.3680043.8.1055.1.1"
INSTANCE_AVAILABILITY = 0x00080056
PROCEDURE_CODE_SEQUENCE = 0x00081032

# (tag, our value, Orthanc 1.10.1's value) → why we answer differently.
DELIBERATE_DIFFERENCES: dict[tuple[int, str, str], str] = {
    (INSTANCE_AVAILABILITY, "ONLINE", ""): (
        "Orthanc 1.12 answers ONLINE (every stored instance is online); 1.10.1 left it empty"
    ),
    (PROCEDURE_CODE_SEQUENCE, "empty", "absent"): (
        "a requested sequence the resource lacks is answered empty, as Orthanc 1.12 does; 1.10.1 left it out"
    ),
}


def _latin1_instance() -> bytes:
    """A patient with accented names, no StudyDescription, a multi-valued ImageType and a sequence."""
    dataset = pydicom.dcmread(
        io.BytesIO(make_instance("P3", "1.2.3.3.1", "1.2.3.3.2", "1.2.3.3.3", modality="US"))
    )
    dataset.PatientName = "MÜLLER^HÉLÈNE"
    dataset.StudyDate = "20190101"
    del dataset.StudyDescription
    dataset.ImageType = ["ORIGINAL", "PRIMARY"]
    code = Dataset()
    code.CodeValue = "X1"
    code.CodingSchemeDesignator = "L"
    code.CodeMeaning = "thing"
    dataset.ProcedureCodeSequence = Sequence([code])
    buffer = io.BytesIO()
    dataset.save_as(buffer)
    return buffer.getvalue()


def stored_files() -> list[bytes]:
    return [
        _latin1_instance(),
        make_instance(instance="1.2.3.1.0"),
        make_instance(instance="1.2.3.1.1", series="1.2.3.1.9", modality="SR"),
        make_instance(
            "P2",
            "1.2.826.0.1.3680043.8.1055.1.2",
            "1.2.826.0.1.3680043.8.1055.2.2",
            "1.2.3.2.1",
            patient_name="ROE^JANE",
            modality="MR",
            study_description="BRAIN",
        ),
    ]


def query(level: str, **keys: Any) -> Dataset:
    dataset = Dataset()
    dataset.QueryRetrieveLevel = level
    for keyword, value in keys.items():
        setattr(dataset, keyword, value)
    return dataset


def sequence_query(item_keys: dict[str, str] | None) -> Dataset:
    dataset = query("STUDY", StudyInstanceUID="")
    item = Dataset()
    for keyword, value in (item_keys or {}).items():
        setattr(item, keyword, value)
    dataset.ProcedureCodeSequence = Sequence([item] if item_keys is not None else [])
    return dataset


QUERIES: dict[str, tuple[str, Dataset]] = {
    "patients": (
        PATIENT_ROOT,
        query(
            "PATIENT", PatientID="", PatientName="", PatientBirthDate="", PatientSex="",
            NumberOfPatientRelatedStudies="", NumberOfPatientRelatedSeries="",
            NumberOfPatientRelatedInstances="",
        ),
    ),
    "patients-wildcard-pn-folded": (PATIENT_ROOT, query("PATIENT", PatientID="", PatientName="d*")),
    "studies-patient-root": (PATIENT_ROOT, query("STUDY", PatientID="P1", StudyInstanceUID="", StudyDate="")),
    "studies": (
        STUDY_ROOT,
        query(
            "STUDY", StudyInstanceUID="", StudyDate="", StudyTime="", AccessionNumber="",
            StudyDescription="", PatientName="", PatientID="", ModalitiesInStudy="",
            NumberOfStudyRelatedSeries="", NumberOfStudyRelatedInstances="", SOPClassesInStudy="",
            ReferringPhysicianName="", StudyID="", RetrieveAETitle="",
        ),
    ),
    "studies-date-range": (STUDY_ROOT, query("STUDY", StudyInstanceUID="", StudyDate="20200101-")),
    "studies-date-upper": (STUDY_ROOT, query("STUDY", StudyInstanceUID="", StudyDate="-20200101")),
    "studies-modality-list": (
        STUDY_ROOT,
        query("STUDY", StudyInstanceUID="", ModalitiesInStudy="US\\MR", PatientName="m*"),
    ),
    "studies-description-case": (STUDY_ROOT, query("STUDY", StudyInstanceUID="", StudyDescription="brain")),
    "studies-accession-wildcard": (STUDY_ROOT, query("STUDY", StudyInstanceUID="", AccessionNumber="ACC?.1")),
    "studies-utf8-query": (
        STUDY_ROOT,
        query("STUDY", SpecificCharacterSet="ISO_IR 192", StudyInstanceUID="", PatientName="MÜLLER*"),
    ),
    "studies-uid-list": (
        STUDY_ROOT,
        query("STUDY", StudyInstanceUID=f"{STUDY_1}\\1.2.3.3.1", PatientID=""),
    ),
    "studies-empty-sequence": (STUDY_ROOT, sequence_query(None)),
    "studies-sequence-item": (STUDY_ROOT, sequence_query({"CodeValue": ""})),
    "series": (
        STUDY_ROOT,
        query(
            "SERIES", StudyInstanceUID=STUDY_1, SeriesInstanceUID="", Modality="", SeriesNumber="",
            SeriesDescription="", NumberOfSeriesRelatedInstances="", PatientName="",
        ),
    ),
    "series-modality": (STUDY_ROOT, query("SERIES", SeriesInstanceUID="", Modality="SR")),
    "instances": (
        STUDY_ROOT,
        query(
            "IMAGE", StudyInstanceUID=STUDY_1, SeriesInstanceUID="", SOPInstanceUID="",
            SOPClassUID="", InstanceNumber="", Rows="", ImageType="", InstanceAvailability="",
        ),
    ),
    "instances-patient-root": (
        PATIENT_ROOT,
        query("IMAGE", PatientID="P3", SOPInstanceUID="", ImageType="", NumberOfFrames="", PatientName=""),
    ),
    "instances-image-type-wildcard": (STUDY_ROOT, query("IMAGE", SOPInstanceUID="", ImageType="*PRIMARY*")),
}  # fmt: skip

_KEY_OF_LEVEL = {
    "PATIENT": "PatientID",
    "STUDY": "StudyInstanceUID",
    "SERIES": "SeriesInstanceUID",
    "IMAGE": "SOPInstanceUID",
}


class Servers:
    def __init__(self, ours: RunningServer, orthanc_port: int) -> None:
        self.ours = ours
        self.orthanc_port = orthanc_port
        self.ae = AE(ae_title="FINDSCU")
        self.ae.add_requested_context(PATIENT_ROOT)
        self.ae.add_requested_context(STUDY_ROOT)

    def find(self, port: int, model: str, identifier: Dataset) -> list[Dataset]:
        assoc = self.ae.associate("127.0.0.1", port, ae_title=AET)
        assert assoc.is_established
        try:
            answers = [
                answer
                for status, answer in assoc.send_c_find(identifier, model)
                if answer is not None and status.Status in (0xFF00, 0xFF01)
            ]
        finally:
            assoc.release()
        key = _KEY_OF_LEVEL[str(identifier.QueryRetrieveLevel)]
        return sorted(answers, key=lambda answer: str(answer.get(key, "")))


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    folder = tmp_path_factory.mktemp("parity")
    modalities = {"scu": ["FINDSCU", "127.0.0.1", 104]}
    ours = RunningServer(folder / "ours", {"DicomAet": AET, "DicomModalities": modalities})
    orthanc = None
    try:
        orthanc = RealOrthanc(folder / "orthanc", {"DicomAet": AET, "DicomModalities": modalities})
        for data in stored_files():
            ours.store(data)
            orthanc.http.post("/instances", content=data).raise_for_status()
        yield Servers(ours, orthanc.dicom_port)
    finally:
        if orthanc is not None:
            orthanc.close()
        ours.close()


def _shown(element: Any) -> str:
    if element is None:
        return "absent"
    if element.VR == "SQ" and len(element.value) == 0:
        return "empty"
    return str(element.value)


def differences(ours: Dataset, orthanc: Dataset) -> list[str]:
    found = []
    for tag in sorted({e.tag for e in ours} | {e.tag for e in orthanc}):
        mine, theirs = ours.get(tag), orthanc.get(tag)
        if mine is not None and theirs is not None and (mine.VR, mine.value) == (theirs.VR, theirs.value):
            continue
        if (int(tag), _shown(mine), _shown(theirs)) in DELIBERATE_DIFFERENCES:
            continue
        found.append(f"{tag}: orthanc_py {mine!r} / Orthanc {theirs!r}")
    return found


@pytest.mark.parametrize("name", list(QUERIES))
def test_find_answers_as_orthanc(servers: Servers, name: str) -> None:
    model, identifier = QUERIES[name]
    ours = servers.find(servers.ours.port, model, identifier)
    orthanc = servers.find(servers.orthanc_port, model, identifier)
    assert len(ours) == len(orthanc), (ours, orthanc)
    for mine, theirs in zip(ours, orthanc, strict=True):
        assert differences(mine, theirs) == []


def test_the_comparison_sees_answers(servers: Servers) -> None:
    """The queries above do find resources (an empty answer on both sides proves nothing)."""
    model, identifier = QUERIES["studies"]
    assert len(servers.find(servers.ours.port, model, identifier)) == 3
