"""The storage area: where attachment bytes live, behind one small async interface.

Like Orthanc's ``IStorageArea``, it knows nothing of DICOM or of the index: files are named by the
attachment UUID chosen by the core, and the core commits the index only after ``create`` returned.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Protocol


class FileContentType(IntEnum):
    """Orthanc's ``FileContentType``: the kind of attachment (1 = the DICOM file itself)."""

    DICOM = 1
    DICOM_AS_JSON = 2
    DICOM_UNTIL_PIXEL_DATA = 3


class StorageArea(Protocol):
    async def create(self, uuid: str, content: bytes, content_type: int) -> None:
        """Write the whole content durably; on failure nothing named ``uuid`` is left behind."""

    async def read(self, uuid: str, content_type: int) -> bytes:
        """The whole content; raises OrthancError(InexistentFile) if there is none."""

    async def read_range(self, uuid: str, content_type: int, start: int, end: int) -> bytes:
        """Bytes ``start`` (inclusive) to ``end`` (exclusive) of the stored content."""

    async def remove(self, uuid: str, content_type: int) -> None:
        """Remove the content; removing what is not there is not an error."""

    async def close(self) -> None: ...
