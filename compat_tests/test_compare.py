"""The replay harness checked against the recordings themselves.

Replaying a recording against a fake server that answers with the recorded responses must find no
difference; changing a non-volatile field must be reported with its path; changing a volatile field
within its declared shape must not.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from . import dicom_factory
from .compare import RuleSet, _match, diff_json, parse_path
from .model import Rule, fixture_paths, load_fixture, request_body_from_json, resolve_path, shape, unordered
from .replay import replay_fixture

FIXTURES = fixture_paths()


def recorded_bytes(body: dict[str, Any]) -> bytes | None:
    """The bytes of a recorded response body, when the recording holds them."""
    kind = body["kind"]
    if kind == "empty":
        return b""
    if kind == "json":
        return json.dumps(body["json"], ensure_ascii=False).encode("utf-8")
    if "text" in body:
        return body["text"].encode("utf-8")
    if "base64" in body:
        return base64.b64decode(body["base64"])
    return None


class FakeResponse:
    def __init__(self, status: int, headers: dict[str, str], content: bytes) -> None:
        self.status_code = status
        self.headers = httpx.Headers(headers)
        self.content = content


class RecordedServer:
    """Answers each request with the recorded response, optionally altered by ``mutate``."""

    def __init__(
        self, fixture: dict[str, Any], mutate: Callable[[int, dict[str, Any]], dict[str, Any]] | None = None
    ) -> None:
        self.steps = fixture["steps"]
        self.index = 0
        self.mutate = mutate
        self.opaque_steps: set[int] = set()
        self.answers: list[bytes] = []
        self.polled = False

    def request(
        self, method: str, url: str, content: bytes | None = None, headers: dict[str, str] | None = None
    ) -> FakeResponse:
        step = self.steps[self.index]
        path = resolve_path(step["request"]["path"], self.answers)
        assert (method, url) == (step["request"]["method"], path)
        assert (headers or {}) == step["request"].get("headers", {})
        response = copy.deepcopy(step["response"])
        if self.mutate is not None:
            response = self.mutate(self.index, response)
        data = recorded_bytes(response["body"])
        if data is None:
            self.opaque_steps.add(self.index)
            data = b"<not stored in the recording>"
        if step["request"].get("wait_job") and not self.polled:
            self.polled = True  # the poll for the end of the job, then the step itself
        else:
            self.polled = False
            self.index += 1
            self.answers.append(data)
        return FakeResponse(response["status"], response["headers"], data)


# --------------------------------------------------------------------------- every recording


@pytest.mark.parametrize("fixture_path", FIXTURES, ids=[path.stem for path in FIXTURES])
def test_recording_matches_itself(fixture_path):
    fixture = load_fixture(fixture_path)
    server = RecordedServer(fixture)
    differences = replay_fixture(fixture, server, orthanc_py=False)
    assert server.index == len(fixture["steps"])
    unexpected = [d for d in differences if not (d.step in server.opaque_steps and d.where == "body")]
    assert unexpected == []


def test_fixture_dicom_files_are_up_to_date():
    assert dicom_factory.check_all() == []


def test_dicom_factory_is_deterministic():
    for spec in dicom_factory.ALL_SPECS.values():
        assert dicom_factory.encode(spec) == dicom_factory.encode(spec)


def test_public_ids_match_the_recorded_upload():
    fixture = load_fixture(fixture_paths(["upload-single"])[0])
    answer = fixture["steps"][0]["response"]["body"]["json"]
    ids = dicom_factory.ids_of("p1-st1-se1-i1")
    assert answer["ID"] == ids["instance"]
    assert answer["ParentSeries"] == ids["series"]
    assert answer["ParentStudy"] == ids["study"]
    assert answer["ParentPatient"] == ids["patient"]


def test_changed_request_body_is_refused():
    body = {"kind": "file", "file": "fixtures/dicom/p1-st1-se1-i1.dcm", "sha1": "0" * 40, "length": 1}
    with pytest.raises(RuntimeError):
        request_body_from_json(body)


# --------------------------------------------------------------------------- mutations


def _study_get() -> dict[str, Any]:
    return load_fixture(fixture_paths(["study-get"])[0])


def _last_step_index(fixture: dict[str, Any], path_suffix: str) -> int:
    return max(i for i, s in enumerate(fixture["steps"]) if s["request"]["path"].endswith(path_suffix))


def _replay_with(fixture: dict[str, Any], step: int, change: Callable[[dict[str, Any]], None]):
    def mutate(index: int, response: dict[str, Any]) -> dict[str, Any]:
        if index == step:
            change(response)
        return response

    return replay_fixture(fixture, RecordedServer(fixture, mutate), orthanc_py=False)


def test_changed_main_tag_is_reported():
    fixture = _study_get()
    step = 10  # GET /studies/{id}

    def change(response):
        response["body"]["json"]["MainDicomTags"]["StudyDescription"] = "CT CHESTS"

    differences = _replay_with(fixture, step, change)
    assert [(d.step, d.where, d.expected, d.got) for d in differences] == [
        (step, "$.MainDicomTags.StudyDescription", "CT CHEST", "CT CHESTS")
    ]
    assert 'expected "CT CHEST", got "CT CHESTS"' in str(differences[0])


def test_volatile_field_within_its_shape_is_ignored():
    fixture = _study_get()

    def change(response):
        response["body"]["json"]["LastUpdate"] = "19990101T000000"

    assert _replay_with(fixture, 10, change) == []


def test_volatile_field_out_of_shape_is_reported():
    fixture = _study_get()

    def change(response):
        response["body"]["json"]["LastUpdate"] = "yesterday"

    differences = _replay_with(fixture, 10, change)
    assert [d.where for d in differences] == ["$.LastUpdate"]


def test_missing_volatile_field_is_reported():
    fixture = _study_get()

    def change(response):
        del response["body"]["json"]["LastUpdate"]

    differences = _replay_with(fixture, 10, change)
    assert [(d.where, d.reason) for d in differences] == [("$.LastUpdate", "missing key")]


def test_extra_field_and_type_change_are_reported():
    fixture = _study_get()

    def change(response):
        response["body"]["json"]["Extra"] = 1
        response["body"]["json"]["IsStable"] = 0

    differences = _replay_with(fixture, 10, change)
    assert sorted(d.where for d in differences) == ["$.Extra", "$.IsStable"]


def test_list_order_is_compared():
    fixture = load_fixture(fixture_paths(["list-patients"])[0])
    step = _last_step_index(fixture, "/patients")

    def change(response):
        response["body"]["json"].reverse()

    differences = _replay_with(fixture, step, change)
    assert {d.where for d in differences} == {"$[0]", "$[2]"}


def test_status_and_headers_are_compared():
    fixture = load_fixture(fixture_paths(["errors-wrong-method"])[0])

    def change(response):
        response["status"] = 404
        response["headers"]["allow"] = "GET,POST"

    differences = _replay_with(fixture, 1, change)
    assert sorted(d.where for d in differences) == ["header Allow", "status"]


def test_allow_order_and_content_type_parameters_do_not_matter():
    fixture = load_fixture(fixture_paths(["errors-wrong-method"])[0])
    step = next(
        i for i, s in enumerate(fixture["steps"]) if s["response"]["headers"].get("allow") == "GET,DELETE"
    )

    def change(response):
        response["headers"]["allow"] = "DELETE, GET"

    assert _replay_with(fixture, step, change) == []

    study = _study_get()

    def charset(response):
        response["headers"]["content-type"] = "application/json"

    assert _replay_with(study, 10, charset) == []

    def other_type(response):
        response["headers"]["content-type"] = "text/plain"

    assert [d.where for d in _replay_with(study, 10, other_type)] == ["header Content-Type"]


def test_text_body_shape_rule():
    fixture = load_fixture(fixture_paths(["tools-now"])[0])

    def later(response):
        response["body"] = {"kind": "bytes", "text": "20301231T235959"}

    assert _replay_with(fixture, 0, later) == []

    def wrong(response):
        response["body"] = {"kind": "bytes", "text": "2030-12-31 23:59:59"}

    assert [d.where for d in _replay_with(fixture, 0, wrong)] == ["$"]


def test_raw_body_change_is_reported():
    fixture = load_fixture(fixture_paths(["instance-file"])[0])
    step = 10

    def change(response):
        data = bytearray(base64.b64decode(response["body"]["base64"]))
        data[-1] ^= 0xFF
        response["body"] = {"kind": "bytes", "base64": base64.b64encode(bytes(data)).decode()}

    assert [d.where for d in _replay_with(fixture, step, change)] == ["body"]


# --------------------------------------------------------------------------- rule paths


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("LastUpdate", ("LastUpdate",), True),
        ("$.LastUpdate", ("LastUpdate",), True),
        ("LastUpdate", ("MainDicomTags", "LastUpdate"), False),
        ("Changes[*].Date", ("Changes", 4, "Date"), True),
        ("Changes[*].Date", ("Changes", "4", "Date"), False),
        ("[*].MainDicomTags.InstanceCreationTime", (2, "MainDicomTags", "InstanceCreationTime"), True),
        ("[1].ID", (1, "ID"), True),
        ("[1].ID", (2, "ID"), False),
        ("*.Uuid", ("dicom", "Uuid"), True),
        ("**.LastUpdate", (0, "x", "LastUpdate"), True),
        ("**.LastUpdate", ("LastUpdate",), True),
        ("$", (), True),
        ("$", ("a",), False),
    ],
)
def test_rule_paths(pattern, path, expected):
    assert _match(parse_path(pattern), path) is expected


def test_unordered_rule():
    rules = RuleSet([unordered("Items")])
    assert diff_json({"Items": [1, 2, 3]}, {"Items": [3, 1, 2]}, rules) == []
    assert diff_json({"Items": [1, 2, 3]}, {"Items": [3, 1, 1]}, rules) != []
    assert diff_json({"Other": [1, 2]}, {"Other": [2, 1]}, rules) != []


def test_shape_rule_on_numbers_and_bools():
    rules = RuleSet([shape("Size", r"\d+"), Rule("Flag")])
    assert diff_json({"Size": 10, "Flag": True}, {"Size": 12, "Flag": False}, rules) == []
    assert diff_json({"Size": 10, "Flag": True}, {"Size": "a", "Flag": False}, rules) != []


def test_bool_is_not_a_number():
    assert diff_json({"A": True}, {"A": 1}, RuleSet([])) != []
    assert diff_json([1], [1.0], RuleSet([])) == []


def test_header_shape_rule():
    fixture = load_fixture(fixture_paths(["instance-attachments"])[0])
    step = _last_step_index(fixture, "/attachments/dicom/data")

    def other_uuid(response):
        response["headers"]["content-disposition"] = 'filename="00000000-0000-4000-8000-000000000000"'

    assert _replay_with(fixture, step, other_uuid) == []

    def not_a_uuid(response):
        response["headers"]["content-disposition"] = 'filename="dicom.dcm"'

    assert [d.where for d in _replay_with(fixture, step, not_a_uuid)] == ["header content-disposition"]

    def missing(response):
        del response["headers"]["content-disposition"]

    assert [d.where for d in _replay_with(fixture, step, missing)] == ["header content-disposition"]
