"""The work that is timed: REST ingest with N clients, and single-client query latency.

Each function runs against one already started :class:`~bench.servers.Server`; interleaving the
servers and repeating is ``bench.run``'s job.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench.client import Client
from bench.data import DatasetSpec
from bench.servers import MemoryWatch, Server, ServerError


@dataclass
class IngestResult:
    instances: int
    clients: int
    seconds: float
    server_cpu_seconds: float
    server_peak_rss_mib: float  # VmHWM summed over the server's processes
    server_peak_pss_mib: float  # PSS summed over the server's processes, sampled every 0.25 s
    client_cpu_seconds: float
    statuses: Counter[str] = field(default_factory=Counter)  # HTTP status or Orthanc "Status"
    errors: list[str] = field(default_factory=list)  # the first few failures, for the report
    count_after: int = -1  # CountInstances from GET /statistics after the ingest

    @property
    def instances_per_second(self) -> float:
        return self.instances / self.seconds

    @property
    def server_cpu_ms_per_instance(self) -> float:
        return 1000 * self.server_cpu_seconds / self.instances


def ingest(server: Server, blobs: list[bytes], clients: int) -> IngestResult:
    """``POST /instances`` every blob, with ``clients`` threads each on its own keep-alive connection.

    The clock runs from the moment all threads are connected and released together to the last
    answer; server CPU is read from ``/proc`` at the same two points.
    """
    lock = threading.Lock()
    next_index = 0
    statuses: Counter[str] = Counter()
    errors: list[str] = []
    ready = threading.Barrier(clients + 1)

    def worker() -> None:
        nonlocal next_index
        client = Client(server.host, server.http_port)
        try:
            client.get("/system")  # open the connection before the clock starts
        except OSError:
            pass  # the first POST reconnects, or reports the error
        ready.wait()
        local: Counter[str] = Counter()
        try:
            while True:
                with lock:
                    index = next_index
                    next_index += 1
                if index >= len(blobs):
                    break
                try:
                    response = client.post_dicom("/instances", blobs[index])
                except OSError as error:
                    local[f"error:{type(error).__name__}"] += 1
                    with lock:
                        if len(errors) < 5:
                            errors.append(f"#{index}: {error!r}")
                    client.close()
                    if not server.alive():
                        break
                    continue
                if response.status == 200:
                    local[str(response.json().get("Status", "?"))] += 1
                else:
                    local[f"HTTP {response.status}"] += 1
                    with lock:
                        if len(errors) < 5:
                            errors.append(f"#{index}: HTTP {response.status} {response.body[:200]!r}")
        finally:
            client.close()
            with lock:
                statuses.update(local)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    with MemoryWatch(server) as memory:
        ready.wait()
        cpu_before, client_cpu_before = server.cpu_seconds(), time.process_time()
        start = time.perf_counter()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - start
    if not server.alive():
        raise ServerError(f"{server.label} died during the ingest:\n{server.log_tail()}")
    cpu_after, client_cpu_after = server.cpu_seconds(), time.process_time()
    result = IngestResult(
        instances=len(blobs),
        clients=clients,
        seconds=seconds,
        server_cpu_seconds=cpu_after - cpu_before,
        server_peak_rss_mib=server.peak_rss_mib(),
        server_peak_pss_mib=memory.peak_mib,
        client_cpu_seconds=client_cpu_after - client_cpu_before,
        statuses=statuses,
        errors=errors,
    )
    statistics = Client(server.host, server.http_port).get("/statistics")
    if statistics.status == 200:
        result.count_after = int(statistics.json().get("CountInstances", -1))
    return result


@dataclass(frozen=True)
class Query:
    """One timed request. ``path`` may hold ``{study_id}``, filled per server by :func:`query_vars`."""

    name: str
    method: str
    path: str
    body: Any = None

    def describe(self) -> str:
        if self.body is None:
            return f"{self.method} {self.path}"
        return f"{self.method} {self.path} {json.dumps(self.body, separators=(',', ':'))}"


def index_queries(spec: DatasetSpec) -> list[Query]:
    """The query suite, on an index built from ``spec``."""
    middle = spec.patients // 2
    return [
        Query("find-study-name", "POST", "/tools/find", {"Level": "Study", "Query": {"PatientName": "*A*"}}),
        Query(
            "find-study-date",
            "POST",
            "/tools/find",
            {"Level": "Study", "Query": {"StudyDate": "20100101-20151231"}},
        ),
        Query(
            "find-study-expand-100",
            "POST",
            "/tools/find",
            {"Level": "Study", "Query": {}, "Expand": True, "Limit": 100},
        ),
        Query(
            "find-study-patientid",
            "POST",
            "/tools/find",
            {"Level": "Study", "Query": {"PatientID": spec.patient_id(middle)}, "Expand": True},
        ),
        Query(
            "find-series-mr-expand-100",
            "POST",
            "/tools/find",
            {"Level": "Series", "Query": {"Modality": "MR"}, "Expand": True, "Limit": 100},
        ),
        Query(
            "find-instance-sopuid",
            "POST",
            "/tools/find",
            {"Level": "Instance", "Query": {"SOPInstanceUID": spec.instance_uid(middle, 0, 1, 5)}},
        ),
        Query("patients-expand-all", "GET", "/patients?expand"),
        Query("patients-ids-all", "GET", "/patients"),
        Query("studies-expand-100", "GET", "/studies?expand&since=0&limit=100"),
        Query("series-expand-100", "GET", "/series?expand&since=0&limit=100"),
        Query("study-one", "GET", "/studies/{study_id}"),
        Query("statistics", "GET", "/statistics"),
    ]


def query_vars(client: Client, spec: DatasetSpec) -> dict[str, str]:
    """Per-server values for query paths: the Orthanc ID of one known study (via /tools/lookup)."""
    study_uid = spec.study_uid(spec.patients // 2, 0)
    response = client.request("POST", "/tools/lookup", study_uid.encode(), "text/plain")
    study_id = "unknown"
    if response.status == 200:
        matches = [match for match in response.json() if match.get("Type") == "Study"]
        if matches:
            study_id = str(matches[0]["ID"])
    return {"study_id": study_id}


@dataclass
class QueryResult:
    seconds: float
    status: int
    size: int  # items in a JSON list answer (the number of matches), -1 otherwise
    body_bytes: int


def run_query(client: Client, query: Query, variables: dict[str, str]) -> QueryResult:
    """Time one request, from sending to the last byte of the answer (JSON parsing is not timed)."""
    path = query.path.format(**variables)
    body = None
    if query.body is not None:
        body = json.dumps(query.body).encode()
    start = time.perf_counter()
    response = client.request(query.method, path, body, "application/json" if body else None)
    seconds = time.perf_counter() - start
    size = -1
    if response.status == 200:
        parsed = response.json()
        size = len(parsed) if isinstance(parsed, list) else -1
    return QueryResult(seconds, response.status, size, len(response.body))
