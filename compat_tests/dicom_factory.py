"""Deterministic DICOM test files for the compatibility suite.

The same bytes are sent to the real Orthanc when recording and to orthanc_py when replaying, so
everything in a file is fixed: UIDs, dates, names, pixel data and the file meta header (including the
implementation UID and version name, which pydicom would otherwise fill with its own values).

Hierarchy (key = file name without ``.dcm``)::

    p1  DOE^JOHN            PAT001  M  19700101
        st1 20100315 CT CHEST       se1 CT x3 (p1-st1-se1-i1..i3)
                                    se2 CT x1 implicit VR little endian (p1-st1-se2-i1)
        st2 20150620 MR BRAIN       se1 MR x2 (p1-st2-se1-i1..i2)
    p2  SMITH^JANE^MARIE    PAT002  F  19851212
        st1 20120101 CT ABDOMEN     se1 CT x2 (p2-st1-se1-i1..i2)
        st2 20181111 MR KNEE        se1 MR multi-frame, 3 frames (p2-st2-se1-i1)
    p3  MÜLLER^JÖRG         PAT003  O  19600229  (ISO_IR 100)
        st1 20200505 CT Thorax réévaluation
                                    se1 CT x1, private tags + ReferencedStudySequence (p3-st1-se1-i1)

Extra files, uploaded only by the scenarios that need them:

* ``p1-st1-se1-i1-v2``: same SOPInstanceUID as ``p1-st1-se1-i1``, InstanceNumber 101 and another
  ImageComments (for ``OverwriteInstances``);
* ``p3-st1-se2-i1-nometa``: a dataset written without preamble nor file meta header.

Run ``python -m compat_tests.dicom_factory`` to (re)write ``fixtures/dicom/``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

ROOT = "1.2.826.0.1.3680043.10.1"
IMPLEMENTATION_CLASS_UID = f"{ROOT}.99"
IMPLEMENTATION_VERSION_NAME = "ORTHANCPY_FIX"

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
ENHANCED_MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4.1"

FIXTURES_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "dicom"

ROWS = COLUMNS = 16


@dataclass(frozen=True)
class PatientSpec:
    key: str
    number: int
    name: str
    patient_id: str
    sex: str
    birth_date: str
    charset: str | None = None


@dataclass(frozen=True)
class StudySpec:
    key: str
    number: int
    date: str
    time: str
    description: str
    accession: str
    study_id: str
    referring: str
    modality: str


@dataclass(frozen=True)
class SeriesSpec:
    key: str
    number: int
    description: str
    body_part: str


@dataclass
class InstanceSpec:
    """One file: its place in the hierarchy and what differs from the defaults."""

    patient: PatientSpec
    study: StudySpec
    series: SeriesSpec
    number: int
    transfer_syntax: str = ExplicitVRLittleEndian
    frames: int = 1
    file_suffix: str = ""
    instance_number: int | None = None
    image_comments: str | None = None
    private_tags: bool = False
    referenced_study: bool = False
    write_meta: bool = True
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.patient.key}-{self.study.key}-{self.series.key}-i{self.number}{self.file_suffix}"


PATIENTS = {
    "p1": PatientSpec("p1", 1, "DOE^JOHN", "PAT001", "M", "19700101"),
    "p2": PatientSpec("p2", 2, "SMITH^JANE^MARIE", "PAT002", "F", "19851212"),
    "p3": PatientSpec("p3", 3, "MÜLLER^JÖRG", "PAT003", "O", "19600229", charset="ISO_IR 100"),
}

STUDIES = {
    ("p1", "st1"): StudySpec(
        "st1", 1, "20100315", "101500", "CT CHEST", "ACC1001", "S1001", "HOUSE^GREGORY", "CT"
    ),
    ("p1", "st2"): StudySpec(
        "st2", 2, "20150620", "083000", "MR BRAIN", "ACC1002", "S1002", "HOUSE^GREGORY", "MR"
    ),
    ("p2", "st1"): StudySpec(
        "st1", 1, "20120101", "120000", "CT ABDOMEN", "ACC2001", "S2001", "WILSON^JAMES", "CT"
    ),
    ("p2", "st2"): StudySpec(
        "st2", 2, "20181111", "154500", "MR KNEE", "ACC2002", "S2002", "WILSON^JAMES", "MR"
    ),
    ("p3", "st1"): StudySpec(
        "st1", 1, "20200505", "070707", "Thorax réévaluation", "ACC3001", "S3001", "CUDDY^LISA", "CT"
    ),
}

SERIES = {
    ("p1", "st1", "se1"): SeriesSpec("se1", 1, "AXIAL 5mm", "CHEST"),
    ("p1", "st1", "se2"): SeriesSpec("se2", 2, "LOCALIZER", "CHEST"),
    ("p1", "st2", "se1"): SeriesSpec("se1", 1, "T1 SAG", "HEAD"),
    ("p2", "st1", "se1"): SeriesSpec("se1", 1, "ABDOMEN VENOUS", "ABDOMEN"),
    ("p2", "st2", "se1"): SeriesSpec("se1", 1, "PD FS MULTIFRAME", "KNEE"),
    ("p3", "st1", "se1"): SeriesSpec("se1", 1, "Thorax séquence", "CHEST"),
    ("p3", "st1", "se2"): SeriesSpec("se2", 2, "NO META HEADER", "CHEST"),
}


def _instance(p: str, st: str, se: str, number: int, **kwargs: object) -> InstanceSpec:
    return InstanceSpec(PATIENTS[p], STUDIES[(p, st)], SERIES[(p, st, se)], number, **kwargs)  # type: ignore[arg-type]


INSTANCES: list[InstanceSpec] = [
    _instance("p1", "st1", "se1", 1),
    _instance("p1", "st1", "se1", 2),
    _instance("p1", "st1", "se1", 3),
    _instance("p1", "st1", "se2", 1, transfer_syntax=ImplicitVRLittleEndian),
    _instance("p1", "st2", "se1", 1),
    _instance("p1", "st2", "se1", 2),
    _instance("p2", "st1", "se1", 1),
    _instance("p2", "st1", "se1", 2),
    _instance("p2", "st2", "se1", 1, frames=3),
    _instance("p3", "st1", "se1", 1, private_tags=True, referenced_study=True),
]

EXTRA_INSTANCES: list[InstanceSpec] = [
    _instance(
        "p1", "st1", "se1", 1, file_suffix="-v2", instance_number=101, image_comments="overwritten version"
    ),
    _instance("p3", "st1", "se2", 1, file_suffix="-nometa", write_meta=False),
]

# The ten files of the main data set, in upload order.
MAIN_KEYS: list[str] = [spec.key for spec in INSTANCES]
ALL_SPECS: dict[str, InstanceSpec] = {spec.key: spec for spec in INSTANCES + EXTRA_INSTANCES}


def study_uid(spec: InstanceSpec) -> str:
    return f"{ROOT}.2.{spec.patient.number}.{spec.study.number}"


def series_uid(spec: InstanceSpec) -> str:
    return f"{ROOT}.3.{spec.patient.number}.{spec.study.number}.{spec.series.number}"


def sop_uid(spec: InstanceSpec) -> str:
    return f"{ROOT}.4.{spec.patient.number}.{spec.study.number}.{spec.series.number}.{spec.number}"


def frame_of_reference_uid(spec: InstanceSpec) -> str:
    return f"{ROOT}.5.{spec.patient.number}.{spec.study.number}"


def sop_class_uid(spec: InstanceSpec) -> str:
    if spec.frames > 1:
        return ENHANCED_MR_IMAGE_STORAGE
    return CT_IMAGE_STORAGE if spec.study.modality == "CT" else MR_IMAGE_STORAGE


def _pixel_bytes(spec: InstanceSpec) -> bytes:
    """A small gradient, different per instance and per frame, little endian uint16."""
    out = bytearray()
    seed = spec.patient.number * 1000 + spec.study.number * 100 + spec.series.number * 10 + spec.number
    for frame in range(spec.frames):
        for y in range(ROWS):
            for x in range(COLUMNS):
                value = (seed * 7 + frame * 300 + x * 16 + y * 64) % 4096
                out += value.to_bytes(2, "little")
    return bytes(out)


def build_dataset(spec: InstanceSpec) -> Dataset:
    ds = Dataset()
    if spec.patient.charset:
        ds.SpecificCharacterSet = spec.patient.charset
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.InstanceCreationDate = spec.study.date
    ds.InstanceCreationTime = spec.study.time
    ds.SOPClassUID = sop_class_uid(spec)
    ds.SOPInstanceUID = sop_uid(spec)
    ds.StudyDate = spec.study.date
    ds.SeriesDate = spec.study.date
    ds.ContentDate = spec.study.date
    ds.StudyTime = spec.study.time
    ds.SeriesTime = spec.study.time
    ds.ContentTime = spec.study.time
    ds.AccessionNumber = spec.study.accession
    ds.Modality = spec.study.modality
    ds.Manufacturer = "ORTHANCPY FACTORY"
    ds.InstitutionName = "Compat Hospital"
    ds.ReferringPhysicianName = spec.study.referring
    ds.StationName = "STATION1"
    ds.StudyDescription = spec.study.description
    if spec.study.key == "st1":
        code = Dataset()
        code.CodeValue = f"PROC{spec.patient.number}{spec.study.number}"
        code.CodingSchemeDesignator = "LOCAL"
        code.CodeMeaning = f"Procedure {spec.study.description}"
        ds.ProcedureCodeSequence = Sequence([code])
    ds.SeriesDescription = spec.series.description
    if spec.referenced_study:
        ref = Dataset()
        ref.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"
        ref.ReferencedSOPInstanceUID = f"{ROOT}.2.1.1"
        ds.ReferencedStudySequence = Sequence([ref])
    ds.PatientName = spec.patient.name
    ds.PatientID = spec.patient.patient_id
    ds.PatientBirthDate = spec.patient.birth_date
    ds.PatientSex = spec.patient.sex
    ds.BodyPartExamined = spec.series.body_part
    if spec.study.modality == "CT":
        ds.SliceThickness = "5"
        ds.KVP = "120"
    else:
        ds.SliceThickness = "3"
        ds.MagneticFieldStrength = "1.5"
    ds.StudyInstanceUID = study_uid(spec)
    ds.SeriesInstanceUID = series_uid(spec)
    ds.StudyID = spec.study.study_id
    ds.SeriesNumber = spec.series.number
    ds.AcquisitionNumber = 1
    ds.InstanceNumber = spec.instance_number if spec.instance_number is not None else spec.number
    ds.ImagePositionPatient = [-120, -120, (spec.number - 1) * 5]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.FrameOfReferenceUID = frame_of_reference_uid(spec)
    ds.SliceLocation = (spec.number - 1) * 5
    if spec.image_comments:
        ds.ImageComments = spec.image_comments
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    if spec.frames > 1:
        ds.NumberOfFrames = spec.frames
    ds.Rows = ROWS
    ds.Columns = COLUMNS
    ds.PixelSpacing = [0.5, 0.5]
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.WindowCenter = "2048"
    ds.WindowWidth = "4096"
    ds.RescaleIntercept = "0"
    ds.RescaleSlope = "1"
    if spec.private_tags:
        ds.private_block(0x0009, "ORTHANCPY COMPAT", create=True).add_new(0x01, "LO", "private value")
        ds.add_new(0x00091002, "US", 4242)
    for keyword, value in spec.extra.items():
        setattr(ds, keyword, value)
    ds.PixelData = _pixel_bytes(spec)
    ds["PixelData"].VR = "OW"
    return ds


def encode(spec: InstanceSpec) -> bytes:
    """The exact bytes of one fixture file."""
    ds = build_dataset(spec)
    buffer = io.BytesIO()
    if spec.write_meta:
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = ds.SOPClassUID
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        meta.TransferSyntaxUID = spec.transfer_syntax
        meta.ImplementationClassUID = IMPLEMENTATION_CLASS_UID
        meta.ImplementationVersionName = IMPLEMENTATION_VERSION_NAME
        ds.file_meta = meta
        ds.preamble = b"\x00" * 128
        ds.save_as(buffer, enforce_file_format=True)
    else:
        implicit = spec.transfer_syntax == ImplicitVRLittleEndian
        ds.save_as(buffer, implicit_vr=implicit, little_endian=True)
    return buffer.getvalue()


def orthanc_id(*parts: str) -> str:
    """Orthanc's public identifier: SHA-1 of the '|'-joined DICOM identifiers, in 5 dashed groups."""
    digest = hashlib.sha1("|".join(parts).encode("utf-8")).hexdigest()
    return "-".join(digest[i : i + 8] for i in range(0, 40, 8))


def ids_of(key: str) -> dict[str, str]:
    """Orthanc public IDs and DICOM UIDs of a fixture file, by level."""
    spec = ALL_SPECS[key]
    pid, st, se, sop = spec.patient.patient_id, study_uid(spec), series_uid(spec), sop_uid(spec)
    return {
        "patient": orthanc_id(pid),
        "study": orthanc_id(pid, st),
        "series": orthanc_id(pid, st, se),
        "instance": orthanc_id(pid, st, se, sop),
        "PatientID": pid,
        "StudyInstanceUID": st,
        "SeriesInstanceUID": se,
        "SOPInstanceUID": sop,
    }


def fixture_path(key: str) -> Path:
    return FIXTURES_DIR / f"{key}.dcm"


def write_all(directory: Path = FIXTURES_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for key, spec in ALL_SPECS.items():
        path = directory / f"{key}.dcm"
        data = encode(spec)
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)
        written.append(path)
    return written


def check_all(directory: Path = FIXTURES_DIR) -> list[str]:
    """Keys whose file on disk differs from what this module generates."""
    return [
        key
        for key, spec in ALL_SPECS.items()
        if not (directory / f"{key}.dcm").exists() or (directory / f"{key}.dcm").read_bytes() != encode(spec)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only verify that fixtures/dicom is up to date")
    args = parser.parse_args(argv)
    if args.check:
        stale = check_all()
        for key in stale:
            print(f"stale: {key}")
        return 1 if stale else 0
    for path in write_all():
        print(f"{path.relative_to(FIXTURES_DIR.parent.parent)}  {path.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
