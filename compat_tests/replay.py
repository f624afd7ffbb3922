"""Replaying a recorded scenario against a server and collecting the differences.

The server is reached through an httpx-like client (``request(method, url, content=, headers=)``):
starlette's TestClient for orthanc_py in process, or a plain ``httpx.Client`` for a running server
(used to check the recordings against a second run of the real Orthanc).
"""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .compare import Difference, RuleSet, compare_response
from .deviations import deviation_rules
from .dicom_peer import dicom_peer_for
from .model import Rule, load_fixture, request_body_from_json, resolve_path, runtime_config, send_step


def step_rules(fixture: dict[str, Any], step: dict[str, Any], index: int | None = None) -> RuleSet:
    # Deliberate differences of orthanc_py come first, so they win over the recorded rules.
    rules = deviation_rules(fixture["name"], index) if index is not None else []
    rules += [Rule.from_json(r) for r in fixture.get("rules", [])]
    rules += [Rule.from_json(r) for r in step.get("rules", [])]
    return RuleSet(rules)


def replay_fixture(fixture: dict[str, Any], client: Any, *, orthanc_py: bool = True) -> list[Difference]:
    """Send every recorded request in order; compare the answers of the compared steps.

    ``orthanc_py`` applies the deliberate deviations of orthanc_py (``deviations.py``); replaying
    against the real Orthanc does without them."""
    differences: list[Difference] = []
    answers: list[bytes] = []
    for index, step in enumerate(fixture["steps"]):
        request = step["request"]
        label = f"{request['method']} {request['path']}"
        content = request_body_from_json(request.get("body"))
        try:
            response = send_step(
                client,
                request["method"],
                resolve_path(request["path"], answers),
                content if request.get("body") is not None else None,
                request.get("headers") or None,
                request.get("wait_job", False),
            )
            answers.append(response.content)
        except Exception as exc:  # an exception of the server under test is a difference, not a crash
            answers.append(b"{}")
            tail = traceback.format_exception(exc)[-3:]
            differences.append(
                Difference(index, label, "request", "<a response>", "".join(tail).strip(), "exception")
            )
            continue
        if not step.get("compare", True):
            continue
        differences.extend(
            compare_response(
                index,
                step,
                response.status_code,
                response.headers,
                response.content,
                step_rules(fixture, step, index if orthanc_py else None),
            )
        )
    return differences


@contextlib.contextmanager
def orthanc_py_client(fixture: dict[str, Any], tmp: Path) -> Iterator[Any]:
    """orthanc_py in process, configured like the recorded Orthanc, seen from loopback (with the
    DICOM peer when the configuration names it)."""
    from starlette.testclient import TestClient

    from orthanc_py.app import create_app
    from orthanc_py.config import settings_from_json

    with dicom_peer_for(fixture["config"]) as ports:
        # With the DICOM peer, orthanc_py's DICOM server runs too: the peer's C-MOVEs send to it.
        settings = settings_from_json(runtime_config(fixture["config"], tmp, ports))
        app = create_app(settings, dicom_server=ports is not None)
        with TestClient(
            app, base_url="http://127.0.0.1", client=("127.0.0.1", 50000), follow_redirects=False
        ) as client:
            yield client


def replay_against_orthanc_py(path: Path, tmp: Path) -> list[Difference]:
    fixture = load_fixture(path)
    with orthanc_py_client(fixture, tmp) as client:
        return replay_fixture(fixture, client)


def format_differences(name: str, differences: list[Difference], limit: int = 40) -> str:
    lines = [f"{name}: {len(differences)} difference(s)"]
    for diff in differences[:limit]:
        lines.append(f"  {diff}")
    if len(differences) > limit:
        lines.append(f"  ... and {len(differences) - limit} more")
    return "\n".join(lines)
