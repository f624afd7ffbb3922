"""Attachment UUIDs: valid, unique, and in runs that share the storage folder of their first digits."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from orthanc_py.app import build_context
from orthanc_py.config import settings_from_json
from orthanc_py.core.context import RequestOrigin
from orthanc_py.storage.uuids import RUN_LENGTH, AttachmentUuids


@given(run_length=st.integers(1, 10), count=st.integers(1, 60))
def test_runs_share_their_first_four_digits(run_length: int, count: int) -> None:
    uuids = AttachmentUuids(run_length)
    values = [uuids.new() for _ in range(count)]
    for start in range(0, count, run_length):
        run = values[start : start + run_length]
        assert {value[:4] for value in run} == {run[0][:4]}
    for value in values:
        parsed = uuid.UUID(value)
        assert str(parsed) == value and parsed.version == 4 and parsed.variant == uuid.RFC_4122
    assert len(set(values)) == count


def test_runs_spread_over_the_folders() -> None:
    uuids = AttachmentUuids()
    prefixes = [uuids.new()[:4] for _ in range(1000 * RUN_LENGTH)][::RUN_LENGTH]
    # 1,000 prefixes drawn at random among 65,536: about 8 repeats are expected, never hundreds.
    assert len(set(prefixes)) > 970
    assert len({p[:2] for p in prefixes}) > 240  # nearly every first-level folder of 256


def test_an_ingest_fills_one_folder_before_the_next(tmp_path: Path) -> None:
    from tests.integration.test_store_atomicity import make_instance, stored_files

    async def scenario() -> None:
        context = build_context(settings_from_json({"StorageDirectory": str(tmp_path / "storage")}))
        await context.start()
        try:
            for n in range(RUN_LENGTH + 1):
                await context.store(make_instance(f"P{n}"), RequestOrigin("RestApi"))
        finally:
            await context.stop()

    asyncio.run(scenario())
    folders = Counter(path.parent for path in stored_files(tmp_path / "storage"))
    # The store before the first reserved one UUID ahead; the others came from runs of RUN_LENGTH.
    assert sum(folders.values()) == RUN_LENGTH + 1
    assert len(folders) <= 3
    assert max(folders.values()) >= RUN_LENGTH - 1
