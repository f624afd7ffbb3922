"""DICOM tags as Orthanc shows them: main tags per level, string values, and the JSON formats.

Orthanc turns each element into UTF-8 text (numbers formatted, binary values dropped), keeps a fixed
list of "main DICOM tags" per resource level in its index, and answers ``/tags`` in three shapes:
full (``{"0010,0010": {"Name", "Type", "Value"}}``), short (``{"0010,0010": value}``) and simplified
(``{"PatientName": value}``). This module is the one place that knows those rules.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Any

import orjson
from pydicom.charset import convert_encodings, decode_bytes
from pydicom.datadict import (
    dictionary_is_retired,
    dictionary_keyword,
    dictionary_VR,
    private_dictionary_description,
    tag_for_keyword,
)
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag
from pydicom.valuerep import PersonName

from .identifiers import ResourceLevel

# The main DICOM tags of Orthanc 1.12 per level (DicomMap.cpp's defaults plus the tags added in
# 1.11: TimezoneOffsetFromUTC, PerformedProcedureStepStart*, RequestAttributesSequence).
MAIN_DICOM_TAGS: dict[ResourceLevel, tuple[tuple[int, str], ...]] = {
    ResourceLevel.PATIENT: (
        (0x00100010, "PatientName"),
        (0x00100030, "PatientBirthDate"),
        (0x00100040, "PatientSex"),
        (0x00101000, "OtherPatientIDs"),
        (0x00100020, "PatientID"),
    ),
    ResourceLevel.STUDY: (
        (0x00080020, "StudyDate"),
        (0x00080030, "StudyTime"),
        (0x00200010, "StudyID"),
        (0x00081030, "StudyDescription"),
        (0x00080050, "AccessionNumber"),
        (0x0020000D, "StudyInstanceUID"),
        (0x00321060, "RequestedProcedureDescription"),
        (0x00080080, "InstitutionName"),
        (0x00321032, "RequestingPhysician"),
        (0x00080090, "ReferringPhysicianName"),
        (0x00080201, "TimezoneOffsetFromUTC"),
    ),
    ResourceLevel.SERIES: (
        (0x00080021, "SeriesDate"),
        (0x00080031, "SeriesTime"),
        (0x00080060, "Modality"),
        (0x00080070, "Manufacturer"),
        (0x00081010, "StationName"),
        (0x0008103E, "SeriesDescription"),
        (0x00180015, "BodyPartExamined"),
        (0x00180024, "SequenceName"),
        (0x00181030, "ProtocolName"),
        (0x00200011, "SeriesNumber"),
        (0x00181090, "CardiacNumberOfImages"),
        (0x00201002, "ImagesInAcquisition"),
        (0x00200105, "NumberOfTemporalPositions"),
        (0x00540081, "NumberOfSlices"),
        (0x00540101, "NumberOfTimeSlices"),
        (0x0020000E, "SeriesInstanceUID"),
        (0x00200037, "ImageOrientationPatient"),
        (0x00541000, "SeriesType"),
        (0x00081070, "OperatorsName"),
        (0x00400254, "PerformedProcedureStepDescription"),
        (0x00181400, "AcquisitionDeviceProcessingDescription"),
        (0x00180010, "ContrastBolusAgent"),
        (0x00080201, "TimezoneOffsetFromUTC"),
        (0x00400244, "PerformedProcedureStepStartDate"),
        (0x00400245, "PerformedProcedureStepStartTime"),
        (0x00400275, "RequestAttributesSequence"),
    ),
    ResourceLevel.INSTANCE: (
        (0x00080012, "InstanceCreationDate"),
        (0x00080013, "InstanceCreationTime"),
        (0x00200012, "AcquisitionNumber"),
        (0x00541330, "ImageIndex"),
        (0x00200013, "InstanceNumber"),
        (0x00280008, "NumberOfFrames"),
        (0x00200100, "TemporalPositionIdentifier"),
        (0x00080018, "SOPInstanceUID"),
        (0x00200032, "ImagePositionPatient"),
        (0x00204000, "ImageComments"),
        (0x00200037, "ImageOrientationPatient"),
    ),
}

TAG_PATIENT_ID = 0x00100020
TAG_STUDY_INSTANCE_UID = 0x0020000D
TAG_SERIES_INSTANCE_UID = 0x0020000E
TAG_SOP_INSTANCE_UID = 0x00080018
TAG_SOP_CLASS_UID = 0x00080016
TAG_SPECIFIC_CHARACTER_SET = 0x00080005
TAG_PIXEL_DATA = 0x7FE00010

# Which level each main tag (by keyword) belongs to; a tag main at two levels maps to the highest.
LEVEL_OF_MAIN_TAG: dict[str, ResourceLevel] = {}
for _level in (ResourceLevel.INSTANCE, ResourceLevel.SERIES, ResourceLevel.STUDY, ResourceLevel.PATIENT):
    for _tag, _name in MAIN_DICOM_TAGS[_level]:
        LEVEL_OF_MAIN_TAG[_name] = _level
TAG_OF_MAIN_NAME: dict[str, int] = {name: tag for level in MAIN_DICOM_TAGS.values() for tag, name in level}

# VRs whose text is subject to the Specific Character Set (PS3.5 §6.1.2.3).
_CHARSET_VRS = {"SH", "LO", "ST", "LT", "UC", "UT", "PN"}
_TEXT_VRS = _CHARSET_VRS | {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "TM", "UI", "UR"}
_BINARY_VRS = {"OB", "OW", "OF", "OD", "OL", "OV", "UN", "OB or OW", "US or OW", "US or SS or OW"}
_NUMBER_FORMATS = {
    "US": ("H", 2),
    "SS": ("h", 2),
    "UL": ("I", 4),
    "SL": ("i", 4),
    "UV": ("Q", 8),
    "SV": ("q", 8),
    "FL": ("f", 4),
    "FD": ("d", 8),
}

# Orthanc's DicomToJson MaxStringLength for /tags: longer strings are shown as "TooLong".
MAX_STRING_LENGTH = 256


def format_tag(tag: int) -> str:
    """``0x00100010`` → ``0010,0010`` (Orthanc writes tags lower-case, group first)."""
    return f"{tag >> 16:04x},{tag & 0xFFFF:04x}"


def parse_tag(text: str) -> int | None:
    """Accepts ``0010,0010``, ``0010-0010``, ``00100010`` or a keyword such as ``PatientName``."""
    t = text.strip()
    for sep in (",", "-"):
        if sep in t:
            group, _, element = t.partition(sep)
            break
    else:
        if len(t) == 8 and all(c in "0123456789abcdefABCDEF" for c in t):
            group, element = t[:4], t[4:]
        else:
            main = TAG_OF_MAIN_NAME.get(t)
            if main is not None:
                return main
            # A keyword of the dictionary only: pydicom's Tag() would also read "+0" or "12" as
            # numbers, which no client means as a tag.
            return tag_for_keyword(t) if t.isidentifier() else None
    if len(group) != 4 or len(element) != 4:
        return None
    try:
        return (int(group, 16) << 16) | int(element, 16)
    except ValueError:
        return None


_MAIN_TAG_NAMES = {tag: name for level in MAIN_DICOM_TAGS.values() for tag, name in level}

# DCMTK resolves the "US or SS" VR of these tags from PixelRepresentation (DcmItem::checkAndUpdateVR);
# any other "US or SS" element of an implicit VR file stays unresolved, which Orthanc shows as Null.
_US_OR_SS_RESOLVED = frozenset(
    {
        0x00280120,
        0x00280121,
        0x00280106,
        0x00280107,
        0x00280108,
        0x00280109,
        0x00283002,
        0x00603004,
        0x00603006,
        0x00189810,
        0x00409211,
        0x00409216,
    }
)
TAG_PIXEL_REPRESENTATION = 0x00280103


def tag_name(tag: int, private_creator: str | None = None) -> str:
    """The name Orthanc (DCMTK's dictionary) gives a tag; unknown ones are "Unknown Tag & Data"."""
    group, element = tag >> 16, tag & 0xFFFF
    main_name = _MAIN_TAG_NAMES.get(tag)
    if main_name is not None:
        return main_name  # Orthanc's own names win over the dictionary (e.g. OtherPatientIDs)
    if group % 2 == 1:
        if element == 0x0000:
            return "PrivateGroupLength"
        if 0x0010 <= element <= 0x00FF:
            return "PrivateCreator"
        if private_creator:
            try:
                name = private_dictionary_description(tag, private_creator).replace(" ", "")
            except KeyError:
                name = ""
            if name and name != "Unknown":
                return name
        return "Unknown Tag & Data"
    try:
        keyword = dictionary_keyword(tag)
    except KeyError:
        keyword = ""
    if not keyword:
        if element == 0x0000:
            return "GenericGroupLength"
        return "Unknown Tag & Data"
    if dictionary_is_retired(tag):
        return "RETIRED_" + keyword  # DCMTK's naming of retired attributes
    return keyword


class DicomText:
    """Converts elements of one dataset to Orthanc's UTF-8 strings, with the dataset's character set."""

    def __init__(self, dataset: Dataset, default_encoding: str = "latin_1") -> None:
        self.dataset = dataset
        charset = dataset.get_item(TAG_SPECIFIC_CHARACTER_SET)
        names: list[str] = []
        if charset is not None:
            raw = charset.value
            if isinstance(raw, bytes):
                names = [n.strip() for n in raw.decode("ascii", "replace").split("\\")]
            elif isinstance(raw, str):
                names = [raw]
            elif raw is not None:
                names = list(raw)
        if names and any(names):
            self.encodings = convert_encodings([n or "ISO_IR 6" for n in names])
        else:
            self.encodings = [default_encoding]

    def vr_of(self, tag: int, element: Any) -> str:
        vr = getattr(element, "VR", None)
        if vr == "UN" and tag >> 16 & 1 == 0:
            # DCMTK (so Orthanc) reads a UN element of a known public tag as text when its dictionary
            # VR is a text VR (files re-encoded by tools that lost the VRs); other VRs stay binary.
            try:
                known = str(dictionary_VR(tag))
            except KeyError:
                known = ""
            if known in _TEXT_VRS:
                return known
        if vr:
            return str(vr)
        # Implicit VR: the dictionary decides, as in DCMTK.
        group, number = tag >> 16, tag & 0xFFFF
        if number == 0x0000:
            return "UL"  # group length
        if group % 2 == 1 and 0x0010 <= number <= 0x00FF:
            return "LO"  # private creator
        try:
            known = str(dictionary_VR(tag))
        except KeyError:
            return "UN"
        if known in ("US or SS", "US or SS or OW"):
            return self._resolve_us_or_ss(tag)
        return known

    def _resolve_us_or_ss(self, tag: int) -> str:
        if tag not in _US_OR_SS_RESOLVED:
            return "xs"
        representation = self.dataset.get_item(TAG_PIXEL_REPRESENTATION)
        if representation is None:
            return "xs"
        value = representation.value
        if isinstance(value, bytes):
            signed = len(value) >= 2 and struct.unpack("<H", value[:2])[0] == 1
        else:
            signed = value == 1
        return "SS" if signed else "US"

    def string_value(self, tag: int, element: Any | None = None) -> str | None:
        """The element as Orthanc's string (multiple values joined by ``\\``); None for binary or SQ."""
        if element is None:
            element = raw_elements(self.dataset).get(tag)
            if element is None:
                return None
        vr = self.vr_of(tag, element)
        if vr == "SQ" or vr in _BINARY_VRS:
            return None
        value = element.value
        if isinstance(element, RawDataElement):
            if value is None:
                return ""
            if element.VR == "UN" and vr != "UN":  # text read from UN keeps its padding, as in DCMTK
                return self._raw_to_text(vr, value, element.is_little_endian, keep_spaces=True)
            return self._raw_to_text(vr, value, element.is_little_endian)
        return self._value_to_text(vr, value)

    def _raw_to_text(self, vr: str, raw: bytes, little_endian: bool, keep_spaces: bool = False) -> str | None:
        if vr in _TEXT_VRS:
            if vr == "PN":
                text = str(PersonName(raw, self.encodings))
            elif vr in _CHARSET_VRS:
                text = decode_bytes(raw, self.encodings, set())
            else:
                text = raw.decode("latin_1")
            return text.rstrip("\x00") if keep_spaces else text.rstrip(" \x00")
        fmt = _NUMBER_FORMATS.get(vr)
        if fmt is not None:
            code, size = fmt
            count = len(raw) // size
            values = struct.unpack(("<" if little_endian else ">") + code * count, raw[: count * size])
            return "\\".join(_format_number(vr, v) for v in values)
        if vr == "AT":
            if len(raw) < 4:
                return ""
            # DCMTK's string conversion of AT gives the first value only, as Orthanc shows it.
            group, element = struct.unpack(("<" if little_endian else ">") + "HH", raw[:4])
            return f"{group:04x},{element:04x}"
        return None

    def _value_to_text(self, vr: str, value: Any) -> str | None:
        if value is None:
            return ""
        if isinstance(value, bytes):
            return None
        if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
            return "\\".join(self._single(vr, v) for v in value)
        return self._single(vr, value)

    def _single(self, vr: str, v: Any) -> str:
        if vr in ("FL", "FD"):
            return _format_number(vr, v)
        if isinstance(v, BaseTag):
            return format_tag(int(v))
        original = getattr(v, "original_string", None)
        if isinstance(original, str):
            return original.rstrip(" \x00")
        return str(v).rstrip(" \x00")


def _format_number(vr: str, v: Any) -> str:
    # Orthanc widens FL to double and prints 17 significant digits for both (lexical_cast<double>).
    if vr in ("FL", "FD"):
        return f"{v:.17g}"
    return str(v)


# Main tags that are sequences (RequestAttributesSequence) are kept in the index as their full-format
# JSON behind this marker, and shown as nested tags (Orthanc's "MainDicomSequences").
SEQUENCE_MARKER = "\x1fSQ"


def raw_elements(dataset: Dataset) -> dict[int, Any]:
    """The dataset's elements by tag number, without conversion.

    ``Dataset.get_item`` converts its key with ``Tag()`` on every call, which costs more than the
    rest of the main-tag extraction on ingest; the underlying mapping is keyed by ``BaseTag``, an
    ``int``, so plain numbers look it up directly.
    """
    elements: Any = dataset._dict  # noqa: SLF001 - see above
    return elements  # type: ignore[no-any-return]


def main_tag_value(
    dataset: Dataset, text: DicomText, tag: int, elements: dict[int, Any] | None = None
) -> str | None:
    """The value Orthanc keeps for a main tag: its string, or the JSON of a sequence."""
    element = (elements if elements is not None else raw_elements(dataset)).get(tag)
    if element is None:
        return None
    if text.vr_of(tag, element) == "SQ":
        items = [dataset_to_json(item, _ItemText(item, text), "full") for item in dataset[tag].value]
        return SEQUENCE_MARKER + orjson.dumps(items).decode("utf-8")
    return text.string_value(tag, element)


def reshape_tags(tags: dict[str, Any], shape: str) -> dict[str, Any]:
    """A full-format answer (``{"0010,0010": {"Name", "Type", "Value"}}``) in another shape."""
    if shape == "full":
        return tags
    answer: dict[str, Any] = {}
    for key, entry in tags.items():
        value = entry["Value"]
        if entry["Type"] == "Sequence":
            value = [reshape_tags(item, shape) for item in value]
        answer[key if shape == "short" else entry["Name"]] = value
    return answer


def main_dicom_tags(text: DicomText, level: ResourceLevel) -> dict[str, str]:
    """The main DICOM tags of ``level`` present in the dataset, as Orthanc stores them."""
    tags: dict[str, str] = {}
    for tag, name in MAIN_DICOM_TAGS[level]:
        value = text.string_value(tag)
        if value is not None:
            tags[name] = value
    return tags


def dataset_to_json(
    dataset: Dataset,
    text: DicomText,
    shape: str = "full",
    *,
    max_string_length: int = MAX_STRING_LENGTH,
    skip: Iterable[int] = (),
    skip_binary: bool = False,
) -> dict[str, Any]:
    """Orthanc's ``/tags`` answer for a dataset: ``shape`` is ``full``, ``short`` or ``simplify``."""
    skipped = set(skip)
    answer: dict[str, Any] = {}
    creators: dict[tuple[int, int], str] = {}
    for element in _elements(dataset):
        tag = int(element.tag)
        if tag in skipped:
            continue
        group, elem_no = tag >> 16, tag & 0xFFFF
        if group % 2 == 1 and 0x0010 <= elem_no <= 0x00FF:
            creator = text.string_value(tag, element)
            if creator:
                creators[(group, elem_no)] = creator
        vr = text.vr_of(tag, element)
        if skip_binary and vr in _BINARY_VRS:
            continue
        kind, value = _typed_value(dataset, text, tag, element, vr, shape, max_string_length)
        if shape == "full":
            private_creator = None
            if group % 2 == 1 and elem_no > 0x00FF:
                private_creator = creators.get((group, elem_no >> 8))
            entry: dict[str, Any] = {"Name": tag_name(tag, private_creator), "Type": kind, "Value": value}
            if private_creator is not None:
                entry["PrivateCreator"] = private_creator
            answer[format_tag(tag)] = entry
        elif shape == "short":
            answer[format_tag(tag)] = value
        else:
            private_creator = None
            if group % 2 == 1 and elem_no > 0x00FF:
                private_creator = creators.get((group, elem_no >> 8))
            # Orthanc keys simplified tags by name, even where names collide (private tags).
            answer[tag_name(tag, private_creator)] = value
    return answer


def _elements(dataset: Dataset) -> Iterable[Any]:
    # get_item keeps deferred raw elements raw, so we decode text ourselves with the right charset.
    for tag in sorted(dataset.keys()):
        yield dataset.get_item(tag)


def _typed_value(
    dataset: Dataset,
    text: DicomText,
    tag: int,
    element: Any,
    vr: str,
    shape: str,
    max_string_length: int,
) -> tuple[str, Any]:
    if vr == "SQ":
        sequence = dataset[tag].value  # converting a raw SQ parses its items
        items = []
        for item in sequence:
            items.append(
                dataset_to_json(item, _ItemText(item, text), shape, max_string_length=max_string_length)
            )
        return "Sequence", items
    if vr in _BINARY_VRS:
        return "Null", None
    value = text.string_value(tag, element)
    if value is None:
        return "Null", None
    if max_string_length and len(value) > max_string_length:
        return "TooLong", None
    return "String", value


class _ItemText(DicomText):
    """Sequence items inherit the character set of their parent unless they declare their own."""

    def __init__(self, item: Dataset, parent: DicomText) -> None:
        self.dataset = item
        if item.get_item(TAG_SPECIFIC_CHARACTER_SET) is not None:
            super().__init__(item)
        else:
            self.encodings = parent.encodings
