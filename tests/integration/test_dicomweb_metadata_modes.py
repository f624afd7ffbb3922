"""``StudiesMetadata`` / ``SeriesMetadata`` (``MainDicomTags``, ``Extrapolate``), QIDO-RS
``includefield=all`` and ``application/dicom+xml`` answers, against orthanc_py served over HTTP and
read with ``dicomweb-client`` (the XML is parsed back into the DICOM JSON model and compared)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest
from dicomweb_client.api import DICOMwebClient

from orthanc_py.dicomweb.multipart import parse_media_type, parse_multipart

from .test_dicomweb import make_instance, running_server

STUDY = "1.2.826.0.1.3680043.99.50"
SERIES = f"{STUDY}.1"
XML_METADATA = 'multipart/related; type="application/dicom+xml"'


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DICOMwebClient]:
    dicomweb = {
        "StudiesMetadata": "MainDicomTags",
        "SeriesMetadata": "Extrapolate",
        "SeriesMetadataExtrapolatedTags": ["PixelSpacing", "00200013"],
    }
    with running_server(tmp_path_factory.mktemp("dicomweb-modes"), dicomweb) as server:
        client = DICOMwebClient(url=f"{server.url}/dicom-web")
        instances = [make_instance(STUDY, 1, n) for n in (1, 2, 3)]
        instances[2].PixelSpacing = [0.7, 0.7]
        client.store_instances(instances)
        yield client


def test_study_metadata_from_main_tags(client: DICOMwebClient) -> None:
    answer = client.retrieve_study_metadata(STUDY)
    assert sorted(i["00200013"]["Value"][0] for i in answer) == [1, 2, 3]
    for instance in answer:
        assert instance["00080005"]["Value"] == ["ISO_IR 100"]  # DefaultEncoding, as the plugin
        assert instance["00100010"]["Value"] == [{"Alphabetic": "DOE^JOHN"}]  # patient level
        assert instance["0020000E"]["Value"] == [SERIES]
        assert "00280030" not in instance and "7FE00010" not in instance  # not main DICOM tags


def test_series_metadata_extrapolated(client: DICOMwebClient) -> None:
    answer = client.retrieve_series_metadata(STUDY, SERIES)
    # PixelSpacing: the value 2 of the 3 instances agree on, given to all (an approximation)
    assert [i["00280030"] for i in answer] == [{"vr": "DS", "Value": ["0.5", "0.5"]}] * 3
    # InstanceNumber is a main tag of the instance: its own value wins over the extrapolated one
    assert sorted(i["00200013"]["Value"][0] for i in answer) == [1, 2, 3]
    # the metadata of one instance is always read from its file
    one = client.retrieve_instance_metadata(STUDY, SERIES, f"{SERIES}.3")
    assert one["00280030"]["Value"] == ["0.7", "0.7"]
    assert "BulkDataURI" in one["7FE00010"]


def test_includefield_all(client: DICOMwebClient) -> None:
    (series,) = client.search_for_series(STUDY, fields=["all"])
    assert series["00100010"]["Value"] == [{"Alphabetic": "DOE^JOHN"}]  # patient, from the index
    assert "00080021" not in series  # SeriesDate: not in the file
    (default,) = client.search_for_series(STUDY)
    assert set(default) <= set(series)
    instances = client.search_for_instances(STUDY, SERIES, fields=["all"])
    assert all("00200013" in i and "0020000D" in i for i in instances)


def xml_to_json(element: ElementTree.Element) -> dict[str, Any]:
    """The Native DICOM Model read back into the DICOM JSON model (PS3.18 F.2 ↔ PS3.19 A.1)."""
    ns = "{http://dicom.nema.org/PS3.19/models/NativeDICOM}"
    answer: dict[str, Any] = {}
    for attribute in element.findall(f"{ns}DicomAttribute"):
        vr = attribute.get("vr", "")
        node: dict[str, Any] = {"vr": vr}
        bulk = attribute.find(f"{ns}BulkData")
        if bulk is not None:
            node["BulkDataURI"] = bulk.get("URI")
        values: list[Any] = []
        if vr == "SQ":
            values = [xml_to_json(item) for item in attribute.findall(f"{ns}Item")]
        elif vr == "PN":
            for person in attribute.findall(f"{ns}PersonName"):
                name = {}
                for group in person:
                    name[group.tag.removeprefix(ns)] = "^".join(c.text or "" for c in group)
                values.append(name)
        else:
            for value in attribute.findall(f"{ns}Value"):
                text = value.text
                values.append(int(text) if text and vr in ("IS", "US", "UL", "SS", "SL") else text)
        if values:
            node["Value"] = values
        answer[attribute.get("tag", "")] = node
    return answer


def test_xml_metadata_and_search(client: DICOMwebClient) -> None:
    base = client.base_url
    for path, accept in (
        (f"/studies/{STUDY}/series/{SERIES}/instances/{SERIES}.3/metadata", XML_METADATA),
        (f"/studies/{STUDY}/metadata", XML_METADATA),
        (f"/studies/{STUDY}/series/{SERIES}/instances", "application/dicom+xml"),
    ):
        as_json = httpx.get(base + path).json()
        answer = httpx.get(base + path, headers={"Accept": accept})
        assert answer.status_code == 200
        media, params = parse_media_type(answer.headers["content-type"])
        assert (media, params["type"]) == ("multipart/related", "application/dicom+xml")
        parts = parse_multipart(answer.content, params["boundary"])
        assert [xml_to_json(ElementTree.fromstring(p.data)) for p in parts] == as_json
    refused = httpx.get(base + f"/studies/{STUDY}/metadata", headers={"Accept": "application/dicom+xml"})
    assert refused.status_code == 400  # as the plugin: XML metadata only as multipart/related
