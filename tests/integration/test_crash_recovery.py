"""A SIGKILL in the middle of concurrent uploads loses nothing acknowledged and leaves nothing behind.

Why this test exists: ``core/context.py`` promises that storing is atomic across the storage area
and the index (pending-file mark → file written and fsync'ed → one index transaction, start-up
recovery removing the pending files). Unit tests cannot show that promise holds when the process
dies at an arbitrary instruction, so this test runs the real server process (``python -m
orthanc_py``), has four clients upload overlapping data at once, kills the process group with
SIGKILL while uploads are in flight, restarts the server on the same folders and checks (three
kills, a check after each restart):

* every acknowledged instance (HTTP 200 received) is listed and downloads byte-identical;
* every patient, study and series of an acknowledged instance exists, once, under the public ID
  Orthanc derives from its UIDs; resources of unacknowledged uploads may exist, but complete
  (parents present, children present, file readable);
* no orphan file: every file in the storage folder is the attachment of a listed instance;
* no orphan index row: every listed instance downloads, and ``/statistics`` counts what is listed.

The data is made with pydicom (64x64 16-bit images, deterministic UIDs), so the test runs anywhere.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import io
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filewriter import dcmwrite
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian

pytestmark = pytest.mark.slow

UID_ROOT = "1.2.826.0.1.3680043.9.7433.7"  # a private root, so the UIDs never clash with real data
PATIENTS = 4
STUDIES_PER_PATIENT = 2
SERIES_PER_STUDY = 3
INSTANCES_PER_SERIES = 50  # 1200 distinct instances, 1500 uploads: the last kill comes well before the end
CLIENTS = 4
KILLS = 3
ACKNOWLEDGED_BETWEEN_KILLS = 250  # HTTP 200s between two kills (a few are AlreadyStored)
STARTUP_TIMEOUT = 20.0
UPLOAD_TIMEOUT = 30.0


# --- the data


def public_id(*uids: str) -> str:
    """Orthanc's public ID: SHA-1 of the identifying UIDs joined by ``|``, in groups of 8 digits.

    Computed here rather than imported from the server, so that a bug there cannot hide itself.
    """
    digest = hashlib.sha1("|".join(uids).encode("utf-8")).hexdigest()
    return "-".join(digest[i : i + 8] for i in range(0, 40, 8))


@dataclass(frozen=True)
class Instance:
    patient_id: str
    study_uid: str
    series_uid: str
    sop_uid: str
    data: bytes

    @property
    def ids(self) -> dict[str, str]:
        """The public IDs of the instance and its three parents, keyed as in Orthanc's answers."""
        return {
            "ParentPatient": public_id(self.patient_id),
            "ParentStudy": public_id(self.patient_id, self.study_uid),
            "ParentSeries": public_id(self.patient_id, self.study_uid, self.series_uid),
            "ID": public_id(self.patient_id, self.study_uid, self.series_uid, self.sop_uid),
        }


def make_instance(p: int, st: int, se: int, i: int) -> Instance:
    """One small CT image; its UIDs and pixels depend only on (p, st, se, i)."""
    patient_id = f"CRASH-{p}"
    study_uid = f"{UID_ROOT}.{p}.{st}"
    series_uid = f"{study_uid}.{se}"
    sop_uid = f"{series_uid}.{i}"
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = sop_uid
    ds.PatientID = patient_id
    ds.PatientName = f"Crash^Patient{p}"
    ds.StudyInstanceUID = study_uid
    ds.StudyDescription = f"Study {st}"
    ds.StudyDate = "20240101"
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = se + 1
    ds.Modality = "CT"
    ds.InstanceNumber = i + 1
    ds.Rows = 64
    ds.Columns = 64
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    seed = (((p * 16 + st) * 16 + se) * 1024 + i) & 0xFFFF
    ds.PixelData = bytes((seed + k) & 0xFF for k in range(64 * 64 * 2))
    buffer = io.BytesIO()
    dcmwrite(buffer, ds, enforce_file_format=True)
    return Instance(patient_id, study_uid, series_uid, sop_uid, buffer.getvalue())


def make_dataset() -> list[Instance]:
    return [
        make_instance(p, st, se, i)
        for p in range(PATIENTS)
        for st in range(STUDIES_PER_PATIENT)
        for se in range(SERIES_PER_STUDY)
        for i in range(INSTANCES_PER_SERIES)
    ]


def client_workloads(instances: list[Instance]) -> list[list[Instance]]:
    """Overlapping upload lists, one per client.

    Consecutive instances go to different clients, so each series (hence each study and patient)
    is fed by all four clients at once; every 4th instance is also given to the next client, so
    about a quarter of the instances are sent twice, concurrently, by two clients. Each list is
    shuffled (with a fixed seed) so that clients race on the same parents in varying orders.
    """
    workloads: list[list[Instance]] = [[] for _ in range(CLIENTS)]
    for n, instance in enumerate(instances):
        workloads[n % CLIENTS].append(instance)
        if n % 4 == 0:
            workloads[(n + 1) % CLIENTS].append(instance)
    rng = random.Random(7433)
    for workload in workloads:
        rng.shuffle(workload)
    return workloads


# --- the server process


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """The real server process, started in its own process group so it can be killed whole."""

    config_path: Path
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "orthanc_py", str(self.config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                status, _ = request(self.port, "GET", "/system", timeout=2.0)
                if status == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"the server did not answer within {STARTUP_TIMEOUT} s:\n{self.log_tail()}"
                )
            time.sleep(0.05)

    def kill(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return ""


def request(
    port: int, method: str, path: str, body: bytes | None = None, timeout: float = 10.0
) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/dicom"} if body is not None else {}
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def get_json(port: int, path: str) -> object:
    status, body = request(port, "GET", path, timeout=30.0)
    assert status == 200, f"GET {path} answered {status}: {body[:300]!r}"
    return json.loads(body)


# --- the clients


@dataclass
class Uploads:
    """What the clients saw, shared between their threads and kept across the kills."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    acknowledged: dict[str, Instance] = field(default_factory=dict)  # SOPInstanceUID → instance
    answers: dict[str, dict[str, str]] = field(default_factory=dict)  # SOPInstanceUID → 200's JSON
    attempted: dict[str, Instance] = field(default_factory=dict)  # sent, acknowledged or not
    errors: list[str] = field(default_factory=list)  # unexpected answers (not a dead server)
    count: int = 0  # HTTP 200 received, duplicates included
    target: int = 0
    enough: threading.Event = field(default_factory=threading.Event)


@dataclass
class Client:
    """One uploading client; ``position`` is its next upload, kept across kills so it resumes
    with the upload that was in flight (which may or may not have been stored)."""

    workload: list[Instance]
    position: int = 0

    def run(self, port: int, uploads: Uploads, stop: threading.Event) -> None:
        """Upload one by one on a keep-alive connection until done, told to stop, or the server dies."""
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=UPLOAD_TIMEOUT)
        try:
            while self.position < len(self.workload) and not stop.is_set():
                instance = self.workload[self.position]
                with uploads.lock:
                    uploads.attempted[instance.sop_uid] = instance
                try:
                    headers = {"Content-Type": "application/dicom"}
                    connection.request("POST", "/instances", body=instance.data, headers=headers)
                    response = connection.getresponse()
                    body = response.read()
                except (OSError, http.client.HTTPException):
                    return  # the server was killed: this upload is in flight, unacknowledged
                self.position += 1
                if response.status != 200:
                    with uploads.lock:
                        uploads.errors.append(f"{instance.sop_uid}: HTTP {response.status} {body[:200]!r}")
                    continue
                answer = json.loads(body)
                with uploads.lock:
                    uploads.acknowledged[instance.sop_uid] = instance
                    uploads.answers[instance.sop_uid] = answer
                    uploads.count += 1
                    if uploads.count >= uploads.target:
                        uploads.enough.set()
        finally:
            connection.close()


# --- the test


def test_sigkill_during_concurrent_uploads(tmp_path: Path) -> None:
    """Kill the server KILLS times under load; after each restart, check what survived.

    Several kills rather than one: each lands at a random point of the store sequence, and some
    windows (a file half-written under its temporary name, say) are hit by only a few kills in ten.
    After a restart the clients resume with the upload that was in flight, so a re-sent instance
    whose first copy was interrupted is stored cleanly too.
    """
    instances = make_dataset()
    clients = [Client(workload) for workload in client_workloads(instances)]
    storage = tmp_path / "storage"
    index = tmp_path / "index"
    port = free_port()
    config = {
        "Name": "CrashRecovery",
        "HttpPort": port,
        "DicomPort": free_port(),
        "StorageDirectory": str(storage),
        "IndexDirectory": str(index),
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "OverwriteInstances": False,
        "StorageCompression": False,
        "StableAge": 3600,
    }
    config_path = tmp_path / "orthanc.json"
    config_path.write_text(json.dumps(config), encoding="utf-8")
    server = Server(config_path, port, tmp_path / "server.log")
    uploads = Uploads()
    stop = threading.Event()
    threads: list[threading.Thread] = []
    try:
        server.start()
        for kill in range(1, KILLS + 1):
            uploads.target = uploads.count + ACKNOWLEDGED_BETWEEN_KILLS
            uploads.enough.clear()
            stop.clear()
            threads = [
                threading.Thread(target=client.run, args=(port, uploads, stop), daemon=True)
                for client in clients
            ]
            for thread in threads:
                thread.start()
            assert uploads.enough.wait(timeout=30.0), (
                f"only {uploads.count} uploads acknowledged; errors: {uploads.errors[:5]}\n"
                + server.log_tail()
            )
            uploading = sum(thread.is_alive() for thread in threads)
            server.kill()  # SIGKILL to the whole process group, uploads in flight
            stop.set()
            for thread in threads:
                thread.join(timeout=UPLOAD_TIMEOUT + 5)
            assert uploading > 0, "every client had finished before the kill: raise INSTANCES_PER_SERIES"
            assert not uploads.errors, f"refused uploads: {uploads.errors[:5]}"
            acknowledged = dict(uploads.acknowledged)
            in_flight = set(uploads.attempted) - set(acknowledged)
            print(  # shown with -s or on failure: what each kill interrupted
                f"kill {kill}: {len(acknowledged)} instances acknowledged, {len(in_flight)} unacknowledged, "
                f"{uploading} clients uploading"
            )
            assert len(acknowledged) < len(instances), "everything was stored before the kill"
            server.start()
            check_recovered(port, storage, index, acknowledged, uploads.answers, dict(uploads.attempted))
    finally:
        stop.set()
        server.kill()
        for thread in threads:
            thread.join(timeout=1)


def check_recovered(
    port: int,
    storage: Path,
    index: Path,
    acknowledged: dict[str, Instance],
    answers: dict[str, dict[str, str]],
    attempted: dict[str, Instance],
) -> None:
    # The answers of the 200s named the resources after their UIDs.
    for sop_uid, instance in acknowledged.items():
        answer = answers[sop_uid]
        assert answer.get("Status") in ("Success", "AlreadyStored"), answer
        for key, expected in instance.ids.items():
            assert answer.get(key) == expected, f"{sop_uid}: {key}={answer.get(key)}, expected {expected}"

    # Everything listed exists once.
    listed: dict[str, list[str]] = {}
    for level in ("patients", "studies", "series", "instances"):
        ids = get_json(port, f"/{level}")
        assert isinstance(ids, list)
        assert len(ids) == len(set(ids)), f"/{level} lists a resource twice"
        listed[level] = ids

    # Acknowledged instances and their parents are there; nothing unknown is.
    keys = {"patients": "ParentPatient", "studies": "ParentStudy", "series": "ParentSeries"}
    for level, key in {**keys, "instances": "ID"}.items():
        must = {instance.ids[key] for instance in acknowledged.values()}
        may = {instance.ids[key] for instance in attempted.values()}
        present = set(listed[level])
        missing = must - present
        assert not missing, f"{len(missing)} {level} of acknowledged instances lost: {sorted(missing)[:3]}"
        unknown = present - may
        assert not unknown, f"{len(unknown)} {level} that no client sent, e.g. {sorted(unknown)[:3]}"

    # Every listed instance is complete: right parents, readable file, byte-identical when acknowledged.
    by_id = {instance.ids["ID"]: instance for instance in attempted.values()}
    expanded = get_json(port, "/instances?expand")
    assert isinstance(expanded, list)
    assert sorted(item["ID"] for item in expanded) == sorted(listed["instances"])
    file_uuids: set[str] = set()
    for item in expanded:
        instance = by_id[item["ID"]]
        assert item["ParentSeries"] == instance.ids["ParentSeries"], item["ID"]
        assert item["MainDicomTags"].get("SOPInstanceUID") == instance.sop_uid, item["ID"]
        assert item.get("FileUuid"), f"instance {item['ID']} has no DICOM attachment"
        file_uuids.add(item["FileUuid"])
        status, body = request(port, "GET", f"/instances/{item['ID']}/file", timeout=30.0)
        assert status == 200, f"/instances/{item['ID']}/file answered {status}: {body[:200]!r}"
        assert body == instance.data, f"instance {instance.sop_uid} is not byte-identical"
    assert len(file_uuids) == len(expanded), "two instances share one attachment"

    # Parents are complete: each listed series/study/patient has its children and its parent.
    for level, child_level, parent_key in (
        ("series", "instances", "ParentStudy"),
        ("studies", "series", "ParentPatient"),
        ("patients", "studies", None),
    ):
        parents = {}
        for resource_id in listed[level]:
            resource = get_json(port, f"/{level}/{resource_id}")
            assert isinstance(resource, dict)
            children = {"series": "Instances", "studies": "Series", "patients": "Studies"}[level]
            assert resource[children], f"/{level}/{resource_id} has no {child_level}"
            unlisted = set(resource[children]) - set(listed[child_level])
            assert not unlisted, f"/{level}/{resource_id} has unlisted {child_level}: {sorted(unlisted)[:3]}"
            if parent_key is not None:
                parents[resource_id] = resource[parent_key]
        if parent_key is not None:
            parent_level = "studies" if level == "series" else "patients"
            assert set(parents.values()) <= set(listed[parent_level]), f"{level} whose parent is not listed"

    # No orphan index row: the statistics count what is listed.
    statistics = get_json(port, "/statistics")
    assert isinstance(statistics, dict)
    assert statistics["CountPatients"] == len(listed["patients"])
    assert statistics["CountStudies"] == len(listed["studies"])
    assert statistics["CountSeries"] == len(listed["series"])
    assert statistics["CountInstances"] == len(listed["instances"])

    # No orphan file: every file of the storage folder is a listed attachment (temporary ones too).
    files = {path for path in storage.rglob("*") if path.is_file()}
    files = {path for path in files if not path.name.startswith("index.sqlite")}  # when both folders are one
    orphans = sorted(str(path.relative_to(storage)) for path in files if path.name not in file_uuids)
    assert not orphans, f"{len(orphans)} orphan file(s) in the storage folder: {orphans[:5]}"
    on_disk = {path.name for path in files}
    absent = file_uuids - on_disk
    assert not absent, f"{len(absent)} attachment(s) without a file: {sorted(absent)[:3]}"
    assert int(statistics["TotalDiskSize"]) == sum(path.stat().st_size for path in files)
    assert index.joinpath("index.sqlite").is_file()
