"""Record the scenarios against the real Orthanc 1.12.

    python -m compat_tests.recorder                 # every scenario
    python -m compat_tests.recorder --only NAME ... # some of them
    python -m compat_tests.recorder --list
    python -m compat_tests.recorder --force         # rewrite even unchanged recordings

Each scenario gets a fresh Orthanc (new configuration, empty storage and index under /tmp), started
with ``../shared/tools/orthanc-1.12 CONFIG`` from the repository root and killed afterwards. The
answers are written to ``fixtures/compat/<name>.json``; a stored recording whose new answers differ
only in the scenario's volatile values is left untouched. Every recording is checked against its own
rules, and a rule that matches nothing is reported, so that rules stay precise.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from .compare import RuleSet, compare_response
from .dicom_peer import dicom_peer_for
from .model import (
    COMPAT_DIR,
    FORMAT_VERSION,
    REPO_ROOT,
    Rule,
    Scenario,
    encode_response_body,
    load_fixture,
    resolve_path,
    response_headers,
    runtime_config,
    send_step,
)

ORTHANC_TOOL = REPO_ROOT.parent / "shared" / "tools" / "orthanc-1.12"
STARTUP_TIMEOUT = 30.0


class OrthancStartError(RuntimeError):
    pass


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _wait_port_free(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not _port_is_free(port):
        if time.monotonic() > deadline:
            raise OrthancStartError(f"port {port} is in use")
        time.sleep(0.05)


@contextlib.contextmanager
def real_orthanc(config: dict[str, Any]) -> Iterator[httpx.Client]:
    """A fresh real Orthanc with this configuration (storage placeholders resolved under /tmp), and
    the DICOM peer when the configuration names it."""
    peer_stack = contextlib.ExitStack()
    tmp = Path(tempfile.mkdtemp(prefix="orthanc-compat-", dir="/tmp"))
    try:
        ports = peer_stack.enter_context(dicom_peer_for(config))
        runtime = runtime_config(config, tmp, ports)
        config_path = tmp / "orthanc.json"
        config_path.write_text(json.dumps(runtime, indent=2), encoding="utf-8")
        for key in ("HttpPort", "DicomPort"):
            _wait_port_free(int(runtime[key]))
        log_path = tmp / "orthanc.log"
        process = launch_orthanc(config_path, log_path)
        try:
            base_url = f"http://127.0.0.1:{runtime['HttpPort']}"
            wait_ready(process, base_url, log_path)
            with httpx.Client(base_url=base_url, follow_redirects=False, timeout=60.0) as client:
                yield client
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    finally:
        peer_stack.close()
        shutil.rmtree(tmp, ignore_errors=True)


def launch_orthanc(config_path: Path, log_path: Path) -> subprocess.Popen[bytes]:
    """Start the real Orthanc 1.12 in its own process group, its output going to ``log_path``."""
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            [str(ORTHANC_TOOL), str(config_path)],
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def wait_ready(
    process: subprocess.Popen[bytes], base_url: str, log_path: Path, timeout: float = STARTUP_TIMEOUT
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise OrthancStartError(f"Orthanc exited with {process.returncode}:\n{tail}")
        try:
            httpx.get(f"{base_url}/system", timeout=1.0)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise OrthancStartError("Orthanc did not answer in time") from None
            time.sleep(0.03)


def _orthanc_version(client: httpx.Client, config: dict[str, Any]) -> str | None:
    """The version string of the running Orthanc (GET /system changes nothing on the server)."""
    auth = None
    users = config.get("RegisteredUsers") or {}
    if users:
        auth = next(iter(users.items()))
    response = client.get("/system", auth=auth)
    if response.status_code != 200:
        return None
    return str(response.json().get("Version"))


def record_scenario(scenario: Scenario, keep_equivalent: bool = True) -> tuple[dict[str, Any], list[str]]:
    """Run one scenario against a fresh Orthanc; the fixture and the warnings about its rules.

    With ``keep_equivalent``, the stored fixture is returned instead when the new answers only differ
    from it in the values that the scenario declares volatile."""
    config = scenario.full_config()
    steps_out: list[dict[str, Any]] = []
    warnings: list[str] = []
    used: set[Rule] = set()
    answers: list[tuple[int, httpx.Headers, bytes]] = []
    with real_orthanc(config) as client:
        version = _orthanc_version(client, config)
        for index, step in enumerate(scenario.steps):
            content = step.body.encode() if step.body is not None else None
            path = resolve_path(step.path, [answer[2] for answer in answers])
            response = send_step(client, step.method, path, content, step.headers or None, step.wait_job)
            request: dict[str, Any] = {"method": step.method, "path": step.path}
            if step.wait_job:
                request["wait_job"] = True
            if step.headers:
                request["headers"] = dict(step.headers)
            if step.body is not None:
                request["body"] = step.body.to_json()
            recorded: dict[str, Any] = {"request": request}
            if step.note:
                recorded["note"] = step.note
            if not step.compare:
                recorded["compare"] = False
            if step.rules:
                recorded["rules"] = [rule.to_json() for rule in step.rules]
            recorded["response"] = {
                "status": response.status_code,
                "headers": response_headers(response.headers),
                "body": encode_response_body(response.headers.get("content-type"), response.content),
            }
            steps_out.append(recorded)
            answers.append((response.status_code, response.headers, response.content))
            if step.compare:
                # The recording must agree with itself under its own rules (shape rules included).
                rules = RuleSet(list(scenario.rules) + list(step.rules))
                for diff in compare_response(
                    index, recorded, response.status_code, response.headers, response.content, rules
                ):
                    warnings.append(f"recorded value breaks its own rule: {diff}")
                used |= rules.used
    for rule in list(scenario.rules) + [r for s in scenario.steps for r in s.rules]:
        if rule not in used:
            warnings.append(f"rule matched nothing: {rule.kind} {rule.path}")
    fixture = {
        "format": FORMAT_VERSION,
        "name": scenario.name,
        "description": scenario.description,
        "recorded_with": f"Orthanc {version}" if version else "Orthanc 1.12",
        "config": config,
        "rules": [rule.to_json() for rule in scenario.rules],
        "steps": steps_out,
    }
    existing = COMPAT_DIR / f"{scenario.name}.json"
    if keep_equivalent and existing.exists():
        previous = json.loads(existing.read_text(encoding="utf-8"))
        if _same_recording(previous, fixture, answers):
            return previous, warnings
    return fixture, warnings


def _without_responses(fixture: dict[str, Any]) -> dict[str, Any]:
    steps = [{key: value for key, value in step.items() if key != "response"} for step in fixture["steps"]]
    return {**fixture, "steps": steps}


def _same_recording(
    previous: dict[str, Any], fixture: dict[str, Any], answers: list[tuple[int, httpx.Headers, bytes]]
) -> bool:
    """Whether a new recording only differs from the stored one in its declared volatile values,
    in which case the stored file is kept as it is (no churn in fixtures/compat)."""
    if _without_responses(previous) != _without_responses(fixture):
        return False
    for index, (step, (status, headers, content)) in enumerate(zip(previous["steps"], answers, strict=True)):
        if not step.get("compare", True):
            if step["response"] != fixture["steps"][index]["response"]:
                return False
            continue
        rules = RuleSet([Rule.from_json(r) for r in previous["rules"] + step.get("rules", [])])
        if compare_response(index, step, status, headers, content, rules):
            return False
    return True


def write_fixture(fixture: dict[str, Any]) -> Path:
    COMPAT_DIR.mkdir(parents=True, exist_ok=True)
    path = COMPAT_DIR / f"{fixture['name']}.json"
    path.write_text(json.dumps(fixture, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    from .scenarios import SCENARIOS

    parser = argparse.ArgumentParser(description="Record compatibility scenarios against the real Orthanc")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="record only these scenarios")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    parser.add_argument(
        "--force", action="store_true", help="rewrite fixtures even when only their volatile values changed"
    )
    args = parser.parse_args(argv)

    by_name = {scenario.name: scenario for scenario in SCENARIOS}
    if len(by_name) != len(SCENARIOS):
        print("duplicate scenario names", file=sys.stderr)
        return 2
    if args.list:
        for scenario in SCENARIOS:
            print(f"{scenario.name:45} {scenario.description}")
        return 0
    if not ORTHANC_TOOL.exists():
        print(f"missing {ORTHANC_TOOL}", file=sys.stderr)
        return 2

    from .dicom_factory import check_all

    stale = check_all()
    if stale:
        print(
            f"fixtures/dicom is not up to date ({', '.join(stale)}): "
            "run python -m compat_tests.dicom_factory",
            file=sys.stderr,
        )
        return 2

    selected = [by_name[name] for name in args.only] if args.only else SCENARIOS
    unknown = [name for name in args.only or [] if name not in by_name]
    if unknown:
        print(f"unknown scenario(s): {', '.join(unknown)}", file=sys.stderr)
        return 2

    started = time.monotonic()
    warning_count = 0
    for scenario in selected:
        t0 = time.monotonic()
        fixture, warnings = record_scenario(scenario, keep_equivalent=not args.force)
        path = COMPAT_DIR / f"{scenario.name}.json"
        state = "same"
        if not path.exists() or load_fixture(path) != fixture:
            write_fixture(fixture)
            state = "NEW "
        statuses = " ".join(str(step["response"]["status"]) for step in fixture["steps"])
        print(f"{scenario.name:45} {time.monotonic() - t0:5.2f}s {state} {statuses}")
        for warning in warnings:
            print(f"    WARNING {warning}")
        warning_count += len(warnings)
    if not args.only:
        names = {scenario.name for scenario in SCENARIOS}
        for path in COMPAT_DIR.glob("*.json"):
            if path.stem not in names:
                path.unlink()
                print(f"removed stale {path.name}")
    elapsed = time.monotonic() - started
    print(f"recorded {len(selected)} scenario(s) in {elapsed:.1f}s, {warning_count} warning(s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
