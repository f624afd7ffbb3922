"""The compatibility scenarios: what is recorded from the real Orthanc and replayed on orthanc_py.

Each scenario runs on a fresh server (empty storage) with ``model.BASE_CONFIG`` plus its own overlay.
Its steps are compared field by field; the only exceptions are the rules declared here, next to the
requests whose answers carry values that change from one run to the next (dates of reception and
modification, attachment UUIDs, generated UIDs, the clock, the version string).

Identifiers in paths are Orthanc public IDs computed from the fixture files' UIDs
(``dicom_factory.ids_of``); if one were wrong, the recording would show a 404.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .dicom_factory import ALL_SPECS, MAIN_KEYS, ids_of
from .model import (
    Body,
    Rule,
    Scenario,
    Step,
    dicom_bytes,
    file_body,
    json_body,
    raw_body,
    shape,
    zip_body,
)

# --------------------------------------------------------------------------- identifiers


def _first_key(prefix: str) -> str:
    return next(key for key in ALL_SPECS if key.startswith(prefix + "-"))


def instance_id(key: str) -> str:
    return ids_of(key)["instance"]


def series_id(prefix: str) -> str:
    return ids_of(_first_key(prefix))["series"]


def study_id(prefix: str) -> str:
    return ids_of(_first_key(prefix))["study"]


def patient_id(prefix: str) -> str:
    return ids_of(_first_key(prefix))["patient"]


def uid(key: str, name: str) -> str:
    return ids_of(key)[name]


P1, P2, P3 = patient_id("p1"), patient_id("p2"), patient_id("p3")
ST11, ST12, ST21, ST22, ST31 = (study_id(p) for p in ("p1-st1", "p1-st2", "p2-st1", "p2-st2", "p3-st1"))
SE111, SE112, SE121 = series_id("p1-st1-se1"), series_id("p1-st1-se2"), series_id("p1-st2-se1")
SE211, SE221, SE311 = series_id("p2-st1-se1"), series_id("p2-st2-se1"), series_id("p3-st1-se1")
I1111 = instance_id("p1-st1-se1-i1")
I1112 = instance_id("p1-st1-se1-i2")
I1121 = instance_id("p1-st1-se2-i1")  # implicit VR little endian, alone in its series
I2211 = instance_id("p2-st2-se1-i1")  # multi-frame
I3111 = instance_id("p3-st1-se1-i1")  # ISO_IR 100, private tags, ReferencedStudySequence

# --------------------------------------------------------------------------- volatile values

DATE_TIME = r"\d{8}T\d{6}"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
DCMTK_UID = r"1\.2\.276\.0\.7230010\.3\.\d+(\.\d+)*"
INTEGER = r"\d+"

# Values that Orthanc sets when it stores or changes something: the last update of a patient, study
# or series, and the UUID of an instance's file in the storage area; alone or in expanded lists.
UPDATED = (shape("LastUpdate", DATE_TIME),)
FILE_UUID = (shape("FileUuid", UUID),)
EACH_UPDATED = (shape("[*].LastUpdate", DATE_TIME),)
EACH_FILE_UUID = (shape("[*].FileUuid", UUID),)
CHANGES = (shape("Changes[*].Date", DATE_TIME),)
METADATA = (shape("ReceptionDate", DATE_TIME),)
ATTACHMENT_INFO = (shape("Uuid", UUID),)
# /system: the version string and the database identifier belong to the build and the machine.
SYSTEM = (shape("Version", r"\d+\.\d+\.\d+.*"), shape("DatabaseServerIdentifier", r".+"))

# --------------------------------------------------------------------------- steps


def get(path: str, *rules: Rule, headers: dict[str, str] | None = None, note: str = "") -> Step:
    return Step("GET", path, headers=headers or {}, rules=tuple(rules), note=note)


def post(
    path: str, body: Body | None = None, *rules: Rule, headers: dict[str, str] | None = None, note: str = ""
) -> Step:
    return Step("POST", path, body, headers=headers or {}, rules=tuple(rules), note=note)


def put(path: str, body: Body | None = None, *rules: Rule, headers: dict[str, str] | None = None) -> Step:
    return Step("PUT", path, body, headers=headers or {}, rules=tuple(rules))


def delete(path: str, *rules: Rule, headers: dict[str, str] | None = None) -> Step:
    return Step("DELETE", path, headers=headers or {}, rules=tuple(rules))


def upload(key: str) -> Step:
    return post("/instances", file_body(key))


def upload_all() -> list[Step]:
    """The ten files of the main data set, one request each."""
    return [upload(key) for key in MAIN_KEYS]


def find(query: dict[str, Any], *rules: Rule) -> Step:
    return post("/tools/find", json_body(query), *rules)


def lookup(text: str) -> Step:
    return post("/tools/lookup", raw_body(text))


SCENARIOS: list[Scenario] = []


def scenario(
    name: str,
    description: str,
    *steps: Step | Iterable[Step],
    config: dict[str, Any] | None = None,
    rules: Iterable[Rule] = (),
) -> None:
    flat: list[Step] = []
    for item in steps:
        if isinstance(item, Step):
            flat.append(item)
        else:
            flat.extend(item)
    SCENARIOS.append(Scenario(name, description, tuple(flat), config or {}, tuple(rules)))


# =========================================================================== upload

scenario(
    "upload-single",
    "POST /instances with one DICOM file, then list it",
    upload("p1-st1-se1-i1"),
    get("/instances"),
    get("/patients"),
)
scenario(
    "upload-already-stored",
    "the same file twice: Success then AlreadyStored; no second change",
    upload("p1-st1-se1-i1"),
    upload("p1-st1-se1-i1"),
    get("/statistics"),
    get("/changes"),
    rules=CHANGES,
)
scenario(
    "upload-zip",
    "POST /instances with a ZIP of three files",
    post("/instances", zip_body("p1-st1-se1-i1", "p1-st1-se1-i2", "p2-st1-se1-i1")),
    get("/instances"),
    get("/statistics"),
)
scenario(
    "upload-zip-all",
    "a ZIP of the whole data set, one of them already stored",
    upload("p1-st2-se1-i1"),
    post("/instances", zip_body(*MAIN_KEYS)),
    get("/statistics"),
    get("/patients"),
)
scenario(
    "upload-not-dicom",
    "a body that is not DICOM: 400 with Orthanc's error body",
    post("/instances", raw_body("this is not a DICOM file\n")),
    get("/statistics"),
)
scenario("upload-empty-body", "an empty body", post("/instances", raw_body(b"")), get("/instances"))
scenario(
    "upload-truncated",
    "the first 600 bytes of a DICOM file",
    post("/instances", raw_body(dicom_bytes("p1-st1-se1-i1")[:600])),
    get("/instances"),
)
scenario(
    "upload-implicit-vr",
    "an implicit VR little endian file keeps its transfer syntax",
    upload("p1-st1-se2-i1"),
    get(f"/instances/{I1121}", *FILE_UUID),
    get(f"/instances/{I1121}/metadata/TransferSyntax"),
    get(f"/instances/{I1121}/header"),
    get(f"/instances/{I1121}/file"),
    get(f"/instances/{I1121}/tags?simplify"),
)
scenario(
    "upload-no-meta-header",
    "a dataset without preamble nor file meta header",
    upload("p3-st1-se2-i1-nometa"),
    get("/instances"),
    get(f"/instances/{instance_id('p3-st1-se2-i1-nometa')}/metadata?expand", *METADATA),
    get(f"/instances/{instance_id('p3-st1-se2-i1-nometa')}/header"),
    get(f"/instances/{instance_id('p3-st1-se2-i1-nometa')}/file"),
)
scenario(
    "upload-multiframe",
    "a three-frame MR instance",
    upload("p2-st2-se1-i1"),
    get(f"/instances/{I2211}", *FILE_UUID),
    get(f"/instances/{I2211}/frames"),
    get(f"/series/{SE221}", *UPDATED),
    get(f"/instances/{I2211}/simplified-tags"),
)
scenario(
    "upload-all-one-by-one",
    "the ten files one request each, then statistics and changes",
    upload_all(),
    get("/statistics"),
    get("/changes?limit=100"),
    rules=CHANGES,
)
scenario(
    "upload-content-type-header",
    "Content-Type: application/dicom on upload",
    post("/instances", file_body("p2-st1-se1-i1"), headers={"Content-Type": "application/dicom"}),
    get("/instances"),
)

# =========================================================================== listing

scenario(
    "list-empty",
    "every list on an empty server",
    get("/patients"),
    get("/studies"),
    get("/series"),
    get("/instances"),
    get("/patients?expand"),
    get("/instances?since=0&limit=10"),
)
scenario("list-patients", "GET /patients", upload_all(), get("/patients"))
scenario("list-studies", "GET /studies", upload_all(), get("/studies"))
scenario("list-series", "GET /series", upload_all(), get("/series"))
scenario("list-instances", "GET /instances", upload_all(), get("/instances"))
scenario(
    "list-patients-expand", "GET /patients?expand", upload_all(), get("/patients?expand"), rules=EACH_UPDATED
)
scenario(
    "list-studies-expand", "GET /studies?expand", upload_all(), get("/studies?expand"), rules=EACH_UPDATED
)
scenario("list-series-expand", "GET /series?expand", upload_all(), get("/series?expand"), rules=EACH_UPDATED)
scenario(
    "list-instances-expand",
    "GET /instances?expand",
    upload_all(),
    get("/instances?expand"),
    rules=EACH_FILE_UUID,
)
scenario(
    "list-since-limit",
    "paging with since and limit",
    upload_all(),
    get("/patients?since=1&limit=1"),
    get("/studies?since=0&limit=2"),
    get("/instances?since=3&limit=4"),
    get("/instances?since=8&limit=4"),
    get("/instances?since=100&limit=2"),
    get("/series?limit=2"),
    get("/series?since=2"),
    get("/instances?since=0&limit=0"),
)
scenario(
    "list-expand-since-limit",
    "paging of expanded lists",
    upload_all(),
    get("/instances?expand&since=2&limit=3"),
    get("/studies?expand&since=4&limit=5"),
    rules=EACH_UPDATED + EACH_FILE_UUID,
)
scenario(
    "list-expand-full",
    "expanded lists with tags by number (full)",
    upload_all(),
    get("/studies?expand&full"),
    get("/instances?expand&full&since=0&limit=2"),
    rules=EACH_UPDATED + EACH_FILE_UUID,
)
scenario(
    "list-expand-short",
    "expanded lists with short tags",
    upload_all(),
    get("/series?expand&short"),
    get("/patients?expand&short"),
    rules=EACH_UPDATED,
)
scenario(
    "list-requested-tags",
    "expanded lists with requested-tags",
    upload_all(),
    get("/studies?expand&requested-tags=PatientName;StudyDate"),
    get("/patients?expand&requested-tags=0010,0020;PatientSex"),
    get("/series?expand&requested-tags=StudyDescription;Modality;NumberOfSeriesRelatedInstances"),
    rules=EACH_UPDATED,
)
scenario(
    "list-requested-tags-computed",
    "computed counting tags at each level",
    upload_all(),
    get(
        "/patients?expand&requested-tags=NumberOfPatientRelatedStudies;NumberOfPatientRelatedSeries;"
        "NumberOfPatientRelatedInstances"
    ),
    get(
        "/studies?expand&requested-tags=ModalitiesInStudy;NumberOfStudyRelatedSeries;"
        "NumberOfStudyRelatedInstances;SOPClassesInStudy"
    ),
    rules=EACH_UPDATED,
)

# =========================================================================== one resource

scenario(
    "patient-get",
    "GET /patients/{id} and its variants",
    upload_all(),
    get(f"/patients/{P1}"),
    get(f"/patients/{P1}?full"),
    get(f"/patients/{P1}?short"),
    get(f"/patients/{P1}?requested-tags=PatientName;StudyDate;NumberOfPatientRelatedStudies"),
    rules=UPDATED,
)
scenario(
    "study-get",
    "GET /studies/{id} and its variants",
    upload_all(),
    get(f"/studies/{ST11}"),
    get(f"/studies/{ST11}?full"),
    get(f"/studies/{ST11}?short"),
    get(f"/studies/{ST11}?requested-tags=PatientName;StudyDate;ModalitiesInStudy"),
    rules=UPDATED,
)
scenario(
    "series-get",
    "GET /series/{id} and its variants",
    upload_all(),
    get(f"/series/{SE111}"),
    get(f"/series/{SE111}?full"),
    get(f"/series/{SE111}?short"),
    get(f"/series/{SE111}?requested-tags=StudyDescription;PatientID;NumberOfSeriesRelatedInstances"),
    rules=UPDATED,
)
scenario(
    "instance-get",
    "GET /instances/{id} and its variants",
    upload_all(),
    get(f"/instances/{I1112}"),
    get(f"/instances/{I1112}?full"),
    get(f"/instances/{I1112}?short"),
    get(f"/instances/{I1112}?requested-tags=PatientName;Rows;KVP"),
    rules=FILE_UUID,
)
scenario(
    "resource-get-latin1",
    "ISO_IR 100 names at each level",
    upload_all(),
    get(f"/patients/{P3}"),
    get(f"/studies/{ST31}"),
    get(f"/series/{SE311}"),
    get(f"/instances/{I3111}"),
    get(f"/studies/{ST31}?full"),
    rules=UPDATED + FILE_UUID,
)
scenario(
    "series-incomplete-count",
    "series status and ExpectedNumberOfInstances after partial upload",
    upload("p1-st1-se1-i1"),
    get(f"/series/{SE111}"),
    upload("p1-st1-se1-i3"),
    get(f"/series/{SE111}"),
    rules=UPDATED,
)

# =========================================================================== children and parents

scenario(
    "patient-children",
    "studies, series and instances of a patient",
    upload_all(),
    get(f"/patients/{P1}/studies"),
    get(f"/patients/{P1}/series"),
    get(f"/patients/{P1}/instances"),
    get(f"/patients/{P1}/studies?expand=false"),
    get(f"/patients/{P1}/instances?expand=false"),
    rules=EACH_UPDATED + EACH_FILE_UUID,
)
scenario(
    "study-children",
    "series, instances and patient of a study",
    upload_all(),
    get(f"/studies/{ST11}/series"),
    get(f"/studies/{ST11}/instances"),
    get(f"/studies/{ST11}/patient"),
    get(f"/studies/{ST11}/series?expand=false"),
    rules=EACH_UPDATED + EACH_FILE_UUID + UPDATED,
)
scenario(
    "series-children",
    "instances, study and patient of a series",
    upload_all(),
    get(f"/series/{SE111}/instances"),
    get(f"/series/{SE111}/study"),
    get(f"/series/{SE111}/patient"),
    get(f"/series/{SE111}/instances?expand=false"),
    rules=EACH_FILE_UUID + UPDATED,
)
scenario(
    "instance-parents",
    "series, study and patient of an instance",
    upload_all(),
    get(f"/instances/{I1112}/series"),
    get(f"/instances/{I1112}/study"),
    get(f"/instances/{I1112}/patient"),
    rules=UPDATED,
)
scenario(
    "children-variants",
    "child routes with full, short and requested-tags",
    upload_all(),
    get(f"/studies/{ST11}/series?full"),
    get(f"/patients/{P2}/instances?short"),
    get(f"/series/{SE111}/instances?requested-tags=PatientName;InstanceNumber"),
    get(f"/instances/{I1112}/study?full"),
    rules=EACH_UPDATED + EACH_FILE_UUID + UPDATED,
)
scenario(
    "children-unknown-id",
    "child and parent routes of unknown resources",
    upload("p1-st1-se1-i1"),
    get("/patients/unknown/studies"),
    get("/studies/unknown/series"),
    get("/series/unknown/instances"),
    get("/instances/unknown/patient"),
    get(f"/patients/{ST11}/studies"),
)

# =========================================================================== instance content

scenario(
    "instance-file",
    "downloading the stored files",
    upload_all(),
    get(f"/instances/{I1111}/file"),
    get(f"/instances/{I2211}/file"),
    get(f"/instances/{I3111}/file"),
)
scenario(
    "instance-tags",
    "tags in the three formats",
    upload_all(),
    get(f"/instances/{I1112}/tags"),
    get(f"/instances/{I1112}/tags?simplify"),
    get(f"/instances/{I1112}/tags?short"),
    get(f"/instances/{I1112}/simplified-tags"),
)
scenario(
    "instance-tags-latin1-private",
    "ISO_IR 100 values, private tags and sequences",
    upload_all(),
    get(f"/instances/{I3111}/tags"),
    get(f"/instances/{I3111}/tags?simplify"),
    get(f"/instances/{I3111}/tags?short"),
)
scenario(
    "instance-tags-multiframe",
    "tags of the multi-frame instance",
    upload_all(),
    get(f"/instances/{I2211}/tags"),
    get(f"/instances/{I2211}/simplified-tags"),
)
scenario(
    "instance-header",
    "file meta header",
    upload_all(),
    get(f"/instances/{I1111}/header"),
    get(f"/instances/{I1111}/header?simplify"),
    get(f"/instances/{I1111}/header?short"),
    get(f"/instances/{I1121}/header?simplify"),
)
scenario(
    "instance-content",
    "raw tag access through /content",
    upload_all(),
    get(f"/instances/{I1111}/content"),
    get(f"/instances/{I1111}/content/0010-0010"),
    get(f"/instances/{I1111}/content/0008-1032"),
    get(f"/instances/{I1111}/content/0008-1032/0"),
    get(f"/instances/{I1111}/content/0008-1032/0/0008-0100"),
    get(f"/instances/{I1111}/content/0008-1032/0/0008-0104"),
    get(f"/instances/{I1111}/content/0020-0032"),
    get(f"/instances/{I1111}/content/0028-0010"),
    get(f"/instances/{I1111}/content/7fe0-0010"),
    get(f"/instances/{I1111}/content/7fe0-0010/0"),
)
scenario(
    "instance-content-special",
    "content of private and accented tags, missing paths",
    upload_all(),
    get(f"/instances/{I3111}/content/0009-0010"),
    get(f"/instances/{I3111}/content/0009-1001"),
    get(f"/instances/{I3111}/content/0010-0010"),
    get(f"/instances/{I3111}/content/0008-1110/0/0008-1155"),
    get(f"/instances/{I3111}/content/0008-1032/5"),
    get(f"/instances/{I3111}/content/0011-0011"),
    get(f"/instances/{I3111}/content/zzzz"),
)
scenario(
    "instance-metadata",
    "metadata list, expanded, and each item",
    upload_all(),
    get(f"/instances/{I1112}/metadata"),
    get(f"/instances/{I1112}/metadata?expand"),
    get(f"/instances/{I1112}/metadata/SopClassUid"),
    get(f"/instances/{I1112}/metadata/TransferSyntax"),
    get(f"/instances/{I1112}/metadata/IndexInSeries"),
    get(f"/instances/{I1112}/metadata/Origin"),
    get(f"/instances/{I1112}/metadata/RemoteAET"),
    get(f"/instances/{I1112}/metadata/RemoteIP"),
    get(f"/instances/{I1112}/metadata/ReceptionDate", shape("$", DATE_TIME)),
    get(f"/instances/{I1112}/metadata/MainDicomTagsSignature"),
    get(f"/instances/{I1112}/metadata/PixelDataOffset"),
    get(f"/instances/{I1112}/metadata/Unknown"),
    get(f"/instances/{I1112}/metadata/1024"),
    rules=METADATA,
)
scenario(
    "resource-metadata",
    "metadata of patients, studies and series",
    upload_all(),
    get(f"/patients/{P1}/metadata?expand"),
    get(f"/studies/{ST11}/metadata?expand"),
    get(f"/series/{SE111}/metadata?expand"),
    get(f"/series/{SE111}/metadata"),
    get(f"/studies/{ST11}/metadata/LastUpdate", shape("$", DATE_TIME)),
    rules=(shape("LastUpdate", DATE_TIME),),
)
scenario(
    "metadata-user-defined",
    "writing and deleting a numbered metadata",
    upload("p1-st1-se1-i1"),
    put(f"/instances/{I1111}/metadata/1024", raw_body("hello")),
    get(f"/instances/{I1111}/metadata/1024"),
    get(f"/instances/{I1111}/metadata"),
    delete(f"/instances/{I1111}/metadata/1024"),
    get(f"/instances/{I1111}/metadata/1024"),
    put(f"/instances/{I1111}/metadata/Origin", raw_body("x")),
    put(f"/instances/{I1111}/metadata/12", raw_body("x")),
)
scenario(
    "instance-attachments",
    "the dicom attachment and its information",
    upload_all(),
    get(f"/instances/{I1112}/attachments"),
    get(f"/instances/{I1112}/attachments?full"),
    get(f"/instances/{I1112}/attachments/dicom"),
    get(f"/instances/{I1112}/attachments/dicom/info"),
    get(f"/instances/{I1112}/attachments/dicom/size"),
    get(f"/instances/{I1112}/attachments/dicom/md5"),
    get(f"/instances/{I1112}/attachments/dicom/compressed-size"),
    get(f"/instances/{I1112}/attachments/dicom/compressed-md5"),
    get(f"/instances/{I1112}/attachments/dicom/is-compressed"),
    get(
        f"/instances/{I1112}/attachments/dicom/data",
        shape("header:Content-Disposition", f'filename="{UUID}"'),
    ),
    get(f"/instances/{I1112}/attachments/unknown"),
    get(f"/instances/{I1112}/attachments/1025/info"),
    rules=ATTACHMENT_INFO,
)
scenario(
    "resource-attachments",
    "attachments of the upper levels",
    upload_all(),
    get(f"/patients/{P1}/attachments"),
    get(f"/studies/{ST11}/attachments"),
    get(f"/series/{SE111}/attachments"),
)
scenario(
    "instance-frames",
    "frame lists",
    upload_all(),
    get(f"/instances/{I1111}/frames"),
    get(f"/instances/{I2211}/frames"),
)
scenario(
    "instances-tags",
    "tags of every instance below a resource",
    upload_all(),
    get(f"/series/{SE111}/instances-tags"),
    get(f"/studies/{ST12}/instances-tags?simplify"),
    get(f"/patients/{P3}/instances-tags?short"),
)
scenario(
    "ordered-slices",
    "ordered slices of a series and of the multi-frame series",
    upload_all(),
    get(f"/series/{SE111}/ordered-slices"),
    get(f"/series/{SE221}/ordered-slices"),
)

# =========================================================================== shared tags, modules, statistics

scenario(
    "shared-tags-patient",
    "tags shared by all instances of a patient",
    upload_all(),
    get(f"/patients/{P1}/shared-tags"),
    get(f"/patients/{P1}/shared-tags?simplify"),
    get(f"/patients/{P1}/shared-tags?short"),
)
scenario(
    "shared-tags-study",
    "tags shared by all instances of a study",
    upload_all(),
    get(f"/studies/{ST11}/shared-tags"),
    get(f"/studies/{ST11}/shared-tags?simplify"),
)
scenario(
    "shared-tags-series",
    "tags shared by all instances of a series",
    upload_all(),
    get(f"/series/{SE111}/shared-tags"),
    get(f"/series/{SE111}/shared-tags?simplify"),
    get(f"/series/{SE311}/shared-tags?simplify"),
)
scenario(
    "module",
    "the DICOM module of each level",
    upload_all(),
    get(f"/patients/{P1}/module"),
    get(f"/studies/{ST11}/module"),
    get(f"/series/{SE111}/module"),
    get(f"/instances/{I1111}/module"),
    get(f"/studies/{ST11}/module?simplify"),
    get(f"/instances/{I1111}/module?short"),
)
scenario(
    "module-patient",
    "the patient module seen from a study",
    upload_all(),
    get(f"/studies/{ST31}/module-patient"),
    get(f"/studies/{ST31}/module-patient?simplify"),
    get(f"/studies/{ST31}/patient-module"),
)
scenario(
    "statistics-levels",
    "statistics of one resource at each level",
    upload_all(),
    get(f"/patients/{P1}/statistics"),
    get(f"/studies/{ST11}/statistics"),
    get(f"/series/{SE111}/statistics"),
    get(f"/instances/{I1111}/statistics"),
)
scenario(
    "statistics-global",
    "global statistics empty then full",
    get("/statistics"),
    upload_all(),
    get("/statistics"),
)
scenario("system", "GET /system", get("/system"), rules=SYSTEM)

# =========================================================================== changes and exports

scenario(
    "changes-empty",
    "the change log of an empty server",
    get("/changes"),
    get("/changes?last"),
    get("/changes?since=5&limit=2"),
)
scenario(
    "changes-paging",
    "since, limit and last",
    upload_all(),
    get("/changes"),
    get("/changes?since=2&limit=3"),
    get("/changes?limit=5"),
    get("/changes?since=30"),
    get("/changes?since=1000"),
    get("/changes?last"),
    get("/changes?limit=0"),
    rules=CHANGES,
)
scenario(
    "changes-clear",
    "DELETE /changes",
    upload("p1-st1-se1-i1"),
    delete("/changes"),
    get("/changes"),
    upload("p1-st1-se1-i2"),
    get("/changes"),
    rules=CHANGES,
)
scenario(
    "exports",
    "the export log",
    get("/exports"),
    upload("p1-st1-se1-i1"),
    get("/exports"),
    get("/exports?since=0&limit=10"),
    delete("/exports"),
    get("/exports"),
)

# =========================================================================== /tools/find

scenario(
    "find-patient-exact",
    "Patient level, exact PatientName",
    upload_all(),
    find({"Level": "Patient", "Query": {"PatientName": "DOE^JOHN"}}),
    find({"Level": "Patient", "Query": {"PatientID": "PAT002"}}),
    find({"Level": "Patient", "Query": {"PatientName": "DOE"}}),
)
scenario(
    "find-wildcards",
    "* and ? wildcards",
    upload_all(),
    find({"Level": "Patient", "Query": {"PatientName": "*J*"}}),
    find({"Level": "Patient", "Query": {"PatientName": "DOE^JOH?"}}),
    find({"Level": "Patient", "Query": {"PatientName": "S*H^*"}}),
    find({"Level": "Study", "Query": {"StudyDescription": "*CT*"}}),
    find({"Level": "Study", "Query": {"StudyDescription": "*"}}),
    find({"Level": "Patient", "Query": {"PatientID": "PAT00?"}}),
)
scenario(
    "find-date-ranges",
    "StudyDate ranges, open ranges and partial dates",
    upload_all(),
    find({"Level": "Study", "Query": {"StudyDate": "20100101-20151231"}}),
    find({"Level": "Study", "Query": {"StudyDate": "-20121231"}}),
    find({"Level": "Study", "Query": {"StudyDate": "20150101-"}}),
    find({"Level": "Study", "Query": {"StudyDate": "20120101"}}),
    find({"Level": "Study", "Query": {"StudyDate": "-2012"}}),
    find({"Level": "Study", "Query": {"StudyDate": "2015-"}}),
    find({"Level": "Patient", "Query": {"PatientBirthDate": "19600101-19751231"}}),
    find({"Level": "Study", "Query": {"StudyDate": "2018*"}}),
)
scenario(
    "find-lists",
    "multiple values separated by backslash",
    upload_all(),
    find({"Level": "Series", "Query": {"Modality": "CT\\MR"}}),
    find({"Level": "Series", "Query": {"Modality": "MR"}}),
    find({"Level": "Series", "Query": {"Modality": "CT\\OT"}}),
    find({"Level": "Study", "Query": {"AccessionNumber": "ACC1001\\ACC2002"}}),
    find(
        {
            "Level": "Study",
            "Query": {
                "StudyInstanceUID": f"{uid('p1-st1-se1-i1', 'StudyInstanceUID')}\\"
                f"{uid('p3-st1-se1-i1', 'StudyInstanceUID')}"
            },
        }
    ),
)
scenario(
    "find-case-sensitivity",
    "CaseSensitive true and false on PatientName",
    upload_all(),
    find({"Level": "Patient", "Query": {"PatientName": "doe^john"}}),
    find({"Level": "Patient", "Query": {"PatientName": "doe^john"}, "CaseSensitive": True}),
    find({"Level": "Patient", "Query": {"PatientName": "doe^john"}, "CaseSensitive": False}),
    find({"Level": "Patient", "Query": {"PatientName": "smith*"}, "CaseSensitive": False}),
    find({"Level": "Patient", "Query": {"PatientName": "DOE^JOHN"}, "CaseSensitive": True}),
)
scenario(
    "find-accents",
    "matching ISO_IR 100 names",
    upload_all(),
    find({"Level": "Patient", "Query": {"PatientName": "MÜLLER*"}}),
    find({"Level": "Patient", "Query": {"PatientName": "muller*"}}),
    find({"Level": "Patient", "Query": {"PatientName": "MULLER^JORG"}}),
    find({"Level": "Study", "Query": {"StudyDescription": "*réé*"}}),
)
scenario(
    "find-expand",
    "Expand at each level",
    upload_all(),
    find({"Level": "Patient", "Query": {"PatientSex": "F"}, "Expand": True}),
    find({"Level": "Study", "Query": {"StudyDate": "20181111"}, "Expand": True}),
    find({"Level": "Series", "Query": {"SeriesNumber": "2"}, "Expand": True}),
    find({"Level": "Instance", "Query": {"InstanceNumber": "3"}, "Expand": True}),
    rules=EACH_UPDATED + EACH_FILE_UUID,
)
scenario(
    "find-limit-since",
    "Limit and Since",
    upload_all(),
    find({"Level": "Instance", "Query": {}, "Limit": 3}),
    find({"Level": "Instance", "Query": {}, "Since": 2, "Limit": 3}),
    find({"Level": "Instance", "Query": {}, "Since": 8}),
    find({"Level": "Study", "Query": {}, "Limit": 0}),
    find({"Level": "Study", "Query": {}, "Since": 10}),
)
scenario(
    "find-requested-tags",
    "RequestedTags, including tags of other levels",
    upload_all(),
    find(
        {
            "Level": "Study",
            "Query": {"PatientID": "PAT001"},
            "Expand": True,
            "RequestedTags": ["PatientName", "StudyDate", "ModalitiesInStudy"],
        }
    ),
    find(
        {
            "Level": "Series",
            "Query": {"Modality": "MR"},
            "Expand": True,
            "RequestedTags": ["PatientName", "StudyDescription", "NumberOfSeriesRelatedInstances"],
        }
    ),
    find(
        {
            "Level": "Instance",
            "Query": {"SOPInstanceUID": uid("p1-st1-se1-i2", "SOPInstanceUID")},
            "Expand": True,
            "RequestedTags": ["KVP", "Rows", "0010,0010"],
        }
    ),
    rules=EACH_UPDATED + EACH_FILE_UUID,
)
scenario(
    "find-full-short",
    "Full and Short output",
    upload_all(),
    find({"Level": "Study", "Query": {"AccessionNumber": "ACC2001"}, "Expand": True, "Full": True}),
    find({"Level": "Series", "Query": {"Modality": "CT"}, "Expand": True, "Short": True}),
    find(
        {
            "Level": "Patient",
            "Query": {"PatientID": "PAT003"},
            "Expand": True,
            "Full": True,
            "RequestedTags": ["PatientName"],
        }
    ),
    rules=EACH_UPDATED,
)
scenario(
    "find-upper-level-tags",
    "patient tags queried at study, series and instance level",
    upload_all(),
    find({"Level": "Study", "Query": {"PatientName": "SMITH*"}}),
    find({"Level": "Series", "Query": {"PatientID": "PAT001", "Modality": "CT"}}),
    find({"Level": "Instance", "Query": {"PatientSex": "O"}}),
    find({"Level": "Instance", "Query": {"StudyDate": "20100315", "SeriesNumber": "1"}}),
)
scenario(
    "find-non-main-tags",
    "tags that are not main DICOM tags, and unknown tags",
    upload_all(),
    find({"Level": "Instance", "Query": {"KVP": "120"}}),
    find({"Level": "Series", "Query": {"BodyPartExamined": "KNEE"}}),
    find({"Level": "Instance", "Query": {"ImageComments": "*"}}),
    find({"Level": "Study", "Query": {"NotATag": "x"}}),
    find({"Level": "Study", "Query": {"0008,0020": "20100315"}}),
)
scenario(
    "find-series-instance-level",
    "Series and Instance level queries",
    upload_all(),
    find({"Level": "Series", "Query": {"SeriesDescription": "*SAG*"}}),
    find({"Level": "Instance", "Query": {"SOPInstanceUID": uid("p2-st2-se1-i1", "SOPInstanceUID")}}),
    find({"Level": "Instance", "Query": {"InstanceNumber": "2"}}),
    find({"Level": "Series", "Query": {"SeriesInstanceUID": uid("p1-st1-se2-i1", "SeriesInstanceUID")}}),
)
scenario(
    "find-empty-query",
    "an empty Query at each level",
    upload_all(),
    find({"Level": "Patient", "Query": {}}),
    find({"Level": "Study", "Query": {}}),
    find({"Level": "Series", "Query": {}}),
    find({"Level": "Instance", "Query": {}}),
)
scenario(
    "find-order-by",
    "OrderBy on a DICOM tag",
    upload_all(),
    find(
        {
            "Level": "Study",
            "Query": {},
            "OrderBy": [{"Type": "DicomTag", "Key": "StudyDate", "Direction": "DESC"}],
        }
    ),
    find(
        {
            "Level": "Patient",
            "Query": {},
            "OrderBy": [{"Type": "DicomTag", "Key": "PatientName", "Direction": "ASC"}],
        }
    ),
)
scenario(
    "find-errors",
    "bad requests to /tools/find",
    upload("p1-st1-se1-i1"),
    find({"Level": "Foo", "Query": {}}),
    find({"Level": "Study"}),
    find({"Query": {}}),
    find({"Level": "Study", "Query": {"StudyDate": 20100315}}),
    find({"Level": "Study", "Query": {}, "Limit": -1}),
    find({"Level": "Study", "Query": []}),
    post("/tools/find", raw_body("{bad json")),
    post("/tools/find", raw_body("")),
    find(["Level", "Study"]),
)  # type: ignore[arg-type]
scenario(
    "find-level-case",
    "Level names in other cases",
    upload_all(),
    find({"Level": "study", "Query": {"StudyDate": "20100315"}}),
    find({"Level": "PATIENT", "Query": {"PatientID": "PAT001"}}),
    find({"Level": "instances", "Query": {}}),
)

# =========================================================================== /tools/lookup

scenario(
    "lookup",
    "lookup of each kind of identifier",
    upload_all(),
    lookup("PAT001"),
    lookup(uid("p1-st1-se1-i1", "StudyInstanceUID")),
    lookup(uid("p1-st1-se1-i1", "SeriesInstanceUID")),
    lookup(uid("p1-st1-se1-i1", "SOPInstanceUID")),
    lookup("1.2.3.4.5.unknown"),
    lookup("ACC1001"),
    lookup(""),
    lookup(f" {uid('p2-st1-se1-i1', 'SOPInstanceUID')}\n"),
)

# =========================================================================== deletion

scenario(
    "delete-instance",
    "deleting one instance of a series of three",
    upload_all(),
    delete(f"/instances/{I1111}"),
    get(f"/instances/{I1111}"),
    get(f"/series/{SE111}", *UPDATED),
    get("/statistics"),
    get("/changes?last"),
    rules=CHANGES,
)
scenario(
    "delete-last-instance-cascade",
    "deleting the only instance of a series removes the series",
    upload_all(),
    delete(f"/instances/{I1121}"),
    get(f"/series/{SE112}"),
    get(f"/studies/{ST11}", *UPDATED),
    get("/series"),
    get("/statistics"),
    get("/changes?since=20"),
    rules=CHANGES,
)
scenario(
    "delete-series",
    "deleting a series",
    upload_all(),
    delete(f"/series/{SE111}"),
    get(f"/series/{SE111}"),
    get("/instances"),
    get(f"/studies/{ST11}", *UPDATED),
    get("/statistics"),
)
scenario(
    "delete-study",
    "deleting a study of a patient with two studies",
    upload_all(),
    delete(f"/studies/{ST21}"),
    get(f"/studies/{ST21}"),
    get(f"/patients/{P2}", *UPDATED),
    get("/studies"),
    get("/statistics"),
)
scenario(
    "delete-last-study-cascade",
    "deleting the only study of a patient removes the patient",
    upload_all(),
    delete(f"/studies/{ST31}"),
    get(f"/patients/{P3}"),
    get("/patients"),
    get("/statistics"),
)
scenario(
    "delete-patient",
    "deleting a patient",
    upload_all(),
    delete(f"/patients/{P1}"),
    get(f"/patients/{P1}"),
    get("/patients"),
    get("/studies"),
    get("/series"),
    get("/instances"),
    get("/statistics"),
    get("/changes?since=20"),
    get("/changes?last"),
    rules=CHANGES,
)
scenario(
    "delete-instances-one-by-one",
    "emptying a patient instance by instance",
    upload_all(),
    delete(f"/instances/{instance_id('p2-st1-se1-i1')}"),
    delete(f"/instances/{instance_id('p2-st1-se1-i2')}"),
    get(f"/patients/{P2}", *UPDATED),
    delete(f"/instances/{I2211}"),
    get(f"/patients/{P2}"),
    get("/patients"),
    get("/statistics"),
)
scenario(
    "delete-unknown",
    "deleting resources that do not exist or were deleted",
    upload("p1-st1-se1-i1"),
    delete("/instances/unknown"),
    delete("/series/unknown"),
    delete("/studies/unknown"),
    delete("/patients/unknown"),
    delete(f"/instances/{I1111}"),
    delete(f"/instances/{I1111}"),
    delete(f"/patients/{P1}"),
)
scenario(
    "delete-then-reupload",
    "a deleted instance can be stored again",
    upload("p1-st1-se1-i1"),
    delete(f"/instances/{I1111}"),
    upload("p1-st1-se1-i1"),
    get("/instances"),
    get("/changes"),
    get("/statistics"),
    rules=CHANGES,
)
scenario(
    "delete-changes-statistics",
    "changes and statistics after deletions at every level",
    upload_all(),
    delete(f"/instances/{I1112}"),
    delete(f"/series/{SE121}"),
    delete(f"/studies/{ST21}"),
    delete(f"/patients/{P3}"),
    get("/changes?limit=100"),
    get("/statistics"),
    get("/patients"),
    get("/series"),
    rules=CHANGES,
)

# =========================================================================== tools

scenario(
    "tools-generate-uid",
    "generated UIDs at each level",
    get("/tools/generate-uid?level=patient", shape("$", UUID)),
    get("/tools/generate-uid?level=study", shape("$", DCMTK_UID)),
    get("/tools/generate-uid?level=series", shape("$", DCMTK_UID)),
    get("/tools/generate-uid?level=instance", shape("$", DCMTK_UID)),
    get("/tools/generate-uid"),
    get("/tools/generate-uid?level=foo"),
)
scenario(
    "tools-now",
    "the server clock",
    get("/tools/now", shape("$", DATE_TIME)),
    get("/tools/now-local", shape("$", DATE_TIME)),
)
scenario(
    "tools-simple-getters",
    "log level, default encoding and the list of tools",
    get("/tools/log-level"),
    get("/tools/default-encoding"),
    get("/tools"),
    get("/tools/accepted-transfer-syntaxes"),
    get("/tools/unknown-sop-class-accepted"),
)
scenario("tools-dicom-conformance", "the DICOM conformance statement", get("/tools/dicom-conformance"))
scenario(
    "tools-labels",
    "labels on a study",
    upload_all(),
    get("/tools/labels"),
    put(f"/studies/{ST11}/labels/urgent"),
    get(f"/studies/{ST11}/labels"),
    get("/tools/labels"),
    get(f"/studies/{ST11}", *UPDATED),
    find({"Level": "Study", "Query": {}, "Labels": ["urgent"]}),
    delete(f"/studies/{ST11}/labels/urgent"),
    get(f"/studies/{ST11}/labels"),
    put(f"/studies/{ST11}/labels/bad label"),
)
scenario(
    "protected-patient",
    "protection flag of a patient",
    upload_all(),
    get(f"/patients/{P1}/protected"),
    put(f"/patients/{P1}/protected", raw_body("1")),
    get(f"/patients/{P1}/protected"),
    put(f"/patients/{P1}/protected", raw_body("0")),
    get(f"/patients/{P1}/protected"),
    put(f"/patients/{P1}/protected", raw_body("maybe")),
)
scenario("root-redirect", "GET / redirects to the explorer", get("/"))

# =========================================================================== errors

scenario(
    "errors-unknown-ids",
    "unknown resource IDs at each level",
    upload("p1-st1-se1-i1"),
    get("/patients/unknown"),
    get("/studies/unknown"),
    get("/series/unknown"),
    get("/instances/unknown"),
    get("/instances/unknown/file"),
    get("/instances/unknown/tags"),
    get(f"/studies/{P1}"),
    get(f"/instances/{I1111[:-1]}0"),
    get("/patients/unknown/statistics"),
    get("/series/unknown/shared-tags"),
)
scenario(
    "errors-unknown-routes",
    "routes that do not exist",
    get("/nonexistent"),
    get("/patients/x/y/z"),
    get("/tools/nothing"),
    get("/instances/x/unknown-child"),
    post("/nonexistent", raw_body("x")),
    get("/app/unknown.html"),
)
scenario(
    "errors-wrong-method",
    "existing routes with the wrong method: 405 and Allow",
    upload("p1-st1-se1-i1"),
    put("/patients"),
    delete("/system"),
    post(f"/patients/{P1}"),
    post("/statistics"),
    delete("/tools/find"),
    get("/tools/find"),
    get("/tools/lookup"),
    put("/instances"),
    delete("/patients"),
    post(f"/instances/{I1111}/tags"),
    put("/changes"),
    delete(f"/instances/{I1111}/file"),
    post("/tools/now"),
)
scenario(
    "errors-bad-since-limit",
    "non-numeric paging parameters",
    upload_all(),
    get("/patients?since=abc&limit=1"),
    get("/instances?limit=-1"),
    get("/changes?since=x"),
    get("/changes?limit=abc"),
    rules=CHANGES,
)

# =========================================================================== authentication

AUTH = {"AuthenticationEnabled": True, "RegisteredUsers": {"alice": "secret"}}
GOOD = {"Authorization": "Basic YWxpY2U6c2VjcmV0"}  # alice:secret
WRONG = {"Authorization": "Basic YWxpY2U6d3Jvbmc="}  # alice:wrong
UNKNOWN_USER = {"Authorization": "Basic Ym9iOnNlY3JldA=="}  # bob:secret

scenario(
    "auth-no-credentials",
    "no Authorization header",
    get("/system"),
    get("/patients"),
    post("/instances", file_body("p1-st1-se1-i1")),
    config=AUTH,
)
scenario(
    "auth-wrong-password",
    "wrong password and unknown user",
    get("/patients", headers=WRONG),
    get("/patients", headers=UNKNOWN_USER),
    get("/patients", headers={"Authorization": "Bearer abc"}),
    get("/patients", headers={"Authorization": "Basic !!!"}),
    config=AUTH,
)
scenario(
    "auth-good-password",
    "the right credentials",
    get("/system", headers=GOOD),
    post("/instances", file_body("p1-st1-se1-i1"), headers=GOOD),
    get("/patients", headers=GOOD),
    get(f"/instances/{I1111}/metadata?expand", headers=GOOD),
    get("/statistics"),
    config=AUTH,
    rules=SYSTEM + METADATA,
)

# =========================================================================== configuration

scenario(
    "overwrite-disabled",
    "a second version of an instance is ignored by default",
    upload("p1-st1-se1-i1"),
    upload("p1-st1-se1-i1-v2"),
    get(f"/instances/{I1111}", *FILE_UUID),
    get(f"/instances/{I1111}/file"),
    get("/changes"),
    rules=CHANGES,
)
scenario(
    "overwrite-enabled",
    "OverwriteInstances replaces the stored instance",
    upload("p1-st1-se1-i1"),
    upload("p1-st1-se1-i2"),
    upload("p1-st1-se1-i1-v2"),
    get(f"/instances/{I1111}", *FILE_UUID),
    get(f"/instances/{I1111}/file"),
    get(f"/series/{SE111}", *UPDATED),
    get("/statistics"),
    get("/changes"),
    get(f"/instances/{I1111}/metadata?expand", *METADATA),
    config={"OverwriteInstances": True},
    rules=CHANGES,
)
scenario(
    "storage-compression",
    "StorageCompression: compressed attachments, same file served",
    upload_all(),
    get(f"/instances/{I1112}/attachments/dicom/is-compressed"),
    get(f"/instances/{I1112}/attachments/dicom/size"),
    get(f"/instances/{I1112}/attachments/dicom/compressed-size", shape("$", INTEGER)),
    get(f"/instances/{I1112}/attachments/dicom/md5"),
    get(
        f"/instances/{I1112}/attachments/dicom/info",
        *ATTACHMENT_INFO,
        shape("CompressedMD5", "[0-9a-f]{32}"),
        shape("CompressedSize", INTEGER),
    ),
    get(f"/instances/{I1112}/file"),
    get(f"/instances/{I1112}", *FILE_UUID),
    get("/statistics", shape("TotalDiskSize", INTEGER), shape("TotalDiskSizeMB", INTEGER)),
    get("/system", *SYSTEM),
    config={"StorageCompression": True},
)
scenario(
    "max-patient-count-recycle",
    "MaximumPatientCount recycles the oldest patient",
    upload("p1-st1-se1-i1"),
    upload("p2-st1-se1-i1"),
    upload("p3-st1-se1-i1"),
    get("/patients"),
    get("/statistics"),
    get("/changes"),
    config={"MaximumPatientCount": 2},
    rules=CHANGES,
)
scenario(
    "max-patient-count-reject",
    "MaximumStorageMode Reject refuses new patients",
    upload("p1-st1-se1-i1"),
    upload("p2-st1-se1-i1"),
    upload("p1-st1-se1-i2"),
    get("/patients"),
    config={"MaximumPatientCount": 1, "MaximumStorageMode": "Reject"},
)
scenario(
    "protected-patient-not-recycled",
    "a protected patient survives recycling",
    upload("p1-st1-se1-i1"),
    put(f"/patients/{P1}/protected", raw_body("1")),
    upload("p2-st1-se1-i1"),
    upload("p3-st1-se1-i1"),
    get("/patients"),
    config={"MaximumPatientCount": 2},
)
scenario(
    "default-encoding-config",
    "DefaultEncoding changes the reported default",
    get("/tools/default-encoding"),
    upload("p1-st1-se1-i1"),
    get(f"/instances/{I1111}/simplified-tags"),
    config={"DefaultEncoding": "Utf8"},
)
scenario(
    "readonly",
    "ReadOnly refuses writes",
    get("/system", *SYSTEM),
    post("/instances", file_body("p1-st1-se1-i1")),
    get("/instances"),
    delete("/changes"),
    config={"ReadOnly": True},
)
scenario(
    "system-custom-name",
    "Name, DicomAet and ports reported by /system",
    get("/system", *SYSTEM),
    config={"Name": "Other Name", "DicomAet": "COMPATAET"},
)

from . import (  # noqa: E402, F401  (register their scenarios)
    scenarios_dicomweb,
    scenarios_modalities,  # noqa: E402, F401
    scenarios_peers,
)
