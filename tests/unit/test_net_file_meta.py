"""The file meta header written before a dataset received over DICOM (``net/handlers.py``)."""

from __future__ import annotations

import io

from hypothesis import given
from hypothesis import strategies as st
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian

from orthanc_py.net.handlers import IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME, file_meta_bytes

uids = st.from_regex(r"[1-9][0-9]{0,5}(\.(0|[1-9][0-9]{0,5})){1,8}", fullmatch=True).filter(
    lambda u: len(u) <= 64
)


def _dataset_bytes() -> bytes:
    ds = Dataset()
    ds.PatientName = "DOE^JOHN"
    buffer = io.BytesIO()
    ds.save_as(buffer, implicit_vr=False, little_endian=True)  # the dataset only, no meta
    return buffer.getvalue()


@given(uids, uids)
def test_the_header_reads_back_as_dcmtk_writes_it(sop_class: str, sop_instance: str) -> None:
    meta = file_meta_bytes(sop_class, sop_instance, ExplicitVRLittleEndian)
    parsed = dcmread(io.BytesIO(meta + _dataset_bytes()))
    fm = parsed.file_meta
    assert fm.MediaStorageSOPClassUID == sop_class
    assert fm.MediaStorageSOPInstanceUID == sop_instance
    assert fm.TransferSyntaxUID == ExplicitVRLittleEndian
    assert fm.ImplementationClassUID == IMPLEMENTATION_CLASS_UID
    assert fm.ImplementationVersionName == IMPLEMENTATION_VERSION_NAME
    assert fm.FileMetaInformationVersion == b"\0\1"
    # The group length counts exactly the elements after it; every value has an even length.
    assert fm.FileMetaInformationGroupLength == len(meta) - 128 - 4 - 12
    assert len(meta) % 2 == 0
    assert parsed.PatientName == "DOE^JOHN"
