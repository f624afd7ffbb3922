"""The Native DICOM Model (PS3.19 A.1) in XML, written from the DICOM JSON model of json_model.py:
QIDO-RS answers and WADO-RS metadata for clients that accept ``application/dicom+xml``.

As the plugin answers: one ``NativeDicomModel`` document per dataset, each the part of a
``multipart/related; type="application/dicom+xml"`` body; ``keyword`` from the data dictionary
(``PrivateCreator`` for the private creator elements, none for other private elements); a person
name split into its components; bulk data as ``BulkData URI``.
"""

from __future__ import annotations

import base64
from typing import Any
from xml.etree import ElementTree

from pydicom.datadict import keyword_for_tag

from .json_model import Json

MEDIA_TYPE = "application/dicom+xml"

_NAMESPACE = "http://dicom.nema.org/PS3.19/models/NativeDICOM"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"
_NAME_GROUPS = ("Alphabetic", "Ideographic", "Phonetic")
_NAME_COMPONENTS = ("FamilyName", "GivenName", "MiddleName", "NamePrefix", "NameSuffix")


def dataset_to_xml(dataset: Json) -> bytes:
    """One dataset of the DICOM JSON model as a Native DICOM Model document (UTF-8)."""
    root = ElementTree.Element(
        "NativeDicomModel",
        {"xmlns": _NAMESPACE, "xsi:schemaLocation": _NAMESPACE, "xmlns:xsi": _XSI},
    )
    _attributes(root, dataset)
    ElementTree.indent(root, space="  ")
    body = ElementTree.tostring(root, encoding="unicode", short_empty_elements=True)
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + body + "\n").encode("utf-8")


def _keyword(tag: int) -> str | None:
    group, element = tag >> 16, tag & 0xFFFF
    if group % 2 == 1:
        return "PrivateCreator" if 0x10 <= element <= 0xFF else None
    return keyword_for_tag(tag) or None


def _attributes(parent: ElementTree.Element, dataset: Json) -> None:
    for key in sorted(dataset):
        node: dict[str, Any] = dataset[key]
        tag = int(key, 16)
        attributes = {"tag": key.upper(), "vr": str(node.get("vr", "UN"))}
        keyword = _keyword(tag)
        if keyword:
            attributes["keyword"] = keyword
        element = ElementTree.SubElement(parent, "DicomAttribute", attributes)
        if "BulkDataURI" in node:
            ElementTree.SubElement(element, "BulkData", {"URI": str(node["BulkDataURI"])})
        elif "InlineBinary" in node:
            ElementTree.SubElement(element, "InlineBinary").text = str(node["InlineBinary"])
        for number, value in enumerate(node.get("Value") or [], start=1):
            _value(element, attributes["vr"], number, value)


def _value(element: ElementTree.Element, vr: str, number: int, value: Any) -> None:
    if vr == "SQ":
        item = ElementTree.SubElement(element, "Item", {"number": str(number)})
        _attributes(item, value or {})
    elif vr == "PN":
        person = ElementTree.SubElement(element, "PersonName", {"number": str(number)})
        for group in _NAME_GROUPS:
            text = (value or {}).get(group)
            if text:
                name = ElementTree.SubElement(person, group)
                for component, part in zip(_NAME_COMPONENTS, str(text).split("^"), strict=False):
                    if part:
                        ElementTree.SubElement(name, component).text = part
    else:
        node = ElementTree.SubElement(element, "Value", {"number": str(number)})
        if value is not None:
            node.text = _text(value)


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return str(value)
