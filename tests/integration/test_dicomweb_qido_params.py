"""Properties of the QIDO-RS query-string parsing (``dicomweb/qido.py``)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orthanc_py.core.errors import OrthancError
from orthanc_py.core.identifiers import ResourceLevel
from orthanc_py.dicomweb.qido import ATTRIBUTES, STUDY_ATTRIBUTES, QidoQuery

KEYWORDS = {
    "PatientName": 0x00100010,
    "PatientID": 0x00100020,
    "StudyDate": 0x00080020,
    "StudyInstanceUID": 0x0020000D,
    "SeriesInstanceUID": 0x0020000E,
    "Modality": 0x00080060,
    "AccessionNumber": 0x00080050,
}
values = st.text(st.characters(blacklist_characters=",\\%", blacklist_categories=("Cs",)), max_size=12)
keys = st.sampled_from(sorted(KEYWORDS)) | st.sampled_from([f"{t:08X}" for t in KEYWORDS.values()])


def tag_of(key: str) -> int:
    return KEYWORDS.get(key) or int(key, 16)


@given(st.lists(values, min_size=1, max_size=5), keys)
def test_comma_lists_become_dicom_lists(items: list[str], key: str) -> None:
    query = QidoQuery.parse([(key, ",".join(items))])
    assert query.filters == {tag_of(key): "\\".join(items)}


@given(values, keys)
def test_backslashes_are_dropped(value: str, key: str) -> None:
    query = QidoQuery.parse([(key, "\\" + value + "\\")])
    assert query.filters[tag_of(key)] == value


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=0, max_value=10**9))
def test_limit_and_offset(limit: int, offset: int) -> None:
    query = QidoQuery.parse([("limit", str(limit)), ("offset", str(offset))])
    assert (query.limit, query.offset) == (limit, offset)


@given(st.sampled_from(["limit", "offset"]), st.text(max_size=6))
def test_bad_numbers_are_client_errors(name: str, text: str) -> None:
    try:
        ok = int(text) >= 0
    except ValueError:
        ok = False
    if ok:
        QidoQuery.parse([(name, text)])
    else:
        with pytest.raises(OrthancError) as raised:
            QidoQuery.parse([(name, text)])
        assert raised.value.http_status == 400


@given(st.text(max_size=8))
def test_fuzzymatching(value: str) -> None:
    if value in ("true", "false"):
        assert QidoQuery.parse([("fuzzymatching", value)]).fuzzy == (value == "true")
    else:
        with pytest.raises(OrthancError):
            QidoQuery.parse([("fuzzymatching", value)])


@given(st.lists(st.tuples(keys, values), max_size=5), st.sampled_from(list(ATTRIBUTES)))
def test_result_fields(filters: list[tuple[str, str]], level: ResourceLevel) -> None:
    query = QidoQuery.parse(filters)
    fields = query.result_fields(level)
    assert set(ATTRIBUTES[level]) <= fields
    assert set(query.filters) <= fields
    study_given = any(tag_of(k) == 0x0020000D for k, _ in filters)
    if level is not ResourceLevel.STUDY:
        assert (set(STUDY_ATTRIBUTES) <= fields) or study_given


TAG_SYNTAX = re.compile(r"\s*[0-9a-fA-F]{4}[,-][0-9a-fA-F]{4}\s*")


@given(st.text(min_size=1, max_size=10).filter(lambda s: not s.isalnum() and not TAG_SYNTAX.fullmatch(s)))
def test_unknown_keys_are_ignored(key: str) -> None:
    assert QidoQuery.parse([(key, "x")]).filters == {}


def test_includefield() -> None:
    query = QidoQuery.parse([("includefield", "00081030,InstitutionName,NotATag"), ("includefield", "all")])
    assert query.include_fields == [0x00081030, 0x00080080]
    assert query.include_all
