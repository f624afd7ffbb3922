"""The 250 real-world files of ``../shared/dicom-samples``, uploaded to orthanc_py, answered as Orthanc does.

Why: pydicom and DCMTK read odd files differently (character sets, files without meta header,
broken lengths, deep sequences), and users migrate whole archives of such files. What the real
Orthanc 1.12 answered to each file is recorded in ``fixtures/samples/reference.json`` by
``python -m compat_tests.record_samples``; each sample is uploaded here to a fresh in-process
orthanc_py and held to that record:

* accepted by Orthanc → accepted, with the same public IDs and ``Status`` (``test_upload``), the same
  main DICOM tags at the four levels (``test_main_tags``), and the same ``/instances/{id}/tags``:
  for each tag (by number, nested in sequences) the same type and value (``test_tag_values``) and
  the same name (``test_tag_names``; names come from dictionaries, values from parsing and decoding,
  two different causes of difference);
* refused by Orthanc (4xx) → refused with a 4xx and an Orthanc-style JSON error (``test_upload``),
  with Orthanc's very HTTP status and error code (``test_error_code``);
* crashes Orthanc → answered 200 or 400 (``test_upload``);
* whatever the file: no answer is ever a 500, and ``/system`` still answers 200 afterwards.

Known differences are listed per file and per aspect in the ``XFAIL_*`` tables below, one line of
reason each, strict: when the server is fixed, the XPASS fails and the line must go.

The module is skipped when ``../shared/dicom-samples`` (beside the repository) is absent.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLES_DIR = REPO_ROOT.parent / "shared" / "dicom-samples"
REFERENCE_PATH = REPO_ROOT / "fixtures" / "samples" / "reference.json"
TAGS_PATH = REPO_ROOT / "fixtures" / "samples" / "reference-tags.json.gz"

if not SAMPLES_DIR.is_dir():
    pytest.skip(f"no DICOM samples: {SAMPLES_DIR} is absent", allow_module_level=True)
if not REFERENCE_PATH.is_file() or not TAGS_PATH.is_file():
    pytest.skip(
        f"no reference: {REFERENCE_PATH.parent} is incomplete (python -m compat_tests.record_samples)",
        allow_module_level=True,
    )

REFERENCE: dict[str, dict[str, Any]] = json.loads(REFERENCE_PATH.read_text(encoding="utf-8"))["samples"]
with gzip.open(TAGS_PATH, "rt", encoding="utf-8") as _file:
    REFERENCE_TAGS: dict[str, dict[str, Any]] = json.load(_file)["tags"]
ANSWER_KEYS = ("ID", "ParentPatient", "ParentStudy", "ParentSeries", "Status")
ERROR_KEYS = {"HttpError", "HttpStatus", "Message", "Method", "OrthancError", "OrthancStatus", "Uri"}

# --- known differences
#
# One entry per sample and aspect: path → why (the causes below, joined). Remove an entry once its
# cause is fixed: the xfails are strict, so a fixed sample fails as XPASS until its line goes.
# Regenerating the lists by hand: run the module, read each failure, name its cause.

# Character sets
YEN_SEPARATOR = "ISO_IR 13: Orthanc decodes the 0x5C value separator as ¥, orthanc_py keeps a backslash"
JIS_X_0208 = "ISO 2022 IR 87: Orthanc leaves JIS X 0208 bytes undecoded, orthanc_py decodes them"
PN_EMPTY_GROUP = "PN: Orthanc keeps a trailing empty component group (final '='), pydicom drops it"
# Values
META_REPEATED = "a file-meta element repeated after the meta group (0002,0003) is dropped from /tags"
GROUP_LENGTH_0008 = "Orthanc leaves out this file's (0008,0000) group length, orthanc_py lists it"
DEFLATE_PIXEL_DATA = "deflated transfer syntax: (7fe0,0010) PixelData is missing from /tags"
# Names
PRIVATE_DICTIONARY = (
    "private tag names from pydicom's private dictionary, not DCMTK's"
    " (spelling, coverage, DCMTK entries named 'Unknown')"
)


def because(*causes: str) -> str:
    return "; ".join(causes)


XFAIL_UPLOAD: dict[str, str] = {}
XFAIL_ERROR_CODE: dict[str, str] = {}
XFAIL_MAIN_TAGS: dict[str, str] = {
    "Encodings/ISO_IR13.dcm": because(YEN_SEPARATOR),
    "Encodings/DavidClunie/SCSH32": because(JIS_X_0208),
    "Encodings/DavidClunie/SCSX2": because(PN_EMPTY_GROUP),
}
XFAIL_TAG_VALUES: dict[str, str] = {
    "PilatesArgenturGEUltrasoundOsiriX.dcm": because(META_REPEATED),
    "Encodings/ISO_IR13.dcm": because(YEN_SEPARATOR),
    "Encodings/DavidClunie/SCSH32": because(JIS_X_0208, YEN_SEPARATOR),
    "Encodings/DavidClunie/SCSX2": because(PN_EMPTY_GROUP),
    "TransferSyntaxes/1.2.840.10008.1.2.1.99.dcm": because(DEFLATE_PIXEL_DATA),
    "TransferSyntaxes/1.2.840.10008.1.2.4.50.dcm": because(GROUP_LENGTH_0008),
}
XFAIL_TAG_NAMES: dict[str, str] = {
    "2019-06-17-VedranZdesic.dcm": because(PRIVATE_DICTIONARY),
    "2020-08-12-Christopher.dcm": because(PRIVATE_DICTIONARY),
    "2020-09-11-Christopher-ELSCINT1-Raw.dcm": because(PRIVATE_DICTIONARY),
    "2020-09-12-ELSCINT1-PMSCT_RLE1.dcm": because(PRIVATE_DICTIONARY),
    "Issue124.dcm": because(PRIVATE_DICTIONARY),
    "Issue19.dcm": because(PRIVATE_DICTIONARY),
    "Issue22-NoPixelData.dcm": because(PRIVATE_DICTIONARY),
    "Issue56-NoPixelData.dcm": because(PRIVATE_DICTIONARY),
    "PrivateMDNTags.dcm": because(PRIVATE_DICTIONARY),
    "TransferSyntaxes/1.2.840.10008.1.2.4.50.dcm": because(PRIVATE_DICTIONARY),
    "TransferSyntaxes/1.2.840.10008.1.2.4.80.dcm": because(PRIVATE_DICTIONARY),
    "TransferSyntaxes/1.2.840.10008.1.2.4.90.dcm": because(PRIVATE_DICTIONARY),
    "TransferSyntaxes/1.2.840.10008.1.2.4.91.dcm": because(PRIVATE_DICTIONARY),
    "TransferSyntaxes/1.2.840.10008.1.2.5.dcm": because(PRIVATE_DICTIONARY),
}


# --- what orthanc_py answers


@dataclass
class Observation:
    """orthanc_py's answers about one sample, gathered once and shared by the tests of that sample."""

    status: int
    body: Any
    main_tags: dict[str, Any] | None = None
    tags: dict[str, Any] | None = None
    server_errors: list[str] = field(default_factory=list)  # every 5xx seen, as "GET /x → 500 …"
    system_status_after: int | None = None


_OBSERVED: dict[str, Observation] = {}


def observe(relative: str) -> Observation:
    """Upload the sample to a fresh orthanc_py (empty storage), read back what it shows, stop it."""
    if relative not in _OBSERVED:
        with tempfile.TemporaryDirectory(prefix="orthanc-py-samples-") as tmp:
            _OBSERVED[relative] = _observe_in(Path(tmp), (SAMPLES_DIR / relative).read_bytes())
    return _OBSERVED[relative]


def _observe_in(tmp: Path, data: bytes) -> Observation:
    from starlette.testclient import TestClient

    from orthanc_py.app import create_app
    from orthanc_py.config import settings_from_json

    settings = settings_from_json(
        {
            "Name": "OrthancSamples",
            "StorageDirectory": str(tmp / "storage"),
            "IndexDirectory": str(tmp / "index"),
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
        }
    )
    app = create_app(settings)
    server_errors: list[str] = []
    with TestClient(
        app, base_url="http://127.0.0.1", client=("127.0.0.1", 50000), raise_server_exceptions=False
    ) as client:

        def call(method: str, path: str, **kwargs: Any) -> Any:
            response = client.request(method, path, **kwargs)
            if response.status_code >= 500:
                server_errors.append(f"{method} {path} → {response.status_code} {response.text[:300]}")
            return response

        def get_json(path: str) -> Any:
            response = call("GET", path)
            assert response.status_code == 200, f"GET {path} → {response.status_code} {response.text[:300]}"
            return response.json()

        response = call("POST", "/instances", content=data, headers={"Content-Type": "application/dicom"})
        try:
            body = response.json()
        except ValueError:
            body = {"<not JSON>": response.text[:300]}
        observation = Observation(response.status_code, body, server_errors=server_errors)
        if response.status_code == 200 and isinstance(body, dict) and "ID" in body:
            instance = get_json(f"/instances/{body['ID']}")
            series = get_json(f"/series/{instance['ParentSeries']}")
            study = get_json(f"/studies/{series['ParentStudy']}")
            patient = get_json(f"/patients/{study['ParentPatient']}")
            observation.main_tags = {
                "Instance": instance["MainDicomTags"],
                "Series": series["MainDicomTags"],
                "Study": study["MainDicomTags"],
                "PatientOfStudy": study["PatientMainDicomTags"],
                "Patient": patient["MainDicomTags"],
            }
            observation.tags = get_json(f"/instances/{body['ID']}/tags")
        observation.system_status_after = call("GET", "/system").status_code
    return observation


# --- comparing


def differences(expected: Any, actual: Any, path: str = "$") -> list[str]:
    """Every place where two JSON values differ, as ``path: expected … got …`` lines."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        found: list[str] = []
        for key in sorted(set(expected) | set(actual)):
            if key not in actual:
                found.append(f"{path}.{key}: missing (Orthanc: {_short(expected[key])})")
            elif key not in expected:
                found.append(f"{path}.{key}: extra ({_short(actual[key])})")
            else:
                found.extend(differences(expected[key], actual[key], f"{path}.{key}"))
        return found
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        found = []
        for index, (a, b) in enumerate(zip(expected, actual, strict=True)):
            found.extend(differences(a, b, f"{path}[{index}]"))
        return found
    if expected == actual and type(expected) is type(actual):
        return []
    return [f"{path}: Orthanc {_short(expected)}, orthanc_py {_short(actual)}"]


def _short(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + "…"


def fail_with(title: str, found: list[str], limit: int = 25) -> None:
    lines = found[:limit] + ([f"… and {len(found) - limit} more"] if len(found) > limit else [])
    pytest.fail(title + "\n  " + "\n  ".join(lines), pytrace=False)


def check_server_health(observation: Observation) -> None:
    if observation.server_errors:
        fail_with("orthanc_py answered a 5xx", observation.server_errors)
    status = observation.system_status_after
    assert status == 200, f"GET /system answered {status} after the upload"


# --- the parameters


def _params(paths: list[str], xfail: dict[str, str]) -> list[Any]:
    unknown = sorted(set(xfail) - set(paths))
    assert not unknown, f"xfail entries for samples that are not tested here: {unknown}"
    return [
        pytest.param(path, id=path, marks=pytest.mark.xfail(reason=xfail[path], strict=True))
        if path in xfail
        else pytest.param(path, id=path)
        for path in paths
    ]


ALL = list(REFERENCE)
ACCEPTED = [path for path, record in REFERENCE.items() if record.get("status") == 200]
REFUSED = [path for path, record in REFERENCE.items() if 400 <= record.get("status", 0) < 500]


def test_reference_matches_samples() -> None:
    """The record was made from these very files: a changed or new sample needs a new recording."""
    lines = (SAMPLES_DIR / "INDEX.tsv").read_text(encoding="utf-8").splitlines()[1:]
    listed = [line.split("\t", 1)[0] for line in lines if line]
    assert sorted(listed) == sorted(REFERENCE), "INDEX.tsv and reference.json list different samples"
    digests = {p: hashlib.sha1((SAMPLES_DIR / p).read_bytes()).hexdigest() for p in listed}
    stale = [p for p in listed if digests[p] != REFERENCE[p]["sha1"]]
    assert not stale, f"samples changed since the recording (python -m compat_tests.record_samples): {stale}"


@pytest.mark.parametrize("relative", _params(ALL, XFAIL_UPLOAD))
def test_upload(relative: str) -> None:
    """Accepted/refused as Orthanc decided, same IDs; never a 5xx; the server keeps answering."""
    record = REFERENCE[relative]
    observation = observe(relative)
    check_server_health(observation)
    body = observation.body
    if record.get("crashes"):
        # Orthanc dies on it: anything sane will do, as long as we neither crash nor fail with a 500.
        assert observation.status in (200, 400), f"answered {observation.status}: {_short(body)}"
        return
    if record["status"] == 200:
        assert observation.status == 200, f"refused ({observation.status}): {_short(body, 400)}"
        assert isinstance(body, dict), f"answered {_short(body)}"
        found = differences(record["answer"], {key: body.get(key) for key in ANSWER_KEYS})
        if found:
            fail_with("the answer to POST /instances differs", found)
        return
    assert 400 <= observation.status < 500, f"answered {observation.status} (Orthanc: {record['status']})"
    assert isinstance(body, dict), f"the error body is not a JSON object: {_short(body)}"
    missing = ERROR_KEYS - set(body)
    assert not missing, f"the error body lacks {sorted(missing)}: {_short(body, 400)}"
    assert body["HttpStatus"] == observation.status, f"HttpStatus {body['HttpStatus']} ≠ {observation.status}"
    assert body["Method"] == "POST" and body["Uri"] == "/instances", _short(body, 400)


@pytest.mark.parametrize("relative", _params(REFUSED, XFAIL_ERROR_CODE))
def test_error_code(relative: str) -> None:
    """A refused file gets Orthanc's HTTP status and error code (clients switch on OrthancStatus)."""
    expected = REFERENCE[relative]["error"]
    observation = observe(relative)
    body = observation.body if isinstance(observation.body, dict) else {}
    actual = {
        "status": observation.status,
        "OrthancStatus": body.get("OrthancStatus"),
        "OrthancError": body.get("OrthancError"),
    }
    wanted = {
        "status": REFERENCE[relative]["status"],
        "OrthancStatus": expected["OrthancStatus"],
        "OrthancError": expected["OrthancError"],
    }
    found = differences(wanted, actual)
    if found:
        fail_with(f"refused differently (Orthanc's details: {expected.get('Details')!r})", found)


@pytest.mark.parametrize("relative", _params(ACCEPTED, XFAIL_MAIN_TAGS))
def test_main_tags(relative: str) -> None:
    """The main DICOM tags of the instance, series, study (and its patient copy) and patient."""
    observation = observe(relative)
    assert observation.main_tags is not None, f"not stored (answered {observation.status})"
    found = differences(REFERENCE[relative]["main_tags"], observation.main_tags)
    if found:
        fail_with("the main DICOM tags differ", found)


def flatten_tags(tags: dict[str, Any], prefix: str = "") -> dict[str, dict[str, Any]]:
    """``/tags`` JSON → {tag path: {Name, Type, Value}}, sequences unrolled (``0040,0275[0].0040,0009``).

    A sequence keeps its own entry with its number of items as Value, so a missing item shows.
    """
    flat: dict[str, dict[str, Any]] = {}
    for tag, element in tags.items():
        path = f"{prefix}{tag}"
        value = element.get("Value")
        if element.get("Type") == "Sequence" and isinstance(value, list):
            flat[path] = {"Name": element.get("Name"), "Type": "Sequence", "Value": f"{len(value)} item(s)"}
            for index, item in enumerate(value):
                flat.update(flatten_tags(item, f"{path}[{index}]."))
        else:
            flat[path] = {"Name": element.get("Name"), "Type": element.get("Type"), "Value": value}
    return flat


def tag_differences(
    relative: str, observation: Observation, fields: tuple[str, ...], presence: bool
) -> list[str]:
    """Differences in ``fields`` of the tags present in both; with ``presence``, missing/extra tags too."""
    assert observation.tags is not None, f"not stored (answered {observation.status})"
    expected = flatten_tags(REFERENCE_TAGS[relative])
    actual = flatten_tags(observation.tags)
    found: list[str] = []
    for path in sorted(set(expected) | set(actual)):
        if path not in actual or path not in expected:
            if presence and path not in actual:
                found.append(f"{path} {expected[path]['Name']}: missing (Orthanc: {_short(expected[path])})")
            elif presence:
                found.append(f"{path} {actual[path]['Name']}: extra ({_short(actual[path])})")
            continue
        wanted = {key: expected[path][key] for key in fields}
        got = {key: actual[path][key] for key in fields}
        if wanted != got:
            name = expected[path]["Name"]
            found.append(f"{path} {name}: Orthanc {_short(wanted)}, orthanc_py {_short(got)}")
    return found


@pytest.mark.parametrize("relative", _params(ACCEPTED, XFAIL_TAG_VALUES))
def test_tag_values(relative: str) -> None:
    """Every tag of ``/instances/{id}/tags``, by number: present in both, same Type and Value."""
    found = tag_differences(relative, observe(relative), ("Type", "Value"), presence=True)
    if found:
        fail_with("tags differ in presence, type or value", found)


@pytest.mark.parametrize("relative", _params(ACCEPTED, XFAIL_TAG_NAMES))
def test_tag_names(relative: str) -> None:
    """The Name of every tag present in both (dictionary names: public, retired, private, unknown)."""
    found = tag_differences(relative, observe(relative), ("Name",), presence=False)
    if found:
        fail_with("tag names differ", found)
