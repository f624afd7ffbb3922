"""C-FIND answers encoded directly to bytes, and sent as pending responses without pydicom.

A study list answers thousands of small identifiers. Built as pydicom datasets, then encoded by
pydicom and framed by pynetdicom (a command set dataset per response, encoded too), each answer costs
about a millisecond of Python; here an answer is a few ``struct.pack`` calls: the identifier from the
index's values, the command set of a pending C-FIND-RSP (the same for every answer of a request) and
the P-DATA framing. The final response still goes through pynetdicom, as every other message does.

Only the common cases take this path (little endian transfer syntaxes, character sets without ISO
2022 code extensions, no sequence requested); the handler uses pydicom datasets otherwise.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Any

from pydicom.charset import python_encoding
from pydicom.datadict import dictionary_VR
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element
from pynetdicom.pdu_primitives import P_DATA

IMPLICIT_LITTLE_ENDIAN = "1.2.840.10008.1.2"
EXPLICIT_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"
PENDING = 0xFF00
_C_FIND_RSP = 0x8020
_DATASET_PRESENT = 0x0000

# Text VRs written as they are (padded to an even length); any other VR goes through pydicom.
_TEXT_VRS = frozenset(
    {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC", "UI", "UR", "UT"}
)
# Values in the character set of the answer; the other text VRs are ASCII by definition.
_CHARSET_VRS = frozenset({"LO", "LT", "PN", "SH", "ST", "UC", "UT"})
# Explicit VR: these have a 2-byte reserved field and a 4-byte length.
_LONG_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"})


def _vr_of(tag: int) -> str:
    try:
        return str(dictionary_VR(tag))
    except KeyError:
        return "LO"


class AnswerEncoder:
    """Encodes the identifiers of the answers to one C-FIND request."""

    def __init__(self, charset: str, transfer_syntax: str) -> None:
        self.charset = charset
        self.implicit = transfer_syntax == IMPLICIT_LITTLE_ENDIAN
        self.codec = python_encoding.get(charset, "latin_1")
        self._vrs: dict[int, str] = {}

    @staticmethod
    def supports(charset: str, transfer_syntax: str) -> bool:
        return (
            transfer_syntax in (IMPLICIT_LITTLE_ENDIAN, EXPLICIT_LITTLE_ENDIAN)
            and not charset.startswith("ISO 2022")
            and charset in python_encoding
        )

    def _element(self, tag: int, vr: str, value: bytes) -> bytes:
        if len(value) % 2:
            value += b"\0" if vr == "UI" else b" "
        group, element = tag >> 16, tag & 0xFFFF
        if self.implicit:
            return struct.pack("<HHI", group, element, len(value)) + value
        if vr in _LONG_VRS:
            return struct.pack("<HH2sHI", group, element, vr.encode(), 0, len(value)) + value
        return struct.pack("<HH2sH", group, element, vr.encode(), len(value)) + value

    def _other(self, tag: int, vr: str, value: Any) -> bytes:
        """An element of another VR (numbers, sequences, ambiguous VRs), written by pydicom."""
        from .handlers import _set_value

        holder = Dataset()
        _set_value(holder, tag, value)
        out = DicomBytesIO()
        out.is_little_endian, out.is_implicit_VR = True, self.implicit
        write_data_element(out, holder[tag], [self.charset])
        return bytes(out.getvalue())

    def encode(self, elements: Iterable[tuple[int, str | None]]) -> bytes:
        """The identifier of one answer: ``elements`` (tag, text value or None for empty), which
        this sorts by tag as DICOM requires."""
        parts = []
        for tag, value in sorted(elements, key=lambda e: e[0]):
            vr = self._vrs.get(tag)
            if vr is None:
                vr = self._vrs[tag] = _vr_of(tag)
            if vr not in _TEXT_VRS:
                parts.append(self._other(tag, vr, value))
                continue
            # The VRs of free text in the answer's character set; the others are ASCII by
            # definition, and written as pydicom writes them (as ISO 8859-1, should they not be).
            codec = self.codec if vr in _CHARSET_VRS else "latin_1"
            encoded = (value or "").encode(codec, errors="replace")
            parts.append(self._element(tag, vr, encoded))
        return b"".join(parts)


def _command_element(tag: int, value: bytes) -> bytes:
    return struct.pack("<HHI", 0, tag, len(value)) + value


def pending_command(sop_class_uid: str, message_id: int) -> bytes:
    """The command set of a pending C-FIND-RSP with an identifier (always Implicit VR Little
    Endian, PS3.7 6.3.1), group length first."""
    uid = sop_class_uid.encode("ascii")
    if len(uid) % 2:
        uid += b"\0"
    body = b"".join(
        (
            _command_element(0x0002, uid),
            _command_element(0x0100, struct.pack("<H", _C_FIND_RSP)),
            _command_element(0x0120, struct.pack("<H", message_id)),
            _command_element(0x0800, struct.pack("<H", _DATASET_PRESENT)),
            _command_element(0x0900, struct.pack("<H", PENDING)),
        )
    )
    return _command_element(0x0000, struct.pack("<I", len(body))) + body


def pending_pdus(context_id: int, command: bytes, identifier: bytes, max_pdu: int) -> list[P_DATA]:
    """The P-DATA primitives of one pending response: the command set in one fragment (it is
    small), then the identifier in fragments that fit the peer's maximum PDU length."""
    first = P_DATA()
    first.presentation_data_value_list.append((context_id, b"\x03" + command))
    pdus = [first]
    size = max_pdu - 6 if max_pdu > 6 else len(identifier) or 1  # 0: no limit
    for start in range(0, max(len(identifier), 1), size):
        last = start + size >= len(identifier)
        pdata = P_DATA()
        pdata.presentation_data_value_list.append(
            (context_id, (b"\x02" if last else b"\x00") + identifier[start : start + size])
        )
        pdus.append(pdata)
    return pdus
