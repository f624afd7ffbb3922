"""Generate the benchmark's DICOM files once with pydicom, cache them on disk, and load them.

Everything is deterministic (UIDs, names, dates, pixels come from the dataset's name and shape), so a
cached folder can be reused across runs, and a query can name a patient or an instance it knows.

Two kinds of instance:

- ``ct``: CT Image Storage, 512x512, 16-bit (12 stored) MONOCHROME2, ~0.5 MB, realistic main tags;
- ``tiny``: 8x8 8-bit MONOCHROME2 image (~1.5 KB) of the modality picked for its study.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import io
import random
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydicom import dcmwrite
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian

DEFAULT_CACHE_DIR = Path("/tmp/orthanc-bench-cache")
GENERATOR_VERSION = 1  # bump when the generated content changes, to invalidate caches
UID_ROOT = "1.2.826.0.1.3680043.8.498."  # pydicom's root for generated UIDs

SOP_CLASSES = {
    "CT": "1.2.840.10008.5.1.4.1.1.2",
    "MR": "1.2.840.10008.5.1.4.1.1.4",
    "CR": "1.2.840.10008.5.1.4.1.1.1",
    "US": "1.2.840.10008.5.1.4.1.1.6.1",
    "MG": "1.2.840.10008.5.1.4.1.1.1.2",
}
SURNAMES = (
    "SMITH JOHNSON WILLIAMS BROWN JONES MILLER DAVIS GARCIA RODRIGUEZ WILSON MARTINEZ ANDERSON "
    "TAYLOR THOMAS HERNANDEZ MOORE MARTIN JACKSON THOMPSON WHITE LOPEZ LEE GONZALEZ HARRIS CLARK "
    "LEWIS ROBINSON WALKER PEREZ HALL YOUNG ALLEN SCOTT KING WRIGHT HILL GREEN ADAMS NELSON BAKER "
    "DUPONT MULLER SCHMIDT ROSSI BIANCHI PETIT DUBOIS NOVAK KOWALSKI JENSEN"
).split()
GIVEN_NAMES = (
    "JAMES MARY ROBERT PATRICIA JOHN JENNIFER MICHAEL LINDA DAVID ELIZABETH WILLIAM BARBARA RICHARD "
    "SUSAN JOSEPH JESSICA THOMAS SARAH CHRISTOPHER KAREN LUC ELISE PIERRE MARIE HANS GRETA ODILE "
    "SVEN INGRID PAOLO GIULIA YUKI OMAR LEILA IVAN OLGA"
).split()
BODY_PARTS = ("CHEST", "ABDOMEN", "HEAD", "PELVIS", "NECK", "SPINE", "KNEE")
STUDY_DESCRIPTIONS = ("CT CHEST W CONTRAST", "CT ABDOMEN PELVIS", "CT HEAD WO", "MRI BRAIN", "FOLLOW-UP")
MODALITIES = ("CT", "CT", "MR", "MR", "CR", "US", "MG")


@dataclass(frozen=True)
class DatasetSpec:
    """A set of instances: ``patients`` x ``studies`` x ``series`` x ``instances`` of one ``kind``."""

    name: str
    kind: Literal["ct", "tiny"]
    patients: int
    studies_per_patient: int
    series_per_study: int
    instances_per_series: int

    @property
    def count(self) -> int:
        return self.patients * self.studies_per_patient * self.series_per_study * self.instances_per_series

    @property
    def key(self) -> str:
        shape = (
            f"{self.patients}x{self.studies_per_patient}x{self.series_per_study}x{self.instances_per_series}"
        )
        return f"{self.name}-{self.kind}-{shape}-v{GENERATOR_VERSION}"

    @property
    def uid_stem(self) -> str:
        number = int(hashlib.sha1(self.key.encode()).hexdigest()[:8], 16)
        return f"{UID_ROOT}{number}"

    def patient_id(self, patient: int) -> str:
        return f"{self.name.upper()}{patient:06d}"

    def study_uid(self, patient: int, study: int) -> str:
        return f"{self.uid_stem}.1.{patient + 1}.{study + 1}"

    def series_uid(self, patient: int, study: int, series: int) -> str:
        return f"{self.uid_stem}.2.{patient + 1}.{study + 1}.{series + 1}"

    def instance_uid(self, patient: int, study: int, series: int, instance: int) -> str:
        return f"{self.uid_stem}.3.{patient + 1}.{study + 1}.{series + 1}.{instance + 1}"

    def frame_of_reference_uid(self, patient: int, study: int) -> str:
        return f"{self.uid_stem}.4.{patient + 1}.{study + 1}"


@dataclass(frozen=True)
class _Patient:
    name: str
    birth_date: str
    sex: str


@dataclass(frozen=True)
class _Study:
    date: str
    time: str
    description: str
    modality: str
    body_part: str
    accession: str


@functools.lru_cache(maxsize=4096)
def _patient(spec: DatasetSpec, patient: int) -> _Patient:
    rng = random.Random(f"{spec.key}/patient/{patient}")
    birth = datetime.date(1930, 1, 1) + datetime.timedelta(days=rng.randrange(80 * 365))
    return _Patient(
        name=f"{rng.choice(SURNAMES)}^{rng.choice(GIVEN_NAMES)}",
        birth_date=birth.strftime("%Y%m%d"),
        sex=rng.choice("MFMFO"),
    )


@functools.lru_cache(maxsize=4096)
def _study(spec: DatasetSpec, patient: int, study: int) -> _Study:
    rng = random.Random(f"{spec.key}/study/{patient}/{study}")
    date = datetime.date(2000, 1, 1) + datetime.timedelta(days=rng.randrange(25 * 365))
    return _Study(
        date=date.strftime("%Y%m%d"),
        time=f"{rng.randrange(7, 20):02d}{rng.randrange(60):02d}{rng.randrange(60):02d}",
        description=rng.choice(STUDY_DESCRIPTIONS),
        modality="CT" if spec.kind == "ct" else rng.choice(MODALITIES),
        body_part=rng.choice(BODY_PARTS),
        accession=f"A{rng.randrange(10**9):09d}",
    )


def _phantom(rows: int, columns: int) -> np.ndarray:
    """A disc of soft tissue in air, in 12-bit CT values (HU + 1024)."""
    y, x = np.ogrid[:rows, :columns]
    radius = np.hypot(y - rows / 2, x - columns / 2)
    image = np.where(radius < rows * 0.42, 1064, 24).astype(np.uint16)
    image[radius < rows * 0.1] = 1524  # a bright structure in the middle
    return image


_PHANTOM = None


def _ct_pixels(spec: DatasetSpec, index: int) -> bytes:
    global _PHANTOM
    if _PHANTOM is None:
        _PHANTOM = _phantom(512, 512)
    rng = np.random.default_rng(index)
    noisy = _PHANTOM + rng.integers(0, 40, size=_PHANTOM.shape, dtype=np.uint16)
    return noisy.astype("<u2").tobytes()


def make_instance(spec: DatasetSpec, patient: int, study: int, series: int, instance: int) -> bytes:
    """One DICOM file (Part 10, explicit VR little endian) as bytes."""
    p, s = _patient(spec, patient), _study(spec, patient, study)
    modality = s.modality
    sop_instance_uid = spec.instance_uid(patient, study, series, instance)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(SOP_CLASSES[modality])
    meta.MediaStorageSOPInstanceUID = UID(sop_instance_uid)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian

    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SOPClassUID = SOP_CLASSES[modality]
    ds.SOPInstanceUID = sop_instance_uid
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = s.date
    ds.StudyTime = ds.SeriesTime = ds.AcquisitionTime = ds.ContentTime = s.time
    ds.AccessionNumber = s.accession
    ds.Modality = modality
    ds.Manufacturer = "BENCH MEDICAL"
    ds.InstitutionName = "ORTHANC BENCH HOSPITAL"
    ds.ReferringPhysicianName = "WHO^CARES"
    ds.StationName = "SCANNER1"
    ds.StudyDescription = s.description
    ds.SeriesDescription = f"{s.body_part} {series + 1}"
    ds.ManufacturerModelName = "BENCHSCAN 64"
    ds.PatientName = p.name
    ds.PatientID = spec.patient_id(patient)
    ds.PatientBirthDate = p.birth_date
    ds.PatientSex = p.sex
    ds.BodyPartExamined = s.body_part
    ds.SliceThickness = "1.25"
    ds.KVP = "120"
    ds.ProtocolName = s.description
    ds.StudyInstanceUID = spec.study_uid(patient, study)
    ds.SeriesInstanceUID = spec.series_uid(patient, study, series)
    ds.StudyID = str(study + 1)
    ds.SeriesNumber = series + 1
    ds.AcquisitionNumber = 1
    ds.InstanceNumber = instance + 1
    ds.ImagePositionPatient = ["-250", "-250", f"{-instance * 1.25:.2f}"]
    ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
    ds.FrameOfReferenceUID = spec.frame_of_reference_uid(patient, study)
    ds.PositionReferenceIndicator = ""
    ds.SliceLocation = f"{-instance * 1.25:.2f}"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    if spec.kind == "ct":
        ds.Rows = ds.Columns = 512
        ds.PixelSpacing = ["0.976562", "0.976562"]
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
        ds.PixelRepresentation = 0
        ds.WindowCenter, ds.WindowWidth = "40", "400"
        ds.RescaleIntercept, ds.RescaleSlope = "-1024", "1"
        index = (((patient * spec.studies_per_patient) + study) * spec.series_per_study + series) * 1000
        ds.PixelData = _ct_pixels(spec, index + instance)
    else:
        ds.Rows = ds.Columns = 8
        ds.PixelSpacing = ["1", "1"]
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
        ds.PixelRepresentation = 0
        ds.PixelData = bytes((instance * 7 + i) % 256 for i in range(64))
    ds["PixelData"].VR = "OW" if spec.kind == "ct" else "OB"

    buffer = io.BytesIO()
    dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()


def iter_positions(spec: DatasetSpec) -> Iterator[tuple[int, int, int, int]]:
    """(patient, study, series, instance) in the order a modality would send them."""
    for patient in range(spec.patients):
        for study in range(spec.studies_per_patient):
            for series in range(spec.series_per_study):
                for instance in range(spec.instances_per_series):
                    yield patient, study, series, instance


def ensure_dataset(spec: DatasetSpec, cache_dir: Path = DEFAULT_CACHE_DIR) -> Path:
    """The folder holding ``spec``'s files, generated now if not cached yet."""
    folder = cache_dir / spec.key
    if (folder / "COMPLETE").exists():
        return folder
    partial = cache_dir / (spec.key + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    print(f"generating {spec.count} {spec.kind} instances into {folder} ...", file=sys.stderr, flush=True)
    for number, position in enumerate(iter_positions(spec)):
        (partial / f"{number:06d}.dcm").write_bytes(make_instance(spec, *position))
    (partial / "COMPLETE").write_text(f"{spec.count}\n")
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)
    return folder


def load_dataset(spec: DatasetSpec, cache_dir: Path = DEFAULT_CACHE_DIR) -> list[bytes]:
    """All of ``spec``'s files, in sending order, read into memory (so disk reads are not timed)."""
    folder = ensure_dataset(spec, cache_dir)
    return [(folder / f"{number:06d}.dcm").read_bytes() for number in range(spec.count)]
