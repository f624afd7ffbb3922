"""Orthanc public identifiers and resource levels.

Orthanc names every resource by the SHA-1 of its identifying DICOM UIDs, joined with ``|``, written
as five dash-separated groups of 8 hex digits (``DicomInstanceHasher``). The same instance therefore
has the same ID on every Orthanc and on orthanc_py, which clients rely on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import IntEnum
from functools import cached_property


class ResourceLevel(IntEnum):
    """Orthanc's ``ResourceType``; the value is the database's resourceType column."""

    PATIENT = 0
    STUDY = 1
    SERIES = 2
    INSTANCE = 3

    @property
    def title(self) -> str:
        """``Patient``, ``Study``, … as in the ``Type`` field of the REST answers."""
        return _TITLES[self]

    @property
    def plural(self) -> str:
        """``patients``, ``studies``, … as in the REST URIs."""
        return _PLURALS[self]

    @property
    def parent(self) -> ResourceLevel | None:
        return None if self is ResourceLevel.PATIENT else ResourceLevel(self - 1)

    @property
    def child(self) -> ResourceLevel | None:
        return None if self is ResourceLevel.INSTANCE else ResourceLevel(self + 1)

    @classmethod
    def parse(cls, text: str) -> ResourceLevel:
        """Accepts Orthanc's spellings (``Patient``, ``patients``, ``STUDY``, …); ValueError otherwise."""
        key = text.strip().lower()
        level = _BY_NAME.get(key)
        if level is None:
            raise ValueError(f"Unknown resource level: {text}")
        return level


_TITLES = {
    ResourceLevel.PATIENT: "Patient",
    ResourceLevel.STUDY: "Study",
    ResourceLevel.SERIES: "Series",
    ResourceLevel.INSTANCE: "Instance",
}
_PLURALS = {
    ResourceLevel.PATIENT: "patients",
    ResourceLevel.STUDY: "studies",
    ResourceLevel.SERIES: "series",
    ResourceLevel.INSTANCE: "instances",
}
_BY_NAME = {
    "patient": ResourceLevel.PATIENT,
    "patients": ResourceLevel.PATIENT,
    "study": ResourceLevel.STUDY,
    "studies": ResourceLevel.STUDY,
    "series": ResourceLevel.SERIES,
    "instance": ResourceLevel.INSTANCE,
    "instances": ResourceLevel.INSTANCE,
    "image": ResourceLevel.INSTANCE,
}


def hash_public_id(*parts: str) -> str:
    """SHA-1 of ``parts`` joined by ``|``, formatted as Orthanc's ``xxxxxxxx-xxxxxxxx-…`` (44 chars)."""
    d = hashlib.sha1("|".join(parts).encode("utf-8")).hexdigest()
    return f"{d[0:8]}-{d[8:16]}-{d[16:24]}-{d[24:32]}-{d[32:40]}"


@dataclass(frozen=True)
class InstanceIdentifiers:
    """The four identifying UIDs of an instance, and the public ID of each level."""

    patient_id: str
    study_instance_uid: str
    series_instance_uid: str
    sop_instance_uid: str

    # Cached: ingest asks for each ID many times, and a SHA-1 per question adds up.
    @cached_property
    def patient(self) -> str:
        return hash_public_id(self.patient_id)

    @cached_property
    def study(self) -> str:
        return hash_public_id(self.patient_id, self.study_instance_uid)

    @cached_property
    def series(self) -> str:
        return hash_public_id(self.patient_id, self.study_instance_uid, self.series_instance_uid)

    @cached_property
    def instance(self) -> str:
        return hash_public_id(
            self.patient_id, self.study_instance_uid, self.series_instance_uid, self.sop_instance_uid
        )

    def public_id(self, level: ResourceLevel) -> str:
        return (self.patient, self.study, self.series, self.instance)[level]


def is_public_id(text: str) -> bool:
    """True for a well-formed Orthanc public ID (used to refuse garbage before touching the index)."""
    if len(text) != 44:
        return False
    for i, ch in enumerate(text):
        if i % 9 == 8:
            if ch != "-":
                return False
        elif ch not in "0123456789abcdef":
            return False
    return True
