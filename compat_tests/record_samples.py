"""Record how the real Orthanc 1.12 answers the upload of each file of ``../shared/dicom-samples``.

    python -m compat_tests.record_samples            # every file listed in INDEX.tsv
    python -m compat_tests.record_samples --only P…  # some of them (merged into the existing fixture)

Why: the 250 samples are real-world files (13 transfer syntaxes, many character sets, broken and
odd files). What Orthanc makes of each (accepted or not, the public IDs, the main DICOM tags of
the four levels, all the tags) is the reference ``tests/integration/test_dicom_samples.py``
holds orthanc_py to, so that parsing differences show up file by file.

One Orthanc (``../shared/tools/orthanc-1.12``, no plugins, free ports, storage under /tmp) receives
the files one by one; after each accepted file its patient is deleted and the server must be
empty again, since several samples share UIDs (``DummyCT-overwrite.dcm``). Some files kill
Orthanc (``2026-05-06-Deeply-Nested-Sequence.dcm``): a connection error followed by a dead process
is recorded as ``"crashes": true`` and a fresh Orthanc takes over for the next file.

The output, ``fixtures/samples/reference.json``, is keyed by the path relative to dicom-samples::

    "DummyCT.dcm": {
      "sha1": "...",                     # of the file, so a changed sample is noticed
      "status": 200,                     # HTTP status of POST /instances
      "answer": {"ID": …, "ParentPatient": …, "ParentStudy": …, "ParentSeries": …, "Status": …},
      "main_tags": {"Instance": {…}, "Series": {…}, "Study": {…}, "PatientOfStudy": {…}, "Patient": {…}}
    }
    "HelloWorld.pdf": {"sha1": …, "status": 400, "error": {…Orthanc's JSON error…}}
    "2026-05-06-…": {"sha1": …, "crashes": true, "exit": -11}

and, beside it, ``fixtures/samples/reference-tags.json.gz``: ``GET /instances/{id}/tags`` of each
accepted sample (keyed by tag number, so that names and values can be compared separately, and two
tags of the same name, such as unknown private tags, do not hide each other as they would in the
simplified form)::

    {"format": 1, "tags": {"DummyCT.dcm": {"0008,0005": {"Name": …, "Type": …, "Value": …}, …}}}
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
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

from .recorder import OrthancStartError, launch_orthanc, wait_ready

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLES_DIR = REPO_ROOT.parent / "shared" / "dicom-samples"
ORTHANC_TOOL = REPO_ROOT.parent / "shared" / "tools" / "orthanc-1.12"
REFERENCE_PATH = REPO_ROOT / "fixtures" / "samples" / "reference.json"
TAGS_PATH = REPO_ROOT / "fixtures" / "samples" / "reference-tags.json.gz"
FORMAT_VERSION = 1
STARTUP_TIMEOUT = 60.0  # the first start may build the chroot's caches
ANSWER_KEYS = ("ID", "ParentPatient", "ParentStudy", "ParentSeries", "Status")


def sample_paths(samples_dir: Path = SAMPLES_DIR) -> list[str]:
    """The samples, in INDEX.tsv's order (paths relative to ``samples_dir``)."""
    lines = (samples_dir / "INDEX.tsv").read_text(encoding="utf-8").splitlines()
    return [line.split("\t", 1)[0] for line in lines[1:] if line.strip()]


def file_sha1(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ReferenceServer:
    """A real Orthanc 1.12 with empty storage, in its own process group."""

    def __init__(self, tmp: Path, plugins: list[str] | None = None) -> None:
        self.tmp = tmp
        self.plugins = plugins or []  # paths inside the Orthanc 1.12 chroot
        self.process: subprocess.Popen[bytes] | None = None
        self.client: httpx.Client | None = None
        self.version = "1.12"

    def start(self) -> httpx.Client:
        run = Path(tempfile.mkdtemp(prefix="run-", dir=self.tmp))
        config = {
            "Name": "OrthancSamples",
            "HttpPort": _free_port(),
            "DicomPort": _free_port(),
            "StorageDirectory": str(run / "storage"),
            "IndexDirectory": str(run / "index"),
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "Plugins": self.plugins,
        }
        config_path = run / "orthanc.json"
        config_path.write_text(json.dumps(config, indent=2), encoding="utf-8")
        self.log_path = run / "orthanc.log"
        self.process = launch_orthanc(config_path, self.log_path)
        base_url = f"http://127.0.0.1:{config['HttpPort']}"
        try:
            wait_ready(self.process, base_url, self.log_path, STARTUP_TIMEOUT)
        except OrthancStartError as error:
            raise RuntimeError(f"{error}\n{self.log_tail()}") from error
        self.version = httpx.get(f"{base_url}/system", timeout=5.0).json().get("Version", self.version)
        self.client = httpx.Client(base_url=base_url, timeout=120.0)
        return self.client

    def alive(self) -> bool:
        if self.process is None or self.process.poll() is not None:
            return False
        assert self.client is not None
        try:
            return self.client.get("/system", timeout=5.0).status_code == 200
        except httpx.TransportError:
            return False

    def exit_code(self, timeout: float) -> int | None:
        """The exit status once the process has ended (waiting up to ``timeout``), else None."""
        if self.process is None:
            return None
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            self.process = None

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-2000:]


@contextlib.contextmanager
def reference_server() -> Iterator[ReferenceServer]:
    tmp = Path(tempfile.mkdtemp(prefix="orthanc-samples-", dir="/tmp"))
    server = ReferenceServer(tmp)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def _json(response: httpx.Response) -> Any:
    response.raise_for_status()
    return response.json()


def observe(client: httpx.Client, instance_id: str) -> dict[str, Any]:
    """What Orthanc shows of a stored instance: main tags of the four levels and its tags."""
    instance = _json(client.get(f"/instances/{instance_id}"))
    series = _json(client.get(f"/series/{instance['ParentSeries']}"))
    study = _json(client.get(f"/studies/{series['ParentStudy']}"))
    patient = _json(client.get(f"/patients/{study['ParentPatient']}"))
    return {
        "main_tags": {
            "Instance": instance["MainDicomTags"],
            "Series": series["MainDicomTags"],
            "Study": study["MainDicomTags"],
            "PatientOfStudy": study["PatientMainDicomTags"],
            "Patient": patient["MainDicomTags"],
        },
        "tags": _json(client.get(f"/instances/{instance_id}/tags")),
    }


def empty_server(client: httpx.Client) -> None:
    """Delete every patient, and check that nothing is left (the next sample may reuse UIDs)."""
    for patient in _json(client.get("/patients")):
        _json(client.delete(f"/patients/{patient}"))
    statistics = _json(client.get("/statistics"))
    if statistics["CountInstances"] or statistics["CountPatients"]:
        raise RuntimeError(f"Orthanc is not empty after deleting everything: {statistics}")


def record_file(server: ReferenceServer, relative: str) -> dict[str, Any]:
    """Upload one sample; its record. Restarts the server when the sample killed it."""
    path = SAMPLES_DIR / relative
    data = path.read_bytes()
    record: dict[str, Any] = {"sha1": hashlib.sha1(data).hexdigest()}
    assert server.client is not None
    try:
        headers = {"Content-Type": "application/dicom"}
        response = server.client.post("/instances", content=data, headers=headers)
    except httpx.TransportError as error:
        code = server.exit_code(timeout=10.0)
        if code is None and server.alive():
            raise RuntimeError(f"{relative}: transport error but Orthanc is alive: {error!r}") from error
        record["crashes"] = True
        record["exit"] = code  # a signal is negative (-11: SIGSEGV); None: alive but not answering
        print(f"  {relative}: crashes the reference (exit {code}); restarting", file=sys.stderr)
        server.stop()
        server.start()
        return record
    record["status"] = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = {"text": response.text[:2000]}
    if response.status_code != 200:
        record["error"] = body
        return record
    if isinstance(body, list):  # a ZIP archive: one answer per member (no sample is one today)
        record["answers"] = body
        empty_server(server.client)
        return record
    record["answer"] = {key: body.get(key) for key in ANSWER_KEYS}
    record.update(observe(server.client, body["ID"]))
    empty_server(server.client)
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Record the real Orthanc's answers to dicom-samples")
    parser.add_argument("--only", nargs="+", metavar="PATH", help="record only these samples (relative path)")
    args = parser.parse_args(argv)
    if not SAMPLES_DIR.is_dir():
        print(f"missing {SAMPLES_DIR}", file=sys.stderr)
        return 2
    if not ORTHANC_TOOL.exists():
        print(f"missing {ORTHANC_TOOL}", file=sys.stderr)
        return 2
    paths = sample_paths()
    unknown = [p for p in args.only or [] if p not in paths]
    if unknown:
        print(f"not in INDEX.tsv: {', '.join(unknown)}", file=sys.stderr)
        return 2
    selected = args.only or paths

    records: dict[str, Any] = {}
    if args.only and REFERENCE_PATH.exists():
        records = load_reference()
    started = time.monotonic()
    with reference_server() as server:
        server.start()
        for number, relative in enumerate(selected, 1):
            records[relative] = record_file(server, relative)
            outcome = "crashes" if records[relative].get("crashes") else records[relative]["status"]
            print(f"[{number}/{len(selected)}] {relative}: {outcome}")
        version = server.version
    write_reference({path: records[path] for path in paths if path in records}, version)
    sizes = ", ".join(f"{p.name} {p.stat().st_size // 1024} KiB" for p in (REFERENCE_PATH, TAGS_PATH))
    print(f"wrote {len(records)} samples ({sizes}) in {time.monotonic() - started:.0f} s")
    return 0


def write_reference(records: dict[str, Any], version: str) -> None:
    """Two files: the readable part (answers, errors, main tags) as JSON, reviewed in diffs, and the
    whole ``/tags`` of each accepted file, 4 MB of JSON, gzipped (mtime 0: same input, same bytes)."""
    readable = {path: {k: v for k, v in record.items() if k != "tags"} for path, record in records.items()}
    tags = {path: record["tags"] for path, record in records.items() if "tags" in record}
    REFERENCE_PATH.parent.mkdir(parents=True, exist_ok=True)
    document = {"format": FORMAT_VERSION, "recorded_with": f"Orthanc {version}", "samples": readable}
    REFERENCE_PATH.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    payload = json.dumps({"format": FORMAT_VERSION, "tags": tags}, ensure_ascii=False, sort_keys=True)
    with open(TAGS_PATH, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as out:
        out.write(payload.encode("utf-8"))


def load_reference() -> dict[str, Any]:
    """The recorded samples, each with its ``tags`` (when accepted) merged back in."""
    records = json.loads(REFERENCE_PATH.read_text(encoding="utf-8"))["samples"]
    if TAGS_PATH.exists():
        with gzip.open(TAGS_PATH, "rt", encoding="utf-8") as f:
            for path, tags in json.load(f)["tags"].items():
                records[path]["tags"] = tags
    return dict(records)


if __name__ == "__main__":
    raise SystemExit(main())
