"""Entry point: ``python -m bench.run [--suite ingest|tiny|query|dicom|...|all] [--reference 1.10|1.12]``.

Runs the same work on a candidate (orthanc_py by default) and a reference (the real Orthanc),
interleaved (A B, B A, A B, ...: both servers in every repetition, the order flipped each time),
and prints a table (see ``bench/README.md``); the raw samples go to
``bench/results/*.json``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.client import Client
from bench.data import DEFAULT_CACHE_DIR, DatasetSpec, ensure_dataset, load_dataset
from bench.dicom_ingest import dicom_suite
from bench.dicomweb_suite import dicomweb_suite
from bench.images import images_suite
from bench.report import Measurement, machine_info, render_table, write_json
from bench.servers import SERVER_KINDS, MemoryWatch, Server, ServerError, ServerKind
from bench.workloads import IngestResult, index_queries, ingest, query_vars, run_query

SUITES = ("ingest", "tiny", "query", "dicomweb", "images", "dicom")
RATIO_MEANING = "> 1 means the candidate is better (throughput cand/ref; latency, CPU, memory ref/cand)"
STABLE_AGE = 5  # seconds; the query suite waits this out so "stable" events don't land mid-measurement


@dataclass(frozen=True)
class Sizes:
    ct: DatasetSpec
    tiny: DatasetSpec
    index: DatasetSpec
    ingest_reps: int
    query_reps: int
    query_warmup: int


FULL = Sizes(
    ct=DatasetSpec("ct", "ct", 20, 2, 2, 25),  # 2,000 instances, ~1 GB
    tiny=DatasetSpec("tiny", "tiny", 500, 1, 2, 20),  # 20,000
    index=DatasetSpec("index", "tiny", 2500, 1, 2, 10),  # 50,000
    ingest_reps=3,
    query_reps=20,
    query_warmup=2,
)
QUICK = Sizes(
    ct=DatasetSpec("ct", "ct", 5, 2, 2, 10),  # 200
    tiny=DatasetSpec("tiny", "tiny", 50, 1, 2, 20),  # 2,000
    index=DatasetSpec("index", "tiny", 250, 1, 2, 10),  # 5,000
    ingest_reps=2,
    query_reps=10,
    query_warmup=2,
)


@dataclass(frozen=True)
class Contender:
    role: str  # "candidate" or "reference"
    kind: ServerKind
    label: str


class Bench:
    """Holds the two contenders, numbers their server folders and keeps what /system said."""

    def __init__(self, contenders: list[Contender], work_root: Path) -> None:
        self.contenders = contenders
        self.work_root = work_root
        self.work_dir = work_root / time.strftime("%Y%m%d-%H%M%S")
        self.systems: dict[str, dict[str, Any]] = {}
        self._started = 0

    def order(self, rep: int) -> list[Contender]:
        """A, B on even repetitions and B, A on odd ones, so neither server always goes first."""
        return self.contenders if rep % 2 == 0 else self.contenders[::-1]

    @property
    def labels(self) -> dict[str, str]:
        return {c.role: c.label for c in self.contenders}

    def new_server(self, contender: Contender, extra_config: dict[str, Any] | None = None) -> Server:
        self._started += 1
        server = Server(
            kind=contender.kind,
            label=contender.label,
            workdir=self.work_dir / f"{self._started:03d}-{contender.label}",
            extra_config=extra_config or {},
            bind_root=self.work_root,
        )
        os.sync()  # let the previous run's writeback finish before this one starts
        server.start()
        self.systems.setdefault(contender.role, server.system)
        return server


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def check_ingest(result: IngestResult, measurement: Measurement, label: str) -> None:
    bad = {status: n for status, n in result.statuses.items() if status != "Success"}
    if bad:
        measurement.warn(f"{label}: answers other than Success: {bad}; first errors: {result.errors}")
    if result.count_after != result.instances:
        measurement.warn(f"{label}: CountInstances {result.count_after} after ingesting {result.instances}")


def ingest_suite(
    bench: Bench, suite: str, name: str, spec: DatasetSpec, clients: int, reps: int, cache_dir: Path
) -> list[Measurement]:
    """Ingest ``spec`` into a fresh server ``reps`` times per contender, alternating contenders."""
    blobs = load_dataset(spec, cache_dir)
    megabytes = sum(map(len, blobs)) / 1e6
    what = f"{spec.count} {spec.kind} instances ({megabytes:.0f} MB), {clients} client(s), POST /instances"
    throughput = Measurement(suite, name, what, "inst/s", higher_is_better=True)
    cpu = Measurement(suite, f"{name} server CPU", "server utime+stime per instance", "ms/inst", False)
    rss = Measurement(suite, f"{name} peak RSS", "server VmHWM (summed over its processes)", "MiB", False)
    pss = Measurement(suite, f"{name} peak PSS", "server PSS sampled every 0.25 s (summed)", "MiB", False)
    for rep in range(reps):
        for contender in bench.order(rep):
            server = bench.new_server(contender)
            try:
                result = ingest(server, blobs, clients)
            finally:
                server.stop()
            throughput.add(contender.role, result.instances_per_second)
            cpu.add(contender.role, result.server_cpu_ms_per_instance)
            rss.add(contender.role, result.server_peak_rss_mib)
            pss.add(contender.role, result.server_peak_pss_mib)
            throughput.details.setdefault("client_cpu_seconds", {}).setdefault(contender.role, []).append(
                round(result.client_cpu_seconds, 3)
            )
            check_ingest(result, throughput, contender.label)
            log(
                f"[{suite}] {name} rep {rep + 1}/{reps} {contender.label}: "
                f"{result.instances_per_second:.1f} inst/s, "
                f"{result.server_cpu_ms_per_instance:.2f} ms CPU/inst, "
                f"peak RSS {result.server_peak_rss_mib:.0f} MiB, PSS {result.server_peak_pss_mib:.0f} MiB, "
                f"client CPU {result.client_cpu_seconds:.1f} s"
            )
    return [throughput, cpu, rss, pss]


def query_suite(bench: Bench, sizes: Sizes, reps: int, cache_dir: Path) -> list[Measurement]:
    """Build the same index in both servers (4 clients), then time each query, interleaved."""
    spec = sizes.index
    blobs = load_dataset(spec, cache_dir)
    build = Measurement(
        "query",
        "index build (4 clients)",
        f"ingest of the {spec.count}-instance index, once per server (not interleaved)",
        "inst/s",
        higher_is_better=True,
    )
    servers: dict[str, Server] = {}
    watches: dict[str, MemoryWatch] = {}
    measurements = [build]
    try:
        for contender in bench.contenders:
            server = bench.new_server(contender, {"StableAge": STABLE_AGE})
            servers[contender.role] = server
            watches[contender.role] = MemoryWatch(server, interval=1.0).start()
            log(f"[query] building the {spec.count}-instance index in {contender.label} ...")
            result = ingest(server, blobs, clients=4)
            build.add(contender.role, result.instances_per_second)
            check_ingest(result, build, contender.label)
            log(f"[query] {contender.label}: {result.instances_per_second:.1f} inst/s")
        time.sleep(STABLE_AGE + 3)

        measurements += time_queries(bench, servers, sizes, reps)
        rss = Measurement("query", "peak RSS", "server VmHWM over build + queries (summed)", "MiB", False)
        pss = Measurement(
            "query", "peak PSS", "server PSS sampled every 1 s over build + queries", "MiB", False
        )
        for role, server in servers.items():
            rss.add(role, server.peak_rss_mib())
            pss.add(role, watches[role].stop())
        measurements += [rss, pss]
    except OSError as error:
        raise ServerError(f"query suite: {error!r}") from error
    finally:
        for watch in watches.values():
            watch.stop()
        for server in servers.values():
            server.stop()
    return measurements


def time_queries(bench: Bench, servers: dict[str, Server], sizes: Sizes, reps: int) -> list[Measurement]:
    """Each query ``reps`` times per server, interleaved, after a few untimed warm-up requests."""
    spec = sizes.index
    measurements: list[Measurement] = []
    clients = {role: Client(server.host, server.http_port) for role, server in servers.items()}
    try:
        variables = {role: query_vars(client, spec) for role, client in clients.items()}
        for query in index_queries(spec):
            m = Measurement("query", query.name, query.describe(), "ms", higher_is_better=False)
            sizes_seen: dict[str, set[int]] = {role: set() for role in clients}
            for _ in range(sizes.query_warmup):
                for contender in bench.contenders:
                    run_query(clients[contender.role], query, variables[contender.role])
            for rep in range(reps):
                for contender in bench.order(rep):
                    answer = run_query(clients[contender.role], query, variables[contender.role])
                    m.add(contender.role, answer.seconds * 1000)
                    sizes_seen[contender.role].add(answer.size)
                    if answer.status != 200:
                        m.warn(f"{contender.label}: HTTP {answer.status}")
            m.details["answer_size"] = {role: sorted(seen) for role, seen in sizes_seen.items()}
            if len({frozenset(seen) for seen in sizes_seen.values()}) > 1:
                m.warn(f"answers differ in number of matches: {m.details['answer_size']}")
            measurements.append(m)
            log(f"[query] {query.name}: done")
    finally:
        for client in clients.values():
            client.close()
    return measurements


def contenders_for(candidate: ServerKind, reference: ServerKind) -> list[Contender]:
    if candidate == reference:
        return [
            Contender("candidate", candidate, f"{candidate}-A"),
            Contender("reference", reference, f"{reference}-B"),
        ]
    return [Contender("candidate", candidate, candidate), Contender("reference", reference, reference)]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description="Benchmark orthanc_py against the real Orthanc, interleaved (see bench/README.md).",
    )
    parser.add_argument("--suite", choices=(*SUITES, "all"), default="all")
    parser.add_argument("--reference", choices=("1.10", "1.12"), default="1.10", help="the real Orthanc")
    parser.add_argument(
        "--candidate",
        choices=SERVER_KINDS,
        default="orthanc_py",
        help="the server under test; a real Orthanc here benchmarks it against itself (shows the noise)",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--reps", type=int, help="ingest repetitions per server (default 3, quick 2)")
    parser.add_argument("--query-reps", type=int, help="query repetitions per server (default 20, quick 10)")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR, help="generated DICOM files")
    parser.add_argument(
        "--storage",
        choices=("disk", "memory"),
        default="disk",
        help="server folders on disk (/tmp, default) or in memory (/dev/shm: no I/O waits, less noise)",
    )
    parser.add_argument("--work-dir", type=Path, help="server folders (overrides --storage)")
    parser.add_argument("--generate-only", action="store_true", help="fill the cache and stop")
    return parser.parse_args(argv)


def run_suite(bench: Bench, suite: str, sizes: Sizes, args: argparse.Namespace) -> list[Measurement]:
    ingest_reps = args.reps or sizes.ingest_reps
    if suite == "ingest":
        return [
            *ingest_suite(bench, suite, "CT ingest 1 client", sizes.ct, 1, ingest_reps, args.cache_dir),
            *ingest_suite(bench, suite, "CT ingest 4 clients", sizes.ct, 4, ingest_reps, args.cache_dir),
        ]
    if suite == "tiny":
        return ingest_suite(bench, suite, "tiny ingest 4 clients", sizes.tiny, 4, ingest_reps, args.cache_dir)
    if suite == "dicom":
        return dicom_suite(bench, sizes.ct, ingest_reps, args.cache_dir)
    if suite == "images":
        return images_suite(bench, sizes, args.query_reps or sizes.query_reps, args.cache_dir)
    if suite == "dicomweb":
        reps = args.query_reps or sizes.query_reps
        return dicomweb_suite(bench, sizes, reps, args.cache_dir, quick=args.quick)
    return query_suite(bench, sizes, args.query_reps or sizes.query_reps, args.cache_dir)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = QUICK if args.quick else FULL
    mode = "quick" if args.quick else "full"
    suites = SUITES if args.suite == "all" else (args.suite,)
    reference: ServerKind = "orthanc-1.10" if args.reference == "1.10" else "orthanc-1.12"
    memory = args.storage == "memory"
    work_dir = args.work_dir or Path("/dev/shm/orthanc-bench" if memory else "/tmp/orthanc-bench")
    bench = Bench(contenders_for(args.candidate, reference), work_dir)

    specs = {
        "ingest": sizes.ct,
        "tiny": sizes.tiny,
        "query": sizes.index,
        "dicomweb": sizes.index,
        "images": sizes.ct,
        "dicom": sizes.ct,
    }
    for suite in suites:
        ensure_dataset(specs[suite], args.cache_dir)
    if args.generate_only:
        return 0

    info = machine_info()
    if info["loadavg"][0] > 0.5:
        log(f"note: load average {info['loadavg'][0]:.2f} before starting: other work may add noise")
    results: dict[str, list[Measurement]] = {}
    failure = None
    started = time.time()
    try:
        for suite in suites:
            log(f"== suite {suite} ==")
            results[suite] = run_suite(bench, suite, sizes, args)
    except ServerError as error:
        failure = str(error)
    finally:
        shutil.rmtree(bench.work_dir, ignore_errors=True)  # each server already removed its own folder
    seconds = time.time() - started

    labels = bench.labels
    versions = {
        role: f"{labels[role]} {system.get('Version', '?')}" for role, system in bench.systems.items()
    }
    print(f"\ncandidate: {versions.get('candidate')}   reference: {versions.get('reference')}")
    print(f"{mode} sizes; server folders in {work_dir}; {seconds:.0f} s in all")
    for suite, measurements in results.items():
        print(f"\n=== {suite} ===")
        print(render_table(measurements, labels))
    path = write_json(
        f"{args.suite}-{mode}-{labels['candidate']}-vs-{labels['reference']}",
        {
            "argv": sys.argv,
            "mode": mode,
            "work_dir": str(work_dir),
            "machine": info,
            "loadavg_after": os.getloadavg(),
            "seconds": round(seconds, 1),
            "labels": labels,
            "servers": bench.systems,
            "sizes": {
                "ct": sizes.ct.count,
                "tiny": sizes.tiny.count,
                "index": sizes.index.count,
                "ingest_reps": args.reps or sizes.ingest_reps,
                "query_reps": args.query_reps or sizes.query_reps,
            },
            "ratio_meaning": RATIO_MEANING,
            "results": {suite: [m.to_json() for m in ms] for suite, ms in results.items()},
            "failure": failure,
        },
    )
    print(f"\nresults: {path}")
    if failure:
        log(f"error: {failure}")
        if args.candidate == "orthanc_py":
            log("(if orthanc_py does not run yet, try --candidate orthanc-1.10 to check the harness)")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
