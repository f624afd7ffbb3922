"""Orthanc peers, modalities and jobs: the JSON of /peers, /modalities and of finished jobs.

The jobs here send nothing (an empty list of resources) so that they finish without a network peer.
"""

from __future__ import annotations

from .model import Rule, json_body, shape
from .scenarios import delete, get, post, put, scenario

PEERS_CONFIG = {
    "OrthancPeers": {
        "simple": ["http://127.0.0.1:1/"],
        "credentials": ["http://127.0.0.1:2", "alice", "secret"],
        "advanced": {
            "Url": "http://127.0.0.1:3/orthanc/",
            "Username": "bob",
            "Password": "pwd",
            "HttpHeaders": {"X-Token": "abc", "A-First": "z"},
            "Department": "radiology",
        },
    },
    "DicomModalities": {
        "short": ["SHORTAET", "127.0.0.1", 104],
        "object": {
            "AET": "OBJAET",
            "Host": "127.0.0.1",
            "Port": 1104,
            "Manufacturer": "GE",
            "AllowEcho": False,
        },
    },
}
ISO_TIME = r"\d{8}T\d{6}(\.\d{1,6})?"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def job_rules(prefix: str = "") -> tuple[Rule, ...]:
    """The values of a finished job's JSON that change from run to run (``prefix``: ``[*].`` for
    a list of jobs)."""
    return (
        shape(f"{prefix}ID", UUID),
        shape(f"{prefix}CreationTime", ISO_TIME),
        shape(f"{prefix}CompletionTime", ISO_TIME),
        shape(f"{prefix}Timestamp", ISO_TIME),
        shape(f"{prefix}EffectiveRuntime", r"\d+(\.\d+)?"),
    )


JOB_RULES = job_rules("[*].")

scenario(
    "peers-list-configuration",
    "/peers in the array and object forms: list, expand, configuration, operations, PUT and DELETE",
    get("/peers"),
    get("/peers?expand"),
    get("/peers/simple/configuration"),
    get("/peers/credentials/configuration"),
    get("/peers/advanced/configuration"),
    get("/peers/advanced"),
    get("/peers/unknown"),
    put("/peers/added", json_body({"Url": "http://127.0.0.1:4", "Username": "u", "Password": "p"})),
    get("/peers/added/configuration"),
    delete("/peers/added"),
    get("/peers"),
    config=PEERS_CONFIG,
)
scenario(
    "modalities-list-configuration",
    "/modalities: list, expand, configuration of both forms, PUT and DELETE",
    get("/modalities"),
    get("/modalities?expand"),
    get("/modalities/short/configuration"),
    get("/modalities/object/configuration"),
    get("/modalities/unknown"),
    put("/modalities/added", json_body(["ADDED", "127.0.0.1", 2104])),
    get("/modalities/added/configuration"),
    delete("/modalities/added"),
    get("/modalities"),
    config=PEERS_CONFIG,
)
scenario(
    "jobs-finished-json",
    "Synchronous store jobs with nothing to send, then the JSON of the finished jobs",
    post("/peers/advanced/store", json_body([])),
    get("/jobs?expand", *JOB_RULES),  # one job only: jobs are listed by (random) ID
    post("/modalities/short/store", json_body({"Resources": [], "LocalAet": "OTHERAET"})),
    get("/jobs/unknown"),
    post("/jobs/unknown/pause"),
    config=PEERS_CONFIG,
)
