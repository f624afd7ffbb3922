"""Transcoding between the uncompressed little-endian transfer syntaxes keeps every value."""

from __future__ import annotations

import io
from pathlib import Path

import pydicom
import pytest

from orthanc_py.core.errors import OrthancError
from orthanc_py.core.transcoding import transcode

SAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "dicom" / "p1-st1-se1-i1.dcm"


@pytest.mark.parametrize("target", ["1.2.840.10008.1.2", "1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.1"])
def test_round_trip_keeps_dataset(target: str) -> None:
    data = SAMPLE.read_bytes()
    original = pydicom.dcmread(io.BytesIO(data))
    converted = pydicom.dcmread(io.BytesIO(transcode(data, target)))
    assert converted.file_meta.TransferSyntaxUID == target
    assert converted.PatientName == original.PatientName
    assert converted.SOPInstanceUID == original.SOPInstanceUID
    assert converted.PixelData == original.PixelData
    back = pydicom.dcmread(io.BytesIO(transcode(transcode(data, target), "1.2.840.10008.1.2.1")))
    assert back.PixelData == original.PixelData


@pytest.mark.parametrize(
    ("target", "status"),
    [("1.2.840.10008.1.2.4.50", 501), ("1.2.840.10008.1.2.2", 501), ("not-a-uid", 400), ("1.2.3", 400)],
)
def test_unsupported_targets_are_refused_clearly(target: str, status: int) -> None:
    with pytest.raises(OrthancError) as error:
        transcode(SAMPLE.read_bytes(), target)
    assert error.value.http_status == status
