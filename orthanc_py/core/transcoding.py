"""Changing the transfer syntax of a stored file (``/instances/{id}/file?transcode=…``).

Between the uncompressed syntaxes (implicit/explicit little endian, explicit big endian, deflated)
the dataset is re-encoded as is. A compressed source is decoded first, which needs a pixel data
handler for its codec (pydicom decodes RLE natively; JPEG and JPEG 2000 need optional plugins);
without one the answer is Orthanc's "not implemented" error rather than a wrong file.
"""

from __future__ import annotations

import io

import pydicom
from pydicom.uid import UID

from .errors import ErrorCode, OrthancError

# Little endian only: converting to or from big endian means byte-swapping the pixel data, which is
# not done here (Explicit VR Big Endian is retired since 2004).
UNCOMPRESSED = {
    "1.2.840.10008.1.2",  # Implicit VR Little Endian
    "1.2.840.10008.1.2.1",  # Explicit VR Little Endian
    "1.2.840.10008.1.2.1.99",  # Deflated Explicit VR Little Endian
}


def transcode(data: bytes, target: str) -> bytes:
    target = target.strip()
    try:
        target_uid = UID(target)
        if not target_uid.is_valid or not target_uid.is_transfer_syntax:
            raise ValueError(target)
    except ValueError as e:
        raise OrthancError(ErrorCode.ParameterOutOfRange, f"Unknown transfer syntax: {target}") from e
    dataset = pydicom.dcmread(io.BytesIO(data), force=True)
    source = str(getattr(dataset.file_meta, "TransferSyntaxUID", "") or "1.2.840.10008.1.2")
    if source == target:
        return data
    if target not in UNCOMPRESSED:
        raise OrthancError(ErrorCode.NotImplemented, f"Cannot transcode to the transfer syntax {target}")
    if source not in UNCOMPRESSED:
        try:
            dataset.decompress()
        except Exception as e:
            raise OrthancError(
                ErrorCode.NotImplemented, f"No decoder for the transfer syntax {source} of this file: {e}"
            ) from e
    if source == "1.2.840.10008.1.2.2":
        raise OrthancError(ErrorCode.NotImplemented, "Cannot transcode from Explicit VR Big Endian")
    dataset.file_meta.TransferSyntaxUID = target_uid
    buffer = io.BytesIO()
    dataset.save_as(
        buffer, implicit_vr=target == "1.2.840.10008.1.2", little_endian=target != "1.2.840.10008.1.2.2"
    )
    return buffer.getvalue()
