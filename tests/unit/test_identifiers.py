"""Orthanc public IDs: SHA-1 of the identifying UIDs, formatted as five groups of 8 hex digits."""

from __future__ import annotations

import hashlib
import re

from hypothesis import given
from hypothesis import strategies as st

from orthanc_py.core.identifiers import InstanceIdentifiers, ResourceLevel, hash_public_id, is_public_id

UID = st.from_regex(r"[0-9]{1,8}(\.[0-9]{1,8}){0,6}", fullmatch=True)
TEXT = st.text(max_size=64)


def test_known_ids_match_orthanc() -> None:
    # IDs answered by the real Orthanc 1.12 for fixtures/dicom/p1-st1-se1-i1.dcm (see fixtures/compat).
    ids = InstanceIdentifiers(
        "PAT001",
        "1.2.826.0.1.3680043.10.1.2.1.1",
        "1.2.826.0.1.3680043.10.1.3.1.1.1",
        "1.2.826.0.1.3680043.10.1.4.1.1.1.1",
    )
    assert ids.patient == "fbac6349-6dfbb3d4-713f5301-f07de821-04ec891e"
    assert ids.study == "f1d33ebb-63945f28-abe9d7b1-02580305-9d372635"
    assert ids.series == "c295f936-58af51b4-0bc430df-6468a0f0-cf4feddf"
    assert ids.instance == "aef849b4-dd77d308-af7468ae-e4088d7c-6b7cb71d"


def test_documented_example() -> None:
    # The Orthanc Book's example: PatientID "ab" hashes to this patient ID.
    digest = hashlib.sha1(b"ab").hexdigest()
    assert hash_public_id("ab") == "-".join(digest[i : i + 8] for i in range(0, 40, 8))


@given(TEXT, UID, UID, UID)
def test_levels_hash_their_ancestry(patient: str, study: str, series: str, instance: str) -> None:
    ids = InstanceIdentifiers(patient, study, series, instance)
    assert ids.patient == hash_public_id(patient)
    assert ids.study == hash_public_id(patient, study)
    assert ids.series == hash_public_id(patient, study, series)
    assert ids.instance == hash_public_id(patient, study, series, instance)
    for level in ResourceLevel:
        assert is_public_id(ids.public_id(level))


@given(TEXT, TEXT)
def test_same_uids_same_id_different_uids_different_id(a: str, b: str) -> None:
    assert (hash_public_id(a) == hash_public_id(b)) == (a == b)


@given(st.text(max_size=50))
def test_is_public_id_rejects_garbage(text: str) -> None:
    assert is_public_id(text) == bool(re.fullmatch(r"([0-9a-f]{8}-){4}[0-9a-f]{8}", text))


def test_level_names() -> None:
    assert ResourceLevel.parse("Study") is ResourceLevel.STUDY
    assert ResourceLevel.parse("instances") is ResourceLevel.INSTANCE
    assert ResourceLevel.STUDY.plural == "studies"
    assert ResourceLevel.SERIES.parent is ResourceLevel.STUDY
    assert ResourceLevel.INSTANCE.child is None
