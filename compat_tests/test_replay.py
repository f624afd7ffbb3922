"""Replays every recorded real-Orthanc scenario against orthanc_py, in process.

One test per ``fixtures/compat/*.json``. Each test builds a fresh orthanc_py app with the recorded
configuration (storage and index under ``tmp_path``), sends the recorded requests in order and
compares every answer with the recorded one, except the fields the scenario declares volatile.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .model import fixture_paths, load_fixture
from .replay import format_differences, orthanc_py_client, replay_fixture

FIXTURES = fixture_paths()


@pytest.mark.parametrize("fixture_path", FIXTURES, ids=[path.stem for path in FIXTURES])
def test_replay(fixture_path: Path, tmp_path: Path) -> None:
    fixture = load_fixture(fixture_path)
    with orthanc_py_client(fixture, tmp_path) as client:
        differences = replay_fixture(fixture, client)
    if differences:
        pytest.fail(format_differences(fixture["name"], differences), pytrace=False)
