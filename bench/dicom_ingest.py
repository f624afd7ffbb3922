"""DICOM benchmark: C-STORE ingest of the CT set over 1 and 4 associations (DCMTK's storescu), and
C-FIND study-level latency (pynetdicom), orthanc_py against the real Orthanc 1.10.1 in one run.

``python -m bench.dicom_ingest [--quick]``. Orthanc runs with ``TCP_NODELAY=1`` in its environment.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from pydicom.dataset import Dataset
from pynetdicom import AE

if TYPE_CHECKING:
    from bench.run import Bench

from bench.data import DEFAULT_CACHE_DIR, DatasetSpec, ensure_dataset
from bench.report import Measurement
from bench.servers import ORTHANC_110_BINARY, free_ports

FULL = DatasetSpec("ct", "ct", 20, 2, 2, 25)  # 2,000 instances
QUICK = DatasetSpec("ct", "ct", 5, 2, 2, 10)  # 200
STUDY_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.2.1"


def start(kind: str, folder: Path) -> tuple[subprocess.Popen[bytes], int, int]:
    http_port, dicom_port = free_ports(2)
    config = {
        "StorageDirectory": str(folder),
        "HttpPort": http_port,
        "DicomPort": dicom_port,
        "DicomAet": "BENCH",
        "DicomAlwaysAllowFind": True,
        "RemoteAccessAllowed": True,
        "AuthenticationEnabled": False,
        "Plugins": [],
    }
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(config))
    env = dict(os.environ, TCP_NODELAY="1")
    command = (
        [str(ORTHANC_110_BINARY), str(folder / "config.json")]
        if kind == "orthanc-1.10"
        else [sys.executable, "-m", "orthanc_py", str(folder / "config.json")]
    )
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{http_port}/system", timeout=1).raise_for_status()
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    time.sleep(0.5)  # the DICOM listener starts right after the HTTP one
    return process, http_port, dicom_port


def ingest(files: list[Path], port: int, associations: int) -> float:
    """Instances per second, ``associations`` storescu processes each sending a share of the files."""
    shares = [files[i::associations] for i in range(associations)]
    began = time.perf_counter()
    senders = [
        subprocess.Popen(
            ["/usr/bin/storescu", "-aec", "BENCH", "127.0.0.1", str(port), *map(str, share)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for share in shares
    ]
    for sender in senders:
        sender.wait()
    return len(files) / (time.perf_counter() - began)


# What a PACS or viewer asks for in a study list.
STUDY_LIST_KEYS = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyDate",
    "StudyTime",
    "AccessionNumber",
    "StudyDescription",
    "ReferringPhysicianName",
    "StudyID",
    "ModalitiesInStudy",
    "NumberOfStudyRelatedSeries",
    "NumberOfStudyRelatedInstances",
    "StudyInstanceUID",
)


def study_list_query(**constraints: str) -> Dataset:
    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    for keyword in STUDY_LIST_KEYS:
        setattr(query, keyword, constraints.get(keyword, ""))
    return query


def find_queries(index: DatasetSpec) -> list[tuple[str, Dataset]]:
    """The study list of a viewer: every study, and one year of studies."""
    return [
        (f"C-FIND all {index.patients * index.studies_per_patient} studies", study_list_query()),
        ("C-FIND studies of one year (StudyDate range)", study_list_query(StudyDate="20100101-20101231")),
    ]


def time_find(port: int, query: Dataset, warmup: int = 1) -> tuple[float, int]:
    """Milliseconds of one C-FIND (after ``warmup`` untimed ones) on a new association, and the
    number of answers; the association's set-up and release are not timed."""
    ae = AE(ae_title="BENCHSCU")
    ae.add_requested_context(STUDY_ROOT_FIND)
    assoc = ae.associate("127.0.0.1", port, ae_title="BENCH")
    if not assoc.is_established:
        raise OSError(f"C-FIND: no association with port {port}")
    try:
        for _ in range(warmup):
            for _answer in assoc.send_c_find(query, STUDY_ROOT_FIND):
                pass
        answers = 0
        began = time.perf_counter()
        for status, _identifier in assoc.send_c_find(query, STUDY_ROOT_FIND):
            if status and status.Status == 0xFF00:
                answers += 1
        return (time.perf_counter() - began) * 1000, answers
    finally:
        assoc.release()


def find_latency(port: int, repeats: int = 20) -> float:
    """Median milliseconds of a study-level C-FIND (all studies) on an open association."""
    ae = AE(ae_title="BENCHSCU")
    ae.add_requested_context(STUDY_ROOT_FIND)
    assoc = ae.associate("127.0.0.1", port, ae_title="BENCH")
    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    query.StudyInstanceUID = ""
    query.PatientName = ""
    query.StudyDate = ""
    timings = []
    try:
        for _ in range(repeats):
            began = time.perf_counter()
            for _status, _answer in assoc.send_c_find(query, STUDY_ROOT_FIND):
                pass
            timings.append((time.perf_counter() - began) * 1000)
    finally:
        assoc.release()
    return statistics.median(timings)


def dicom_suite(bench: Bench, spec: DatasetSpec, reps: int, cache_dir: Path) -> list[Measurement]:
    """``python -m bench.run --suite dicom``: the same measurements, interleaved over ``reps``
    repetitions, in the table of the other suites. DCMTK (both Orthanc and storescu) reads
    ``TCP_NODELAY`` from the environment."""
    os.environ.setdefault("TCP_NODELAY", "1")
    files = sorted(ensure_dataset(spec, cache_dir).glob("*.dcm"))
    suite = "dicom"
    ingest_1 = Measurement(suite, "C-STORE ingest 1 association", "storescu, CT set", "inst/s", True)
    ingest_4 = Measurement(suite, "C-STORE ingest 4 associations", "4 storescu, CT set", "inst/s", True)
    find = Measurement(suite, "C-FIND studies", "study level, all studies, median of 20", "ms", False)
    # orthanc_py with its defaults, as installed: one HTTP and one DICOM process per core.
    config = {"DicomAet": "BENCH", "DicomAlwaysAllowFind": True}
    for rep in range(reps):
        for contender in bench.order(rep):
            for associations, measurement in ((1, ingest_1), (4, ingest_4)):
                server = bench.new_server(contender, config)
                try:
                    time.sleep(0.5)  # the DICOM listener starts right after the HTTP one
                    measurement.add(contender.role, ingest(files, server.dicom_port, associations))
                    if associations == 4:
                        find.add(contender.role, find_latency(server.dicom_port))
                finally:
                    server.stop()
    return [ingest_1, ingest_4, find]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    spec = QUICK if args.quick else FULL
    files = sorted(ensure_dataset(spec, DEFAULT_CACHE_DIR).glob("*.dcm"))
    results: dict[str, dict[str, float]] = {}
    root = Path(tempfile.mkdtemp(prefix="dicom-bench-"))
    try:
        for kind in ("orthanc_py", "orthanc-1.10"):
            row: dict[str, float] = {}
            for associations in (1, 4):
                process, _, port = start(kind, root / f"{kind}-{associations}")
                try:
                    row[f"ingest x{associations} (inst/s)"] = ingest(files, port, associations)
                    if associations == 4:
                        row["C-FIND study (ms)"] = find_latency(port)
                finally:
                    process.terminate()
                    process.wait(timeout=30)
            results[kind] = row
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"{len(files)} CT instances")
    for metric in results["orthanc_py"]:
        ours, theirs = results["orthanc_py"][metric], results["orthanc-1.10"][metric]
        print(
            f"{metric:28s} orthanc_py {ours:9.1f}   Orthanc 1.10.1 {theirs:9.1f}   ratio {ours / theirs:5.2f}"
        )


if __name__ == "__main__":
    main()
