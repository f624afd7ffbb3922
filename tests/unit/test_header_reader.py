"""The fast header reader gives what pydicom's dcmread gives, element for element, or steps aside."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pydicom
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.sequence import Sequence
from pydicom.uid import (
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEGBaseline8Bit,
)

from orthanc_py.core import ingest
from orthanc_py.core.header_reader import read_header

SAMPLES_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "dicom-samples"

_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters="\\"), max_size=12)
_uids = st.integers(1, 10**30).map(lambda n: f"1.2.826.0.1.3680043.10.{n}")
_names = st.text(st.sampled_from("ABCXYZ^ éüß"), max_size=10)


def _element_view(element: Any) -> tuple[Any, ...]:
    if isinstance(element, RawDataElement):
        return tuple(element)
    return (element.tag, element.VR, repr(element.value), element.is_undefined_length)


def pydicom_reading(data: bytes) -> tuple[Dataset, int]:
    stream = io.BytesIO(data)
    dataset = pydicom.dcmread(stream, stop_before_pixels=True, force=True)
    return dataset, stream.tell()


def assert_same_as_pydicom(data: bytes) -> bool:
    """True if the fast reader read ``data``; then it must agree with pydicom in everything."""
    header = read_header(data)
    if header is None:
        return False
    expected, end = pydicom_reading(data)
    assert list(header.dataset._dict) == list(expected._dict)  # the same tags, in the same order
    for tag, element in expected._dict.items():
        assert _element_view(header.dataset._dict[tag]) == _element_view(element), tag
    assert header.end == end
    assert header.transfer_syntax == str(expected.file_meta.TransferSyntaxUID)
    assert header.dataset.original_character_set == expected.original_character_set
    assert header.dataset.original_encoding == expected.original_encoding
    return True


@st.composite
def dicom_files(draw: st.DrawFn) -> tuple[bytes, str]:
    syntax = draw(st.sampled_from([ImplicitVRLittleEndian, ExplicitVRLittleEndian, JPEGBaseline8Bit]))
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    meta.MediaStorageSOPInstanceUID = draw(_uids)
    meta.TransferSyntaxUID = syntax
    ds = FileDataset("x", {}, file_meta=meta, preamble=b"\0" * 128)
    charset = draw(st.sampled_from([None, "ISO_IR 100", "ISO_IR 192", "\\ISO 2022 IR 87"]))
    if charset is not None:
        ds.SpecificCharacterSet = charset.split("\\") if "\\" in charset else charset
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = draw(_uids)
    ds.SeriesInstanceUID = draw(_uids)
    if draw(st.booleans()):
        ds.PatientName = draw(_names)
    ds.PatientID = draw(_text)
    ds.StudyDate = draw(st.sampled_from(["", "20240131", "19991231"]))
    ds.Modality = draw(st.sampled_from(["CT", "MR", ""]))
    ds.ImageType = draw(st.lists(st.sampled_from(["ORIGINAL", "PRIMARY", "AXIAL"]), max_size=3))
    ds.InstanceNumber = draw(st.one_of(st.none(), st.integers(-5, 10_000)))
    ds.SliceThickness = draw(st.sampled_from(["", "0.5", "1.25"]))
    ds.Rows = draw(st.integers(0, 65535))
    ds.ImagePositionPatient = draw(st.lists(st.sampled_from(["0", "-12.5", "300"]), min_size=3, max_size=3))
    if draw(st.booleans()):
        ds.add_new(0x00091010, "LO", draw(_text))  # a private element (no VR in implicit files)
        ds.add_new(0x00091011, "OB", draw(st.binary(max_size=20)))
    if draw(st.booleans()):
        ds.ImageComments = draw(_text)  # LT
        ds.add_new(0x00400280, "ST", draw(_text))
    if draw(st.booleans()):
        items = []
        for _ in range(draw(st.integers(0, 3))):
            item = Dataset()
            item.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
            item.ReferencedSOPInstanceUID = draw(_uids)
            if draw(st.booleans()):
                inner = Dataset()
                inner.CodeValue = draw(_text)
                item.PurposeOfReferenceCodeSequence = Sequence([inner])
            items.append(item)
        ds.ReferencedImageSequence = Sequence(items)
        ds["ReferencedImageSequence"].is_undefined_length = draw(st.booleans())
    if draw(st.booleans()):
        if syntax == JPEGBaseline8Bit:
            ds.PixelData = encapsulate([b"\xff\xd8\xff\xd9"])
            ds["PixelData"].VR = "OB"
        else:
            ds.add_new(0x7FE00010, "OW", b"\x01\x02" * 8)
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue(), syntax


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dicom_files())
def test_files_written_by_pydicom_are_read_as_pydicom_reads_them(file: tuple[bytes, str]) -> None:
    data, _syntax = file
    assert assert_same_as_pydicom(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dicom_files(), st.data())
def test_damaged_files_are_read_as_pydicom_reads_them_or_left_to_it(
    file: tuple[bytes, str], data: st.DataObject
) -> None:
    original, _syntax = file
    damaged = bytearray(original)
    if data.draw(st.booleans(), label="cut"):
        damaged = damaged[: data.draw(st.integers(0, len(damaged)), label="at")]
    else:
        for _ in range(data.draw(st.integers(1, 4), label="flips")):
            position = data.draw(st.integers(128, len(damaged) - 1), label="position")
            damaged[position] = data.draw(st.integers(0, 255), label="byte")
    try:
        pydicom_reading(bytes(damaged))
    except Exception:
        # pydicom refuses it: the fast reader must not make up an answer (it may refuse too).
        try:
            assert read_header(bytes(damaged)) is None
        except AssertionError:
            raise
        except Exception:
            pass
        return
    try:
        assert_same_as_pydicom(bytes(damaged))
    except AssertionError:
        raise
    except Exception as error:  # only where pydicom's own sequence reading raises
        pytest.fail(f"the fast reader raised {error!r} where pydicom read the file")


def test_other_shapes_are_left_to_pydicom() -> None:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    meta.MediaStorageSOPInstanceUID = "1.2.3.4"
    meta.TransferSyntaxUID = ExplicitVRBigEndian
    ds = FileDataset("x", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.PatientID = "BIG"
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    big_endian = buffer.getvalue()
    assert read_header(big_endian) is None
    no_preamble = big_endian[132:]
    assert read_header(no_preamble) is None
    assert read_header(b"") is None
    # A transfer syntax UID damaged into two values
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    two_values = buffer.getvalue().replace(b"1.2.840.10008.1.2.1", b"1.2.840.10008\\1.2.1", 1)
    assert read_header(two_values) is None
    assert read_header(b"\0" * 128 + b"DICM") is None


def _sample_files() -> list[Path]:
    if not SAMPLES_DIR.is_dir():
        return []
    return sorted(p for p in SAMPLES_DIR.rglob("*.dcm") if p.is_file())


@pytest.mark.skipif(not SAMPLES_DIR.is_dir(), reason=f"no DICOM samples: {SAMPLES_DIR} is absent")
def test_real_world_files_are_read_as_pydicom_reads_them() -> None:
    read = 0
    for path in _sample_files():
        data = path.read_bytes()
        try:
            if assert_same_as_pydicom(data):
                read += 1
        except RecursionError:
            pass  # the deeply nested sequence: pydicom overflows too, and the store refuses it
    assert read >= 200  # most real files take the fast path


@pytest.mark.skipif(not SAMPLES_DIR.is_dir(), reason=f"no DICOM samples: {SAMPLES_DIR} is absent")
def test_a_store_parses_real_world_files_the_same_on_both_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    def parsed(data: bytes) -> Any:
        try:
            result = ingest.parse_instance(data)
        except Exception as error:
            return type(error).__name__, str(error)
        return (
            result.ids,
            result.main_tags,
            result.transfer_syntax,
            result.sop_class_uid,
            result.md5,
            result.pixel_data_offset,
            result.pixel_data_vr,
        )

    files = [path.read_bytes() for path in _sample_files()]
    fast = [parsed(data) for data in files]
    monkeypatch.setattr(ingest, "read_header", lambda data: None)
    assert [parsed(data) for data in files] == fast
