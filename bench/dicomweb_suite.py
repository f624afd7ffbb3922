"""The ``dicomweb`` suite: QIDO-RS and WADO-RS metadata on the 50,000-instance index plus one
500-instance series, against the real Orthanc with its DICOMweb plugin.

Building that index takes minutes per server, so each server's storage and index folders are kept
in the cache folder (``dicomweb-<server>-<data>``) and reused by later runs; orthanc_py's folder name
also carries a hash of its schema files, so a schema change rebuilds it. Only GETs are timed: the
kept folders do not change (except orthanc_py's DICOMweb metadata rows, kept on first request as
they would be on any server; the warm-up requests fill them).

The series metadata is timed twice: as kept (the usual, second and later requests) and on a first
request, orthanc_py's kept metadata rows being dropped from its index before each repetition. The
real Orthanc keeps no metadata, so each of its requests reads the files (through its storage cache).

On the same index, study-level C-FIND (the study list of a PACS or viewer: every study, one year of
studies; the real Orthanc started with ``TCP_NODELAY=1``). Then, on new servers, the series is
ingested and its ``/metadata`` timed once ingest settled (``StableAge`` + 2 s): the first request a
viewer opening a series received a little earlier makes.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.client import Client
from bench.data import DatasetSpec, ensure_dataset, load_dataset
from bench.report import Measurement
from bench.servers import Server
from bench.workloads import Query, ingest, run_query

if TYPE_CHECKING:
    from bench.run import Bench, Sizes

DICOMWEB_PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"
REPO_ROOT = Path(__file__).resolve().parent.parent


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def big_series(quick: bool) -> DatasetSpec:
    return DatasetSpec("bigseries", "tiny", 1, 1, 1, 100 if quick else 500)


def dicomweb_queries(index: DatasetSpec, series: DatasetSpec) -> list[Query]:
    study, series_uid = series.study_uid(0, 0), series.series_uid(0, 0, 0)
    series_path = f"/dicom-web/studies/{study}/series/{series_uid}"
    return [
        Query("qido-studies-limit-100", "GET", "/dicom-web/studies?limit=100"),
        Query("qido-studies-one-year", "GET", "/dicom-web/studies?StudyDate=20100101-20101231"),
        Query("qido-series-modality-limit-100", "GET", "/dicom-web/series?Modality=MR&limit=100"),
        Query(f"wado-series-metadata-{series.count}", "GET", f"{series_path}/metadata"),
        Query(f"wado-series-metadata-{series.count}-first-request", "GET", f"{series_path}/metadata"),
        Query(
            "wado-instance-metadata",
            "GET",
            f"{series_path}/instances/{series.instance_uid(0, 0, 0, 0)}/metadata",
        ),
    ]


def _schema_hash() -> str:
    digest = hashlib.sha1()
    for path in sorted((REPO_ROOT / "orthanc_py" / "index" / "schema").glob("*.sql")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def _kept_folder(cache_dir: Path, kind: str, specs: list[DatasetSpec]) -> Path:
    name = f"dicomweb-{kind}-" + "-".join(spec.key for spec in specs)
    if kind == "orthanc_py":
        name += f"-schema{_schema_hash()}"
    return cache_dir / name


STABLE_AGE = 5


def _server_config(kind: str, folder: Path | None) -> dict[str, Any]:
    """``folder``: the kept folder of the index, else the server's own (new, empty) folder."""
    config: dict[str, Any] = {
        "StableAge": STABLE_AGE,
        "DicomWeb": {"Enable": True},
        "DicomAet": "BENCH",
        "DicomAlwaysAllowFind": True,
    }
    if folder is not None:
        config["StorageDirectory"] = str(folder / "storage")
        config["IndexDirectory"] = str(folder / "index")
    if kind != "orthanc_py":
        config["Plugins"] = [DICOMWEB_PLUGIN]
    return config


def dicomweb_suite(bench: Bench, sizes: Sizes, reps: int, cache_dir: Path, quick: bool) -> list[Measurement]:
    os.environ.setdefault("TCP_NODELAY", "1")  # read by DCMTK, so by the real Orthanc's DICOM server
    series = big_series(quick)
    specs = [sizes.index, series]
    for spec in specs:
        ensure_dataset(spec, cache_dir)
    build = Measurement(
        "dicomweb", "index build (4 clients)", "ingest, only when no kept folder", "inst/s", True
    )
    measurements = [build]
    servers: dict[str, Server] = {}
    try:
        for contender in bench.contenders:
            folder = _kept_folder(cache_dir, contender.kind, specs)
            complete = folder / "complete"
            server = bench.new_server(contender, _server_config(contender.kind, folder))
            servers[contender.role] = server
            if not complete.exists():
                for spec in specs:
                    log(f"[dicomweb] building {spec.count} instances in {contender.label} (kept in {folder})")
                    result = ingest(server, load_dataset(spec, cache_dir), clients=4)
                    build.add(contender.role, result.instances_per_second)
                complete.write_text(time.strftime("%Y-%m-%d %H:%M:%S\n"))
            else:
                log(f"[dicomweb] {contender.label}: reusing {folder}")
        folders = {c.role: _kept_folder(cache_dir, c.kind, specs) for c in bench.contenders}
        forget = {role: _forget_metadata(folder) for role, folder in folders.items()}
        queries = dicomweb_queries(sizes.index, series)
        measurements += _time(bench, servers, queries, sizes.query_warmup, reps, forget)
        measurements += _time_finds(bench, servers, sizes.index, reps)
    finally:
        for server in servers.values():
            server.stop()  # the kept folders are outside its work folder
    measurements += _metadata_after_ingest(bench, series, cache_dir, min(reps, 3))
    return measurements


def _time_finds(bench: Bench, servers: dict[str, Server], index: DatasetSpec, reps: int) -> list[Measurement]:
    """Study-level C-FIND on the big index, the queries a PACS or viewer sends (``find_queries``)."""
    from bench.dicom_ingest import find_queries, time_find

    measurements = []
    for name, query in find_queries(index):
        m = Measurement("dicomweb", name, "C-FIND study level (pynetdicom, one association)", "ms", False)
        seen: dict[str, set[int]] = {role: set() for role in servers}
        for rep in range(reps):
            for contender in bench.order(rep):
                milliseconds, answers = time_find(servers[contender.role].dicom_port, query)
                m.add(contender.role, milliseconds)
                seen[contender.role].add(answers)
        m.details["answers"] = {role: sorted(s) for role, s in seen.items()}
        if len({frozenset(s) for s in seen.values()}) > 1:
            m.warn(f"answers differ in number: {m.details['answers']}")
        measurements.append(m)
        log(f"[dicomweb] {name}: done")
    return measurements


def _metadata_after_ingest(
    bench: Bench, series: DatasetSpec, cache_dir: Path, reps: int
) -> list[Measurement]:
    """The first ``/metadata`` request of a series once its ingest settled (``StableAge`` + 2 s), on
    a new server each time: what a viewer opening a series received a little earlier waits for."""
    blobs = load_dataset(series, cache_dir)
    path = f"/dicom-web/studies/{series.study_uid(0, 0)}/series/{series.series_uid(0, 0, 0)}/metadata"
    query = Query(f"wado-series-metadata-{series.count}-after-ingest", "GET", path)
    m = Measurement("dicomweb", query.name, f"{query.describe()}, first request, fresh server", "ms", False)
    rate = Measurement(
        "dicomweb", f"series ingest ({series.count}, 4 clients)", "before that", "inst/s", True
    )
    for rep in range(reps):
        for contender in bench.order(rep):
            server = bench.new_server(contender, _server_config(contender.kind, None))
            try:
                rate.add(contender.role, ingest(server, blobs, clients=4).instances_per_second)
                time.sleep(STABLE_AGE + 2)
                client = Client(server.host, server.http_port)
                try:
                    answer = run_query(client, query, {})
                finally:
                    client.close()
                m.add(contender.role, answer.seconds * 1000)
                if answer.status != 200 or answer.size != series.count:
                    m.warn(f"{contender.label}: HTTP {answer.status}, {answer.size} instances")
            finally:
                server.stop()
    log(f"[dicomweb] {query.name}: done")
    return [m, rate]


def _forget_metadata(folder: Path) -> Callable[[], None]:
    """Drops the DICOMweb metadata orthanc_py keeps in its index (nothing to do for Orthanc)."""
    index = folder / "index" / "index.sqlite"

    def forget() -> None:
        if index.exists():
            with sqlite3.connect(index, timeout=30) as db:
                db.execute("DELETE FROM dicomweb_metadata")

    return forget


def _time(
    bench: Bench,
    servers: dict[str, Server],
    queries: list[Query],
    warmup: int,
    reps: int,
    forget: dict[str, Callable[[], None]],
) -> list[Measurement]:
    clients = {role: Client(server.host, server.http_port) for role, server in servers.items()}
    measurements = []
    try:
        for query in queries:
            m = Measurement("dicomweb", query.name, query.describe(), "ms", higher_is_better=False)
            seen: dict[str, set[int]] = {role: set() for role in clients}
            for _ in range(warmup):
                for contender in bench.contenders:
                    run_query(clients[contender.role], query, {})
            first_request = query.name.endswith("-first-request")
            for rep in range(reps):
                for contender in bench.order(rep):
                    if first_request:
                        forget[contender.role]()
                    answer = run_query(clients[contender.role], query, {})
                    m.add(contender.role, answer.seconds * 1000)
                    seen[contender.role].add(answer.size)
                    if answer.status != 200:
                        m.warn(f"{contender.label}: HTTP {answer.status}")
            m.details["answer_size"] = {role: sorted(s) for role, s in seen.items()}
            if len({frozenset(s) for s in seen.values()}) > 1:
                m.warn(f"answers differ in number of matches: {m.details['answer_size']}")
            measurements.append(m)
            log(f"[dicomweb] {query.name}: done")
    finally:
        for client in clients.values():
            client.close()
    return measurements
