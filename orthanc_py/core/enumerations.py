"""Orthanc's server enumerations (ServerEnumerations.h): change types and metadata types."""

from __future__ import annotations

from enum import IntEnum


class ChangeType(IntEnum):
    COMPLETED_SERIES = 1
    NEW_INSTANCE = 2
    NEW_PATIENT = 3
    NEW_SERIES = 4
    NEW_STUDY = 5
    ANONYMIZED_STUDY = 6
    ANONYMIZED_SERIES = 7
    MODIFIED_STUDY = 8
    MODIFIED_SERIES = 9
    ANONYMIZED_PATIENT = 10
    MODIFIED_PATIENT = 11
    STABLE_PATIENT = 12
    STABLE_STUDY = 13
    STABLE_SERIES = 14
    UPDATED_ATTACHMENT = 15
    UPDATED_METADATA = 16
    # Changes above this value are signalled to listeners but never written to the change log.
    INTERNAL_LAST_LOGGED = 4095
    DELETED = 4096
    NEW_CHILD_INSTANCE = 4097

    @property
    def orthanc_name(self) -> str:
        return "".join(part.capitalize() for part in self.name.split("_"))

    @property
    def is_logged(self) -> bool:
        return self <= ChangeType.INTERNAL_LAST_LOGGED


class MetadataType(IntEnum):
    INDEX_IN_SERIES = 1
    RECEPTION_DATE = 2
    REMOTE_AET = 3
    EXPECTED_NUMBER_OF_INSTANCES = 4
    MODIFIED_FROM = 5
    ANONYMIZED_FROM = 6
    LAST_UPDATE = 7
    ORIGIN = 8
    TRANSFER_SYNTAX = 9
    SOP_CLASS_UID = 10
    REMOTE_IP = 11
    CALLED_AET = 12
    HTTP_USERNAME = 13
    PIXEL_DATA_OFFSET = 14
    MAIN_DICOM_TAGS_SIGNATURE = 15
    MAIN_DICOM_SEQUENCES = 16
    PIXEL_DATA_VR = 17

    @property
    def orthanc_name(self) -> str:
        return _METADATA_NAMES[self]

    @classmethod
    def parse(cls, name: str) -> int:
        """A metadata name (or number as text) → its type number, as Orthanc's StringToMetadata."""
        found = _METADATA_BY_NAME.get(name)
        if found is not None:
            return int(found)
        if name.isdigit():
            return int(name)
        raise ValueError(name)


_METADATA_NAMES = {
    MetadataType.INDEX_IN_SERIES: "IndexInSeries",
    MetadataType.RECEPTION_DATE: "ReceptionDate",
    MetadataType.REMOTE_AET: "RemoteAET",
    MetadataType.EXPECTED_NUMBER_OF_INSTANCES: "ExpectedNumberOfInstances",
    MetadataType.MODIFIED_FROM: "ModifiedFrom",
    MetadataType.ANONYMIZED_FROM: "AnonymizedFrom",
    MetadataType.LAST_UPDATE: "LastUpdate",
    MetadataType.ORIGIN: "Origin",
    MetadataType.TRANSFER_SYNTAX: "TransferSyntax",
    MetadataType.SOP_CLASS_UID: "SopClassUid",
    MetadataType.REMOTE_IP: "RemoteIP",
    MetadataType.CALLED_AET: "CalledAET",
    MetadataType.HTTP_USERNAME: "HttpUsername",
    MetadataType.PIXEL_DATA_OFFSET: "PixelDataOffset",
    MetadataType.MAIN_DICOM_TAGS_SIGNATURE: "MainDicomTagsSignature",
    MetadataType.MAIN_DICOM_SEQUENCES: "MainDicomSequences",
    MetadataType.PIXEL_DATA_VR: "PixelDataVR",
}
_METADATA_BY_NAME = {name: t for t, name in _METADATA_NAMES.items()}


def metadata_name(type_: int) -> str:
    try:
        return MetadataType(type_).orthanc_name
    except ValueError:
        return str(type_)


class SeriesStatus:
    COMPLETE = "Complete"
    MISSING = "Missing"
    INCONSISTENT = "Inconsistent"
    UNKNOWN = "Unknown"


def _integer(text: str | None) -> int | None:
    try:
        return int(text.strip()) if text is not None else None
    except ValueError:
        return None


def series_status(expected: int | None, indexes: list[str | None]) -> str:
    """Orthanc's GetSeriesStatus: compares the IndexInSeries of the instances with the expected count."""
    if expected is None:
        return SeriesStatus.UNKNOWN
    seen: set[int] = set()
    for text in indexes:
        index = _integer(text)
        if index is None:
            return SeriesStatus.UNKNOWN
        if not (0 < index <= expected) or index in seen:
            return SeriesStatus.INCONSISTENT
        seen.add(index)
    return SeriesStatus.COMPLETE if len(seen) == expected else SeriesStatus.MISSING


# The SpecificCharacterSet (0008,0005) of each DefaultEncoding, as Orthanc writes it in the DICOM
# it produces (C-FIND answers and queries, DICOMweb answers).
_CHARACTER_SETS = {
    "Ascii": "ISO_IR 6",
    "Utf8": "ISO_IR 192",
    "Latin1": "ISO_IR 100",
    "Latin2": "ISO_IR 101",
    "Latin3": "ISO_IR 109",
    "Latin4": "ISO_IR 110",
    "Latin5": "ISO_IR 148",
    "Cyrillic": "ISO_IR 144",
    "Arabic": "ISO_IR 127",
    "Greek": "ISO_IR 126",
    "Hebrew": "ISO_IR 138",
    "Thai": "ISO_IR 166",
    "Japanese": "ISO_IR 13",
    "Chinese": "GB18030",
    "Korean": "ISO 2022 IR 149",
    "JapaneseKanji": "ISO 2022 IR 87",
    "SimplifiedChinese": "GBK",
}


def specific_character_set(default_encoding: str) -> str:
    return _CHARACTER_SETS.get(default_encoding, "ISO_IR 100")
