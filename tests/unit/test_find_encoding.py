"""C-FIND answers encoded without pydicom: the same bytes as pydicom's, and P-DATA fragments that
respect the peer's maximum PDU length."""

from __future__ import annotations

import pydicom
from hypothesis import given, settings
from hypothesis import strategies as st
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset

from orthanc_py.net.find_encoding import (
    EXPLICIT_LITTLE_ENDIAN,
    IMPLICIT_LITTLE_ENDIAN,
    AnswerEncoder,
    pending_command,
    pending_pdus,
)
from orthanc_py.net.handlers import _set_value

# Study list tags of several VRs: PN, LO, DA, TM, SH, CS, IS, UI, UT, and two numbers (US, UL).
TAGS = [0x00100010, 0x00100020, 0x00080020, 0x00080030, 0x00080050, 0x00080061, 0x00201208, 0x0020000D]
TAGS += [0x00104000, 0x00280010, 0x00081160]
# Latin-1 text without backslashes (value separators) nor the code points Python counts as spaces,
# nor "=": pydicom rewrites person names around that separator of component groups (a lone "="
# becomes empty), whereas the index's value goes out as stored, as Orthanc sends it.
text = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\\\x85\xa0="), max_size=12
)
values = st.one_of(st.none(), text, st.integers(0, 65535).map(str))
# Numbers (IS, US, UL) only: pydicom refuses other text there (an empty element then), whereas the
# index's text goes out as stored, as Orthanc sends it.
numbers = st.one_of(st.none(), st.integers(0, 65535).map(str))
uids = st.one_of(st.none(), st.from_regex(r"[0-9.]{0,20}", fullmatch=True))
NUMBER_TAGS = {0x00201208, 0x00280010, 0x00081160}


def _value_of(tag: int) -> st.SearchStrategy[str | None]:
    return numbers if tag in NUMBER_TAGS else uids if tag == 0x0020000D else values


elements_strategy = st.lists(
    st.sampled_from(TAGS).flatmap(lambda tag: st.tuples(st.just(tag), _value_of(tag))),
    unique_by=lambda e: e[0],
    max_size=len(TAGS),
)


def pydicom_bytes(elements: list[tuple[int, str | None]], charset: str, syntax: str) -> bytes:
    dataset = Dataset()
    for tag, value in elements:
        _set_value(dataset, tag, value)
    out = DicomBytesIO()
    out.is_little_endian, out.is_implicit_VR = True, syntax == IMPLICIT_LITTLE_ENDIAN
    write_dataset(out, dataset, [charset])
    return bytes(out.getvalue())


@settings(max_examples=150, deadline=None)
@given(
    elements_strategy,
    st.sampled_from([IMPLICIT_LITTLE_ENDIAN, EXPLICIT_LITTLE_ENDIAN]),
    st.sampled_from(["ISO_IR 100", "ISO_IR 192"]),
)
def test_same_bytes_as_pydicom(elements: list[tuple[int, str | None]], syntax: str, charset: str) -> None:
    elements = [(0x00080005, charset), (0x00080052, "STUDY"), *elements]
    encoder = AnswerEncoder(charset, syntax)
    assert encoder.encode(elements) == pydicom_bytes(elements, charset, syntax)


def test_decodes_back() -> None:
    elements = [
        (0x00080005, "ISO_IR 192"),
        (0x00100010, "Müller^Zoë"),
        (0x00201208, "12"),
        (0x00080020, None),
    ]
    encoded = AnswerEncoder("ISO_IR 192", EXPLICIT_LITTLE_ENDIAN).encode(elements)
    dataset = pydicom.dcmread(DicomBytesIO(encoded), force=True)  # type: ignore[arg-type]
    assert str(dataset.PatientName) == "Müller^Zoë"
    assert dataset[0x00201208].value == 12
    assert dataset.StudyDate == ""


def test_command_set() -> None:
    command = pending_command("1.2.840.10008.5.1.4.1.2.2.1", 7)
    dataset = pydicom.dcmread(DicomBytesIO(command), force=True)  # type: ignore[arg-type]
    assert dataset[0x00000000].value == len(command) - 12
    assert dataset.AffectedSOPClassUID == "1.2.840.10008.5.1.4.1.2.2.1"
    assert (dataset.CommandField, dataset.MessageIDBeingRespondedTo, dataset.Status) == (0x8020, 7, 0xFF00)
    assert dataset.CommandDataSetType != 0x0101  # an identifier follows


@given(st.binary(min_size=0, max_size=300), st.sampled_from([0, 16, 17, 64, 1000]))
def test_fragments(identifier: bytes, max_pdu: int) -> None:
    pdus = pending_pdus(3, b"CMD!", identifier, max_pdu)
    (context, first), *_ = pdus[0].presentation_data_value_list
    assert (context, first) == (3, b"\x03CMD!")
    fragments = [pdu.presentation_data_value_list[0][1] for pdu in pdus[1:]]
    assert all(f[0:1] == b"\x00" for f in fragments[:-1]) and fragments[-1][0:1] == b"\x02"
    if max_pdu:
        assert all(len(f) - 1 <= max_pdu - 6 for f in fragments)
    assert b"".join(f[1:] for f in fragments) == identifier
