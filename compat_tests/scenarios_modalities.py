"""DICOM network operations against a real DICOM peer (``dicom_peer.py``): C-ECHO, queries and their
answers, the find-* routes, C-STORE and C-MOVE, and the JSON of the jobs they make.

The peer holds the main data set; the server under test starts empty (or with the files uploaded
first). Query and job IDs are random: later steps name them as ``{stepN.ID}``.
"""

from __future__ import annotations

from .dicom_factory import CT_IMAGE_STORAGE
from .dicom_peer import PEER_AET, PEER_PORT_PLACEHOLDER
from .model import Step, file_body, json_body, shape
from .scenarios import I1111, I1112, SE111, delete, get, post, scenario, uid, upload
from .scenarios_peers import UUID, job_rules

PEER_CONFIG = {"DicomModalities": {"peer": [PEER_AET, "127.0.0.1", PEER_PORT_PLACEHOLDER]}}
CREATED = (shape("ID", UUID), shape("Path", r"/(queries|jobs)/" + UUID))
STUDY_UID = uid("p1-st1-se1-i1", "StudyInstanceUID")
SERIES_UID = uid("p1-st1-se1-i1", "SeriesInstanceUID")
# The body of a C-MOVE or C-GET of the first series.
SERIES_RETRIEVE = json_body(
    {"Level": "Series", "Resources": [{"StudyInstanceUID": STUDY_UID, "SeriesInstanceUID": SERIES_UID}]}
)


def wait_job(path: str) -> Step:
    return Step("GET", path, rules=job_rules(), wait_job=True)


scenario(
    "modality-echo",
    "C-ECHO to a DICOM peer, with an empty body and with a timeout; and to an unknown modality",
    post("/modalities/peer/echo", json_body({})),
    post("/modalities/peer/echo", json_body({"Timeout": 5})),
    post("/modalities/unknown/echo", json_body({})),
    config=PEER_CONFIG,
)
scenario(
    "modality-query-study",
    "C-FIND at study level, then the query and its answers",
    post(
        "/modalities/peer/query",
        json_body(
            {"Level": "Study", "Query": {"PatientID": "PAT00*", "StudyDescription": "", "StudyDate": ""}}
        ),
        *CREATED,
    ),
    get("/queries/{step0.ID}", note="the operations of a query"),
    get("/queries/{step0.ID}/answers"),
    get("/queries/{step0.ID}/answers?expand"),
    get("/queries/{step0.ID}/answers?expand&simplify"),
    get("/queries/{step0.ID}/answers/0"),
    get("/queries/{step0.ID}/answers/0/content"),
    get("/queries/{step0.ID}/answers/0/content?simplify"),
    get("/queries/{step0.ID}/answers/9/content", shape("Uri", r"/queries/" + UUID + "/answers/9/content")),
    get("/queries/{step0.ID}/level"),
    get("/queries/{step0.ID}/modality"),
    get("/queries/{step0.ID}/query"),
    post("/queries/{step0.ID}/answers/0/query-series", json_body({}), *CREATED),
    get("/queries/{step12.ID}/query"),
    get("/queries/{step12.ID}/answers?expand"),
    post("/queries/{step12.ID}/answers/0/query-instances", json_body({}), *CREATED),
    get("/queries/{step15.ID}/level"),
    get("/queries/{step15.ID}/answers?expand"),
    config=PEER_CONFIG,
)
scenario(
    "modality-query-series",
    "C-FIND at series level with a study UID and a modality; an unknown level; a non-matching query",
    post(
        "/modalities/peer/query",
        json_body(
            {
                "Level": "Series",
                "Query": {"StudyInstanceUID": STUDY_UID, "Modality": "CT", "SeriesDescription": ""},
            }
        ),
        *CREATED,
    ),
    get("/queries/{step0.ID}/answers?expand"),
    get("/queries/{step0.ID}/query"),
    get("/queries/{step0.ID}/level"),
    post("/modalities/peer/query", json_body({"Level": "Nope", "Query": {}})),
    post(
        "/modalities/peer/query", json_body({"Level": "Patient", "Query": {"PatientID": "NOBODY"}}), *CREATED
    ),
    get("/queries/{step5.ID}/answers"),
    config=PEER_CONFIG,
)
scenario(
    "modality-find-levels",
    "find-patient, find-study, find-series, find-instance and the hierarchical find",
    post("/modalities/peer/find-patient", json_body({"PatientName": "", "PatientID": "PAT00*"})),
    post("/modalities/peer/find-study", json_body({"PatientID": "PAT001", "StudyDescription": ""})),
    post("/modalities/peer/find-series", json_body({"PatientID": "PAT001", "StudyInstanceUID": STUDY_UID})),
    post(
        "/modalities/peer/find-instance",
        json_body(
            {
                "PatientID": "PAT001",
                "StudyInstanceUID": STUDY_UID,
                "SeriesInstanceUID": SERIES_UID,
            }
        ),
    ),
    post("/modalities/peer/find", json_body({"PatientID": "PAT002"})),
    config=PEER_CONFIG,
)
scenario(
    "modality-store",
    "C-STORE to the peer, synchronously then asynchronously, and the finished job",
    upload("p1-st1-se1-i1"),
    upload("p1-st1-se1-i2"),
    post("/modalities/peer/store", json_body({"Resources": [I1111], "Synchronous": True})),
    post("/modalities/peer/store", json_body(I1112)),
    post("/modalities/peer/store", json_body({"Resources": [SE111], "Asynchronous": True}), *CREATED),
    wait_job("/jobs/{step4.ID}"),
    post("/modalities/peer/store", json_body({"Resources": ["unknown"], "Synchronous": True})),
    config=PEER_CONFIG,
)
scenario(
    "modality-move",
    "C-MOVE from the peer to the server, synchronously and as a job; retrieve of query answers",
    post(
        "/modalities/peer/move",
        SERIES_RETRIEVE,
    ),
    get("/series"),
    post(
        "/modalities/peer/move",
        json_body({"Level": "Study", "Resources": [{"StudyInstanceUID": STUDY_UID}], "Asynchronous": True}),
        *CREATED,
    ),
    wait_job("/jobs/{step2.ID}"),
    get("/studies"),
    post("/modalities/peer/query", json_body({"Level": "Study", "Query": {"PatientID": "PAT002"}}), *CREATED),
    post("/queries/{step5.ID}/retrieve", json_body({"Synchronous": True})),
    get("/patients"),
    post("/queries/{step5.ID}/answers/0/retrieve", json_body({"Asynchronous": True}), *CREATED),
    wait_job("/jobs/{step8.ID}"),
    get("/instances"),
    config=PEER_CONFIG,
)
scenario(
    "modality-query-normalize",
    "Normalize false is kept by the child queries of the answers: their tags outside the DICOM "
    "modules of the level reach the peer (Manufacturer at the series level)",
    post(
        "/modalities/peer/query",
        json_body({"Level": "Study", "Query": {"PatientID": "PAT001"}, "Normalize": False}),
        *CREATED,
    ),
    post("/queries/{step0.ID}/answers/0/query-series", json_body({"Query": {"Manufacturer": ""}}), *CREATED),
    get("/queries/{step1.ID}/answers?expand&simplify"),
    post("/modalities/peer/query", json_body({"Level": "Study", "Query": {"PatientID": "PAT001"}}), *CREATED),
    post("/queries/{step3.ID}/answers/0/query-series", json_body({"Query": {"Manufacturer": ""}}), *CREATED),
    get("/queries/{step4.ID}/answers?expand&simplify"),
    config=PEER_CONFIG,
)
scenario(
    "modality-queries-misc",
    "/queries list and DELETE, a query with a timeout, an unknown query, C-STORE of a body "
    "(store-straight), a retrieve to another target AET, an echo that also checks C-FIND",
    post(
        "/modalities/peer/query",
        json_body({"Level": "Patient", "Query": {"PatientID": "PAT003"}, "Timeout": 10}),
        *CREATED,
    ),
    get("/queries/{step0.ID}/answers?expand"),
    post(
        "/queries/{step0.ID}/answers/0/query-study",
        json_body({}),
        shape("Uri", r"/queries/" + UUID + "/answers/0/query-study"),
        note="listed, but not a route",
    ),
    post("/queries/{step0.ID}/answers/0/query-studies", json_body({}), *CREATED),
    get("/queries/{step3.ID}/answers?expand&simplify"),
    delete("/queries/{step3.ID}"),
    get("/queries/{step3.ID}/answers", shape("Uri", r"/queries/" + UUID + "/answers")),
    get("/queries/unknown"),
    post("/modalities/peer/store-straight", file_body("p3-st1-se1-i1")),
    post("/modalities/peer/echo", json_body({"CheckFind": True})),
    post("/queries/{step0.ID}/retrieve", json_body({"TargetAet": "ELSEWHERE", "Synchronous": True})),
    config=PEER_CONFIG,
)
scenario(
    "modality-get",
    "C-GET from the peer into the server, synchronously and as a job",
    post(
        "/modalities/peer/get",
        SERIES_RETRIEVE,
    ),
    get("/instances"),
    post(
        "/modalities/peer/get",
        json_body({"Level": "Patient", "Resources": [{"PatientID": "PAT002"}], "Asynchronous": True}),
        *CREATED,
    ),
    wait_job("/jobs/{step2.ID}"),
    get("/patients"),
    config=PEER_CONFIG,
)
scenario(
    "modality-storage-commitment",
    "Storage commitment: asked for a list of DICOM instances, for stored resources, and chained "
    "after a C-STORE; the reports once received",
    upload("p1-st1-se1-i1"),
    post(
        "/modalities/peer/storage-commitment",
        json_body(
            {
                "DicomInstances": [
                    [CT_IMAGE_STORAGE, uid("p1-st1-se1-i2", "SOPInstanceUID")],
                    {"SOPClassUID": CT_IMAGE_STORAGE, "SOPInstanceUID": "1.2.3.4"},
                ]
            }
        ),
        shape("ID", r"2\.25\.\d+"),
        shape("Path", r"/storage-commitment/2\.25\.\d+"),
    ),
    Step("GET", "/storage-commitment/{step1.ID}", wait_job=True),
    post(
        "/modalities/peer/storage-commitment",
        json_body({"Resources": [I1111]}),
        shape("ID", r"2\.25\.\d+"),
        shape("Path", r"/storage-commitment/2\.25\.\d+"),
    ),
    Step("GET", "/storage-commitment/{step3.ID}", wait_job=True),
    post(
        "/modalities/peer/store",
        json_body({"Resources": [I1111], "StorageCommitment": True}),
        shape("StorageCommitmentTransactionUID", r"2\.25\.\d+"),
    ),
    post("/modalities/peer/storage-commitment", json_body({"Resources": ["unknown"]})),
    get("/storage-commitment/unknown"),
    config=PEER_CONFIG,
)
