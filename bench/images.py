"""The ``images`` suite: latency of ``/instances/{id}/preview`` (and ``/rendered``, ``/image-uint16``)
of one CT slice (512×512, 16-bit), the first instance of the ``ct`` data set.

Each server gets a fresh folder and the one slice; after two warm-up requests, one client times
each request (sending to the last byte of the PNG), servers interleaved as in the other suites.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from bench.client import Client
from bench.data import ensure_dataset, load_dataset
from bench.report import Measurement
from bench.servers import Server

if TYPE_CHECKING:
    from bench.run import Bench, Sizes

ROUTES = ("preview", "rendered", "image-uint16")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def images_suite(bench: Bench, sizes: Sizes, reps: int, cache_dir: Path) -> list[Measurement]:
    ensure_dataset(sizes.ct, cache_dir)
    ct_slice = load_dataset(sizes.ct, cache_dir)[0]
    servers: dict[str, Server] = {}
    clients: dict[str, Client] = {}
    ids: dict[str, str] = {}
    measurements = []
    try:
        for contender in bench.contenders:
            server = bench.new_server(contender)
            servers[contender.role] = server
            client = clients[contender.role] = Client(server.host, server.http_port)
            ids[contender.role] = client.post_dicom("/instances", ct_slice).json()["ID"]
        for route in ROUTES:
            m = Measurement(
                "images", f"CT slice /{route}", f"GET /instances/{{id}}/{route} (PNG)", "ms", False
            )
            for _ in range(2):
                for contender in bench.contenders:
                    clients[contender.role].get(f"/instances/{ids[contender.role]}/{route}")
            for rep in range(reps):
                for contender in bench.order(rep):
                    start = time.perf_counter()
                    response = clients[contender.role].get(f"/instances/{ids[contender.role]}/{route}")
                    m.add(contender.role, (time.perf_counter() - start) * 1000)
                    if response.status != 200:
                        m.warn(f"{contender.label}: HTTP {response.status}")
            measurements.append(m)
            log(f"[images] /{route}: done")
    finally:
        for client in clients.values():
            client.close()
        for server in servers.values():
            server.stop()
    return measurements
