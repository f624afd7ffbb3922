"""The SQLite index's WAL stays bounded while writers never pause (checkpoints in index/sqlite.py)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from orthanc_py.index import sqlite as sqlite_index
from orthanc_py.index.sqlite import SQLiteIndex


async def write_without_pause(path: Path, seconds: float) -> tuple[int, int]:
    """Commit one small transaction after another for ``seconds``; the WAL size and commits."""
    index = SQLiteIndex(str(path))
    await index.open()
    commits = 0
    try:
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while loop.time() < end:
            async with index.transaction(write=True) as tx:
                # A row of a few hundred bytes: a page or two to append to the WAL per commit.
                await tx.add_pending_files([f"{commits:08d}" + "x" * 200])
            commits += 1
            await asyncio.sleep(0)  # the checkpoints' turn, between two writes
        return os.path.getsize(str(path) + "-wal"), commits
    finally:
        await index.close()


@pytest.fixture
def frequent_checkpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_index, "_CHECKPOINT_INTERVAL", 0.05)
    monkeypatch.setattr(sqlite_index, "_WAL_RESTART_FRAMES", 100)


def test_wal_is_started_over_under_a_steady_write_load(tmp_path: Path, frequent_checkpoints: None) -> None:
    wal_size, commits = asyncio.run(write_without_pause(tmp_path / "index.sqlite", 1.5))
    # Every commit appends at least one 4 KiB page: a WAL never started over holds them all.
    assert commits > 1000
    assert wal_size < commits * 4096


def test_without_the_locked_pass_the_wal_would_grow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The reason for the locked pass: unlocked checkpoints alone never let SQLite restart the WAL."""
    monkeypatch.setattr(sqlite_index, "_CHECKPOINT_INTERVAL", 0.05)
    monkeypatch.setattr(sqlite_index, "_WAL_RESTART_FRAMES", 10**9)
    wal_size, commits = asyncio.run(write_without_pause(tmp_path / "index.sqlite", 1.5))
    assert wal_size >= commits * 4096
