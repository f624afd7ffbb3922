"""The DICOM JSON model (PS3.18 F.2) as Orthanc writes it (``DicomWebJsonVisitor``).

Keys are 8 upper-case hex digits; text values are split on ``\\``; PN become ``{"Alphabetic": …}``;
IS, binary integers and floats become numbers while DS stay strings (Orthanc 1.12 keeps their exact
text); empty values become ``null``; an element without value has only ``vr``. Binary elements are
either a ``BulkDataURI`` (WADO-RS metadata) or left out (QIDO-RS answers, built from index values).
"""

from __future__ import annotations

import base64
import math
from typing import Any

import orjson
from pydicom.datadict import dictionary_VR
from pydicom.dataset import Dataset

from ..core.dicom_tags import SEQUENCE_MARKER, DicomText, raw_elements

TAG_SPECIFIC_CHARACTER_SET = 0x00080005
TAG_PIXEL_DATA = 0x7FE00010

BINARY_VRS = frozenset({"OB", "OW", "OF", "OD", "OL", "OV", "UN", "ob or ow", "OB or OW", "US or SS or OW"})
_INTEGER_VRS = frozenset({"US", "SS", "UL", "SL", "UV", "SV", "xs"})
_FLOAT_VRS = frozenset({"FL", "FD"})

Json = dict[str, Any]


def format_tag(tag: int) -> str:
    return f"{tag:08X}"


def dictionary_vr(tag: int) -> str:
    try:
        vr = str(dictionary_VR(tag))
    except KeyError:
        return "UN"
    if " or " in vr:
        return "US" if vr.startswith("US") else vr.split(" or ")[0]
    return vr


def format_number(value: float) -> int | float:
    """Orthanc's FormatDouble: an integral value is written as an integer."""
    if math.isfinite(value) and abs(value - round(value)) <= 2.220446049250313e-14:
        return int(round(value))
    return value


def text_values(tag: int, vr: str, text: str) -> list[Any] | None:
    """The ``Value`` array of a text element, or None when it has no value."""
    text = text.rstrip("\x00")
    if not text:
        return None
    tokens = text.split("\\")
    if tag == TAG_SPECIFIC_CHARACTER_SET and len(tokens) > 1 and tokens[0] == "":
        tokens = tokens[1:]  # code extensions: the first, default repertoire is implied
    values: list[Any] = []
    for token in tokens:
        try:
            if vr == "PN":
                person: Json = {}
                if token:
                    for key, part in zip(
                        ("Alphabetic", "Ideographic", "Phonetic"), token.split("="), strict=False
                    ):
                        person[key] = part
                values.append(person)
            elif vr == "IS" or vr in _INTEGER_VRS:
                stripped = token.strip()
                values.append(_integer(stripped) if stripped else None)
            elif vr in _FLOAT_VRS:
                stripped = token.strip()
                values.append(format_number(float(stripped)) if stripped else None)
            elif vr == "AT":
                values.append(token.replace(",", "").upper() if token else None)
            else:
                values.append(token if token else None)
        except ValueError:
            continue  # Orthanc skips (and logs) a value that does not parse for its VR
    return values


def _integer(text: str) -> int:
    """An integer value; Orthanc parses them as 64-bit integers, so a larger one does not parse."""
    value = int(text)
    if not -(2**63) <= value < 2**64:
        raise ValueError(text)
    return value


def element(vr: str, values: list[Any] | None) -> Json:
    node: Json = {"vr": vr}
    if values is not None:
        node["Value"] = values
    return node


# --------------------------------------------------------------------------- from a parsed file


def dataset_to_dicomweb(dataset: Dataset, bulk_root: str | None, text: DicomText | None = None) -> Json:
    """A dataset as DICOM JSON; binary values become ``bulk_root/<tag path>`` (or inline base64
    when ``bulk_root`` is None)."""
    text = text or DicomText(dataset)
    return _dataset(dataset, text, bulk_root, "")


def _dataset(dataset: Dataset, text: DicomText, bulk_root: str | None, path: str) -> Json:
    answer: Json = {}
    elements = raw_elements(dataset)
    for tag in sorted(elements):
        tag = int(tag)
        if tag & 0xFFFF == 0 or tag >> 16 == 0x0002:
            continue  # group lengths and the file meta information are not part of the dataset
        elem = elements[tag]
        vr = text.vr_of(tag, elem)
        if vr == "xs":
            vr = "US"
        key = format_tag(tag)
        if vr == "SQ":
            items = dataset[tag].value or []
            node: Json = {"vr": "SQ"}
            if items:
                node["Value"] = [
                    _dataset(item, _item_text(item, text), bulk_root, f"{path}/{tag:08x}/{i + 1}")
                    for i, item in enumerate(items)
                ]
            answer[key] = node
        elif vr in BINARY_VRS:
            vr = elem.VR if elem.VR in ("OB", "OW", "OF", "OD", "OL", "OV", "UN") else "OW"
            if bulk_root is not None:
                answer[key] = {"vr": vr, "BulkDataURI": f"{bulk_root}{path}/{tag:08x}"}
            else:
                raw = dataset[tag].value
                answer[key] = {"vr": vr, "InlineBinary": base64.b64encode(raw or b"").decode("ascii")}
        else:
            value = text.string_value(tag, elem)
            answer[key] = element(vr, None if value is None else text_values(tag, vr, value))
    return answer


def _item_text(item: Dataset, parent: DicomText) -> DicomText:
    from ..core.dicom_tags import _ItemText  # noqa: PLC0415 - the charset rules of sequence items

    return _ItemText(item, parent)


# --------------------------------------------------------------------------- from index values


def tags_to_dicomweb(values: dict[int, str], charset: str = "ISO_IR 192") -> Json:
    """Orthanc strings (from the index or one file) as DICOM JSON (QIDO-RS answers, metadata from
    the index); ``charset`` labels the answer as the plugin does, the JSON text being UTF-8 anyway."""
    answer: Json = {format_tag(TAG_SPECIFIC_CHARACTER_SET): element("CS", [charset])}
    for tag in sorted(values):
        value = values[tag]
        vr = dictionary_vr(tag)
        if vr in BINARY_VRS:
            continue
        if value.startswith(SEQUENCE_MARKER):
            items = orjson.loads(value[len(SEQUENCE_MARKER) :])
            answer[format_tag(tag)] = element("SQ", [_full_json_item(item) for item in items] or None)
            continue
        answer[format_tag(tag)] = element(vr, text_values(tag, vr, value))
    return answer


def _full_json_item(item: dict[str, Any]) -> Json:
    """One item of Orthanc's full-format JSON (``{"0008,0100": {"Type", "Value"}}``) as DICOM JSON."""
    answer: Json = {}
    for key in sorted(item):
        entry = item[key]
        tag = int(key.replace(",", ""), 16)
        vr = dictionary_vr(tag)
        if entry.get("Type") == "Sequence":
            answer[format_tag(tag)] = element("SQ", [_full_json_item(i) for i in entry["Value"]] or None)
        elif entry.get("Type") == "String":
            answer[format_tag(tag)] = element(vr, text_values(tag, vr, entry["Value"]))
    return answer
