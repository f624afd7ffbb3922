"""DICOMweb scenarios: QIDO-RS searches and WADO-RS metadata, recorded from Orthanc + its DICOMweb plugin.

The plugin is loaded by the recorded configuration; orthanc_py serves the same routes built in.
"""

from __future__ import annotations

from .dicom_factory import MAIN_KEYS
from .model import Scenario, dicom_bytes, json_body, raw_body, unordered
from .scenarios import SCENARIOS, delete, get, post, put, scenario, uid, upload

DICOMWEB_CONFIG = {
    "Plugins": ["/usr/share/orthanc/plugins/libOrthancDicomWeb.so"],
    # The URLs in answers (RetrieveURL, BulkDataURI) then do not depend on the Host header sent.
    "DicomWeb": {"Enable": True, "Host": "127.0.0.1:28042"},
}
JSON = {"Accept": "application/dicom+json"}

ST11_UID = uid("p1-st1-se1-i1", "StudyInstanceUID")
SE111_UID = uid("p1-st1-se1-i1", "SeriesInstanceUID")
I1111_UID = uid("p1-st1-se1-i1", "SOPInstanceUID")
ST22_UID = uid("p2-st2-se1-i1", "StudyInstanceUID")
SE221_UID = uid("p2-st2-se1-i1", "SeriesInstanceUID")
I2211_UID = uid("p2-st2-se1-i1", "SOPInstanceUID")
ST31_UID = uid("p3-st1-se1-i1", "StudyInstanceUID")
SE311_UID = uid("p3-st1-se1-i1", "SeriesInstanceUID")
I3111_UID = uid("p3-st1-se1-i1", "SOPInstanceUID")


def qido(path: str, ordered: bool = False) -> object:
    """A DICOMweb GET; lists come in the order of Orthanc's database, so they compare as multisets."""
    rules = () if ordered else (unordered("$"),)
    return get("/dicom-web" + path, *rules, headers=JSON)


def dicomweb_scenario(name: str, description: str, *steps: object, **dicomweb: object) -> None:
    config = {**DICOMWEB_CONFIG, "DicomWeb": {**DICOMWEB_CONFIG["DicomWeb"], **dicomweb}}  # type: ignore[dict-item]
    scenario(name, description, *[upload(key) for key in MAIN_KEYS], *steps, config=config)  # type: ignore[arg-type]


dicomweb_scenario(
    "dicomweb-qido-levels",
    "QIDO-RS at each level with the default attributes of the plugin",
    qido("/studies"),
    qido("/series"),
    qido("/instances"),
    qido(f"/studies/{ST11_UID}/series"),
    qido(f"/studies/{ST11_UID}/instances"),
    qido(f"/studies/{ST11_UID}/series/{SE111_UID}/instances"),
    qido("/studies/1.2.3.4.5/series"),
)
dicomweb_scenario(
    "dicomweb-qido-matching",
    "QIDO-RS attribute matching: keyword and tag, wildcard, date range, UID list, limit and offset",
    qido("/studies?PatientName=*a*"),
    qido("/studies?00100020=" + uid("p1-st1-se1-i1", "PatientID")),
    qido("/studies?StudyDate=20100101-20171231"),
    qido(f"/studies?StudyInstanceUID={ST11_UID},{ST22_UID}"),
    qido("/studies?limit=5"),
    qido("/studies?limit=5&offset=0"),
    qido("/series?Modality=MR"),
    qido("/studies?ModalitiesInStudy=CT"),
    qido("/studies?includefield=00081030,InstitutionName"),
    qido("/instances?SOPInstanceUID=" + I3111_UID),
    qido("/studies?fuzzymatching=maybe"),
)
dicomweb_scenario(
    "dicomweb-metadata",
    "WADO-RS metadata at the three levels (BulkDataURI for binary values)",
    qido(f"/studies/{ST31_UID}/series/{SE311_UID}/instances/{I3111_UID}/metadata"),
    qido(f"/studies/{ST22_UID}/series/{SE221_UID}/metadata"),
    qido(f"/studies/{ST11_UID}/metadata"),
    qido(f"/studies/{ST11_UID}/series/{SE111_UID}/instances/1.2.3/metadata"),
)

dicomweb_scenario(
    "dicomweb-qido-includefield-all",
    "QIDO-RS includefield=all at each level (the plugin answers the default attributes only)",
    qido("/studies?includefield=all&PatientID=PAT003", ordered=True),
    qido("/series?includefield=all&PatientID=PAT003", ordered=True),
    qido("/instances?includefield=all&PatientID=PAT003", ordered=True),
    qido(f"/studies/{ST11_UID}/series?includefield=all&SeriesNumber=1", ordered=True),
)
METADATA_OF_SERIES_AND_STUDIES = (
    qido(f"/studies/{ST11_UID}/series/{SE111_UID}/metadata"),
    qido(f"/studies/{ST11_UID}/metadata"),
    qido(f"/studies/{ST31_UID}/series/{SE311_UID}/metadata"),
    qido(f"/studies/{ST22_UID}/metadata"),
    qido(f"/studies/{ST31_UID}/series/{SE311_UID}/instances/{I3111_UID}/metadata"),
)
dicomweb_scenario(
    "dicomweb-metadata-main-tags",
    "WADO-RS metadata of studies and series from the main DICOM tags of the index (an instance: Full)",
    *METADATA_OF_SERIES_AND_STUDIES,
    StudiesMetadata="MainDicomTags",
    SeriesMetadata="MainDicomTags",
)
dicomweb_scenario(
    "dicomweb-metadata-extrapolate",
    "WADO-RS metadata in Extrapolate mode: main DICOM tags plus tags agreed on by a few instances",
    *METADATA_OF_SERIES_AND_STUDIES,
    StudiesMetadata="Extrapolate",
    SeriesMetadata="Extrapolate",
    StudiesMetadataExtrapolatedTags=["SliceThickness", "00080016"],
    SeriesMetadataExtrapolatedTags=["PixelSpacing", "0028,1050", "ReferencedStudySequence", "InstanceNumber"],
)
dicomweb_scenario(
    "dicomweb-metadata-mixed-modes",
    "WADO-RS metadata: studies from the main DICOM tags, series from the files",
    *METADATA_OF_SERIES_AND_STUDIES,
    StudiesMetadata="MainDicomTags",
)

_: list[Scenario] = SCENARIOS


def multipart_dicom(*keys: str, boundary: str = "DICOMwebBoundary") -> bytes:
    body = b""
    for key in keys:
        body += (
            f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + dicom_bytes(key) + b"\r\n"
        )
    return body + f"--{boundary}--\r\n".encode()


NOT_DICOM = (
    b"--DICOMwebBoundary\r\nContent-Type: application/dicom\r\n\r\nnot dicom\r\n--DICOMwebBoundary--\r\n"
)
STOW_HEADERS = {
    "Content-Type": 'multipart/related; type="application/dicom"; boundary=DICOMwebBoundary',
    "Accept": "application/dicom+json",
}

scenario(
    "dicomweb-stow",
    "STOW-RS: two instances, then one outside the study of the path, one that is not DICOM",
    post(
        "/dicom-web/studies",
        raw_body(multipart_dicom("p1-st1-se1-i1", "p2-st1-se1-i1")),
        headers=STOW_HEADERS,
    ),
    post(f"/dicom-web/studies/{ST11_UID}", raw_body(multipart_dicom("p3-st1-se1-i1")), headers=STOW_HEADERS),
    post(
        "/dicom-web/studies",
        raw_body(NOT_DICOM),
        headers=STOW_HEADERS,
    ),
    post("/dicom-web/studies", raw_body(b"x"), headers={"Content-Type": "application/dicom"}),
    get("/dicom-web/studies", headers=JSON),
    config=DICOMWEB_CONFIG,
)

scenario(
    "dicomweb-servers",
    "DICOMweb servers: list, expand, one, define over REST, delete",
    get("/dicom-web/servers"),
    get("/dicom-web/servers?expand"),
    get("/dicom-web/servers/sample"),
    get("/dicom-web/servers/nope"),
    put(
        "/dicom-web/servers/other",
        json_body({"Url": "http://127.0.0.1:9/dicom-web/", "Username": "u", "Password": "p"}),
    ),
    get("/dicom-web/servers?expand"),
    put("/dicom-web/servers/bad", json_body({"Nope": 1})),
    delete("/dicom-web/servers/other"),
    delete("/dicom-web/servers/other"),
    get("/dicom-web/servers"),
    config={
        **DICOMWEB_CONFIG,
        "DicomWeb": {
            "Enable": True,
            "Servers": {
                "sample": ["http://127.0.0.1:9/dicom-web/"],
                "full": {"Url": "http://127.0.0.1:9/web/", "HttpHeaders": {"X-A": "b"}, "HasDelete": True},
            },
        },
    },
)
