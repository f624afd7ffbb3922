"""Where orthanc_py answers differently from the recorded Orthanc on purpose, field by field.

Each entry names the scenario, the step (index in the recording), the field and the value
orthanc_py gives instead, with the reason. Nothing else of the step is loosened.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .model import ABSENT, Rule


@dataclass(frozen=True)
class Deviation:
    scenario: str
    step: int
    path: str
    value: Any
    reason: str
    kind: str = "deviation"  # or "shape": ``value`` is a regular expression the answer must match

    def rule(self) -> Rule:
        if self.kind == "shape":
            return Rule(self.path, "shape", pattern=self.value)
        return Rule(self.path, "deviation", value=json.dumps(self.value))


def _system(scenario: str, step: int) -> list[Deviation]:
    why_api = (
        "ApiVersion names the newest Orthanc release whose whole REST surface is implemented; "
        "clients switch features on it"
    )
    return [
        Deviation(scenario, step, "ApiVersion", 1, why_api),
        Deviation(
            scenario, step, "Capabilities.HasExtendedChanges", False, "/changes has no type/to filters yet"
        ),
        Deviation(
            scenario, step, "Capabilities.HasExtendedFind", False, "/tools/find has no extended options yet"
        ),
        Deviation(
            scenario,
            step,
            "Implementation",
            {"Name": "orthanc_py", "Version": "0.1.0"},
            "orthanc_py names itself and its version",
        ),
    ]


def _client_error(
    scenario: str, step: int, status: int, code: int, name: str, details: str
) -> list[Deviation]:
    """Orthanc answers 500 (an internal error) to a client's mistake; orthanc_py answers a 4xx."""
    reason = "Orthanc answers 500 to malformed input; a clear 4xx tells the client what to fix"
    phrase = {400: "Bad Request", 403: "Forbidden"}[status]
    return [
        Deviation(scenario, step, "status", status, reason),
        Deviation(scenario, step, "HttpError", phrase, reason),
        Deviation(scenario, step, "HttpStatus", status, reason),
        Deviation(scenario, step, "OrthancStatus", code, reason),
        Deviation(scenario, step, "OrthancError", name, reason),
        Deviation(scenario, step, "Message", name, reason),
        Deviation(scenario, step, "Details", details, reason),
    ]


def _include_all(step: int, values: dict[str, tuple[str, list[Any]]]) -> list[Deviation]:
    """``includefield=all``: the extra main DICOM tags orthanc_py returns for the one match."""
    why = (
        "includefield=all asks for all available attributes (PS3.18 8.3.4.3); the plugin parses it "
        "but answers the default attributes only, orthanc_py adds the main DICOM tags of the level "
        "and of its parents"
    )
    return [
        Deviation("dicomweb-qido-includefield-all", step, f"[0].{tag}", {"vr": vr, "Value": value}, why)
        for tag, (vr, value) in values.items()
    ]


_P3_STUDY = {"00080080": ("LO", ["Compat Hospital"]), "00081030": ("LO", ["Thorax réévaluation"])}
_P3_SERIES = {
    "00080021": ("DA", ["20200505"]),
    "00080031": ("TM", ["070707"]),
    "00080070": ("LO", ["ORTHANCPY FACTORY"]),
    "00081010": ("SH", ["STATION1"]),
    "00180015": ("CS", ["CHEST"]),
    "00200037": ("DS", ["1.0", "0.0", "0.0", "0.0", "1.0", "0.0"]),
}
_P3_INSTANCE = {
    "00080012": ("DA", ["20200505"]),
    "00080013": ("TM", ["070707"]),
    "00200012": ("IS", [1]),
    "00200032": ("DS", ["-120.0", "-120.0", "0.0"]),
}
_P1_SERIES = {
    **_P3_SERIES,
    "00080021": ("DA", ["20100315"]),
    "00080031": ("TM", ["101500"]),
    "00080080": ("LO", ["Compat Hospital"]),
    "00081030": ("LO", ["CT CHEST"]),
}


DEVIATIONS: list[Deviation] = [
    *_system("system", 0),
    *_system("system-custom-name", 0),
    *_system("auth-good-password", 0),
    *_system("readonly", 0),
    *_system("storage-compression", 18),
    *_client_error(
        "find-errors", 6, 400, 8, "Bad request", 'Field "Query" is missing, or should be a JSON object'
    ),
    *[
        d
        for d in _client_error("find-non-main-tags", 13, 400, 27, "Unknown DICOM tag", "NotATag")
        if d.path not in ("Details",)
    ],
    *[
        d
        for d in _client_error("instance-content-special", 16, 400, 27, "Unknown DICOM tag", "zzzz")
        if d.path not in ("Details",)
    ],
    *_client_error(
        "readonly",
        3,
        403,
        22,
        "Cannot modify a read-only data structure",
        'The index is read-only ("ReadOnly" configuration option)',
    ),
    Deviation(
        "tools-dicom-conformance",
        0,
        "$",
        r"(?s)orthanc_py .* DICOM conformance statement\n.*",
        "orthanc_py states its own DICOM conformance, not DCMTK's",
        kind="shape",
    ),
    Deviation(
        "tools-simple-getters",
        2,
        "$",
        [
            "accepted-transfer-syntaxes",
            "default-encoding",
            "dicom-conformance",
            "find",
            "generate-uid",
            "labels",
            "log-level",
            "lookup",
            "now",
            "now-local",
            "reset",
            "shutdown",
            "unknown-sop-class-accepted",
        ],
        "GET /tools lists the /tools routes this server offers, not those of Orthanc it lacks",
    ),
    Deviation(
        "storage-compression",
        17,
        "TotalUncompressedSize",
        "18670",
        "Orthanc also stores a compressed copy of each file up to its pixel data (an extra "
        "attachment counted here); orthanc_py reads tags from the file itself",
    ),
    *[
        Deviation(
            "dicomweb-stow",
            step,
            "header:Content-Type",
            r"application/dicom\+json",
            'Orthanc sends its content type twice ("application/dicom+json, text/plain") with a '
            "STOW-RS failure status; orthanc_py sends the type of the body once",
            kind="shape",
        )
        for step in (1, 2)
    ],
    *_include_all(10, _P3_STUDY),
    *_include_all(11, {**_P3_STUDY, **_P3_SERIES}),
    *_include_all(12, {**_P3_STUDY, **_P3_SERIES, **_P3_INSTANCE}),
    *_include_all(13, _P1_SERIES),
]


def deviation_rules(scenario: str, step: int) -> list[Rule]:
    return [d.rule() for d in DEVIATIONS if d.scenario == scenario and d.step == step]


__all__ = ["ABSENT", "DEVIATIONS", "Deviation", "deviation_rules"]
