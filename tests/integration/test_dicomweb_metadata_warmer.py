"""WADO-RS metadata computed in the background once instances are received: a series' ``/metadata``
then reads no file, and answers exactly what a first request computing it from the files answers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from dicomweb_client.api import DICOMwebClient

from orthanc_py.dicomweb import metadata_warmer

from .test_dicomweb import Server, make_instance, running_server

STUDY = "1.2.826.0.1.3680043.99.70"


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[Server]:
    with running_server(tmp_path, extra={"StableAge": 1}) as running:
        yield running


def _on_loop(server: Server, coroutine: Any) -> Any:
    return asyncio.run_coroutine_threadsafe(coroutine, server.loop).result()


def kept_rows(server: Server) -> int:
    context = server.app.state.context

    async def count() -> int:
        async with context.index.transaction() as tx:
            rows = await tx._all("SELECT COUNT(*) FROM dicomweb_metadata")  # noqa: SLF001
        return int(rows[0][0])

    return int(_on_loop(server, count()))


def forget_kept_rows(server: Server) -> None:
    context = server.app.state.context

    async def forget() -> None:
        async with context.index.transaction(write=True) as tx:
            await tx.conn.execute("DELETE FROM dicomweb_metadata")

    _on_loop(server, forget())


def wait_for_rows(server: Server, expected: int) -> None:
    deadline = time.monotonic() + 20
    while kept_rows(server) != expected:
        assert time.monotonic() < deadline, f"{kept_rows(server)} rows kept, {expected} expected"
        time.sleep(0.1)


class CountingReads:
    """Counts the files the storage area reads (whole or in part)."""

    def __init__(self, server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        storage = server.app.state.context.storage
        for name in ("read", "read_range"):
            original = getattr(storage, name)
            monkeypatch.setattr(storage, name, self._counting(original))

    def _counting(self, original: Any) -> Any:
        async def read(*args: Any) -> Any:
            self.count += 1
            return await original(*args)

        return read


def test_series_metadata_ready_without_reading_files(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    client = DICOMwebClient(url=f"{server.url}/dicom-web")
    client.store_instances([make_instance(STUDY, 1, n) for n in range(1, 7)])
    wait_for_rows(server, 6)
    reads = CountingReads(server, monkeypatch)
    series_url = f"{server.url}/dicom-web/studies/{STUDY}/series/{STUDY}.1/metadata"
    kept = httpx.get(series_url)
    assert kept.status_code == 200
    assert len(httpx.get(f"{server.url}/dicom-web/studies/{STUDY}/metadata").json()) == 6
    assert reads.count == 0
    # The same answer as a first request computing it from the files.
    forget_kept_rows(server)
    computed = httpx.get(series_url)
    assert reads.count == 6
    assert computed.content == kept.content
    assert sorted(i["00200013"]["Value"][0] for i in kept.json()) == [1, 2, 3, 4, 5, 6]


def test_stable_series_completes_what_was_not_queued(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metadata_warmer, "MAX_QUEUED", 0)  # a full queue: nothing queued on arrival
    client = DICOMwebClient(url=f"{server.url}/dicom-web")
    client.store_instances([make_instance(STUDY, 2, n) for n in (1, 2, 3)])
    wait_for_rows(server, 3)  # on StableSeries, StableAge (1 s) after the last instance
    changes = httpx.get(f"{server.url}/changes?limit=100").json()["Changes"]
    assert "StableSeries" in [c["ChangeType"] for c in changes]


def test_instances_deleted_before_their_turn(server: Server) -> None:
    client = DICOMwebClient(url=f"{server.url}/dicom-web")
    client.store_instances([make_instance(STUDY, 1, n) for n in (1, 2)])
    (study,) = httpx.post(f"{server.url}/tools/lookup", content=STUDY).json()
    assert httpx.delete(f"{server.url}/studies/{study['ID']}").status_code == 200
    client.store_instances([make_instance(STUDY, 3, 1)])
    wait_for_rows(server, 1)
    assert len(client.retrieve_series_metadata(STUDY, f"{STUDY}.3")) == 1
