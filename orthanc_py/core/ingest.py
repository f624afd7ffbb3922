"""Parsing an incoming DICOM file once: identifiers, public IDs, main tags and instance metadata.

CPU-bound and free of I/O, so the context runs it in a worker thread. Orthanc reads files without
a preamble or meta header too (DCMTK's auto-detection), so we do; a file that does not yield the
three identifying UIDs is refused as Orthanc refuses it, with ``BadFileFormat``.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

import pydicom
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

from .dicom_tags import (
    MAIN_DICOM_TAGS,
    TAG_PATIENT_ID,
    TAG_PIXEL_DATA,
    TAG_SERIES_INSTANCE_UID,
    TAG_SOP_CLASS_UID,
    TAG_SOP_INSTANCE_UID,
    TAG_STUDY_INSTANCE_UID,
    DicomText,
    format_tag,
    main_tag_value,
    raw_elements,
)
from .errors import ErrorCode, OrthancError
from .header_reader import read_header
from .identifiers import InstanceIdentifiers, ResourceLevel

# Orthanc's MainDicomTagsSignature metadata: the sorted list of the main tags of each level.
MAIN_TAGS_SIGNATURE: dict[ResourceLevel, str] = {
    level: ";".join(sorted({format_tag(tag) for tag, _ in tags})) for level, tags in MAIN_DICOM_TAGS.items()
}

IMPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2"
DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1.99"


@dataclass(slots=True)
class ParsedInstance:
    data: bytes
    dataset: Dataset
    ids: InstanceIdentifiers
    # Tag number → string, per level. The study level also carries the patient tags, as Orthanc
    # stores them there too (C-FIND at study level and PatientMainDicomTags use that copy).
    main_tags: dict[ResourceLevel, dict[int, str]]
    transfer_syntax: str
    sop_class_uid: str
    md5: str
    pixel_data_offset: int | None
    pixel_data_vr: str | None


def invalid_file(data: bytes) -> OrthancError:
    """Orthanc's answer to a file it cannot parse."""
    return OrthancError(
        ErrorCode.BadFileFormat, f"Cannot parse an invalid DICOM file (size: {len(data)} bytes)"
    )


def read_dataset(
    data: bytes, *, stop_before_pixels: bool = True, stream: io.BytesIO | None = None
) -> Dataset:
    """Parse DICOM bytes; raises OrthancError(BadFileFormat) on anything that is not DICOM."""
    if not data:
        raise OrthancError(ErrorCode.BadFileFormat, "Empty DICOM file")
    try:
        return pydicom.dcmread(stream or io.BytesIO(data), stop_before_pixels=stop_before_pixels, force=True)
    except Exception as e:  # pydicom raises assorted errors on malformed input
        raise invalid_file(data) from e


def transfer_syntax_of(dataset: Dataset) -> str:
    meta = getattr(dataset, "file_meta", None)
    uid = getattr(meta, "TransferSyntaxUID", None) if meta is not None else None
    if uid:
        return str(uid)
    # A file without meta header: pydicom tells how it actually decoded the dataset.
    if getattr(dataset, "is_little_endian", True) is False:
        return "1.2.840.10008.1.2.2"
    if getattr(dataset, "is_implicit_VR", False):
        return IMPLICIT_VR_LITTLE_ENDIAN
    return "1.2.840.10008.1.2.1"


def parse_instance(data: bytes, default_encoding: str = "latin_1", *, md5: bool = True) -> ParsedInstance:
    try:
        header = read_header(data)  # the common files, twice as fast as pydicom
    except Exception:  # a malformed sequence (pydicom's reading below reports it)
        header = None
    if header is not None:
        dataset, transfer_syntax, end = header.dataset, header.transfer_syntax, header.end
    else:
        stream = io.BytesIO(data)
        dataset = read_dataset(data, stream=stream)
        end = stream.tell()
        if _is_truncated(dataset, data, end):
            raise invalid_file(data)
        transfer_syntax = transfer_syntax_of(dataset)
    if len(dataset) == 0:
        raise invalid_file(data)
    try:
        text = DicomText(dataset, default_encoding)
        elements = raw_elements(dataset)
        uids = [
            text.string_value(tag) or ""
            for tag in (TAG_PATIENT_ID, TAG_STUDY_INSTANCE_UID, TAG_SERIES_INSTANCE_UID, TAG_SOP_INSTANCE_UID)
        ]
        main_tags: dict[ResourceLevel, dict[int, str]] = {}
        for level, tags in MAIN_DICOM_TAGS.items():
            values: dict[int, str] = {}
            for tag, _name in tags:
                value = main_tag_value(dataset, text, tag, elements)
                if value is not None:
                    values[tag] = value
            main_tags[level] = values
        sop_class_uid = text.string_value(TAG_SOP_CLASS_UID) or ""
    except OrthancError:
        raise
    except Exception as e:
        raise OrthancError(ErrorCode.BadFileFormat, f"Cannot read the DICOM tags: {e}") from e
    if not all(uids[1:]):
        if data[128:132] != b"DICM":
            # Without a DICOM preamble, a file that does not even give its UIDs is not DICOM at all.
            raise invalid_file(data)
        # Orthanc's DicomInstanceHasher: an absent UID is InexistentTag (404), an empty one BadFileFormat.
        uid_tags = (TAG_STUDY_INSTANCE_UID, TAG_SERIES_INSTANCE_UID, TAG_SOP_INSTANCE_UID)
        if any(tag not in dataset for tag in uid_tags):
            raise OrthancError(ErrorCode.InexistentTag)
        raise OrthancError(
            ErrorCode.BadFileFormat, "missing StudyInstanceUID, SeriesInstanceUID or SOPInstanceUID"
        )
    ids = InstanceIdentifiers(uids[0].strip(), uids[1].strip(), uids[2].strip(), uids[3].strip())
    main_tags[ResourceLevel.STUDY] = {**main_tags[ResourceLevel.PATIENT], **main_tags[ResourceLevel.STUDY]}
    offset, vr = _pixel_data_position(data, end, transfer_syntax)
    if data[128:132] != b"DICM":
        offset = None  # Orthanc records PixelDataOffset only for files with a meta header
    return ParsedInstance(
        data=data,
        dataset=dataset,
        ids=ids,
        main_tags=main_tags,
        transfer_syntax=transfer_syntax,
        sop_class_uid=sop_class_uid,
        md5=hashlib.md5(data).hexdigest() if md5 else "",
        pixel_data_offset=offset,
        pixel_data_vr=vr,
    )


def _is_truncated(dataset: Dataset, data: bytes, position: int) -> bool:
    """pydicom stops quietly at a cut-off element; DCMTK (and so Orthanc) refuses the file."""
    meta = getattr(dataset, "file_meta", None)
    if meta is not None and meta.get("TransferSyntaxUID") == DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN:
        return False  # positions refer to the inflated stream, not to ``data``
    if position < len(data):
        return False  # stopped on the Pixel Data element
    keys = list(dataset.keys())
    if not keys:
        return True
    last = dataset.get_item(keys[-1])
    if not isinstance(last, RawDataElement) or last.length == 0xFFFFFFFF or last.value is None:
        return False
    return len(last.value) < last.length or last.value_tell + last.length < len(data)


def _pixel_data_position(data: bytes, position: int, transfer_syntax: str) -> tuple[int | None, str | None]:
    """Where the Pixel Data element starts in the file (Orthanc's PixelDataOffset) and its VR.

    ``dcmread(stop_before_pixels=True)`` leaves the stream on the Pixel Data element header.
    """
    header = data[position : position + 6]
    if len(header) < 4:
        return None, None
    if header[:4] not in (b"\xe0\x7f\x10\x00", b"\x7f\xe0\x00\x10"):
        return None, None
    if transfer_syntax == IMPLICIT_VR_LITTLE_ENDIAN:
        return position, "OW"
    vr = header[4:6].decode("ascii", "replace")
    return position, vr if vr in ("OB", "OW") else None


__all__ = ["ParsedInstance", "parse_instance", "read_dataset", "MAIN_TAGS_SIGNATURE", "TAG_PIXEL_DATA"]
