"""Tests of orthanc_py.core.matching: Orthanc's /tools/find, C-FIND and QIDO-RS matching rules.

The unit tests port Orthanc's own ``DatabaseLookupTests.cpp`` and the examples of the Orthanc Book
(``users/rest.rst``, "Performing Finds within Orthanc"); the property tests check the invariants of
the module, including that the SQL hints never lose a match (against a Python emulation of SQL
``LIKE ... ESCAPE`` and, for the emulation itself, against SQLite).
"""

from __future__ import annotations

import dataclasses
import json
import re
import sqlite3
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from orthanc_py.core.errors import ErrorCode, OrthancError
from orthanc_py.core.matching import (
    DATE_TIME_VRS,
    LIKE_ESCAPE,
    ORTHANC_IDENTIFIER_TAGS,
    WILDCARD_VRS,
    ConstraintError,
    ConstraintKind,
    SearchColumn,
    SqlHint,
    TagConstraint,
    escape_like,
    fold_case,
    format_tag,
    is_orthanc_identifier,
    normalize_for_search,
    normalize_identifier,
    parse_constraint,
    parse_dicom_constraint,
    sqlite_lower,
    wildcard_match,
    wildcard_to_like,
    wildcard_to_regex,
)

PATIENT_NAME = 0x00100010
PATIENT_ID = 0x00100020
PATIENT_BIRTH_DATE = 0x00100030
STUDY_DATE = 0x00080020
STUDY_TIME = 0x00080030
ACCESSION_NUMBER = 0x00080050
MODALITY = 0x00080060
IMAGE_TYPE = 0x00080008
STUDY_DESCRIPTION = 0x00081030
SERIES_DESCRIPTION = 0x0008103E
STUDY_INSTANCE_UID = 0x0020000D
DEVICE_SERIAL_NUMBER = 0x00181000
REFERENCED_STUDY_SEQUENCE = 0x00081110

K = ConstraintKind


def c(
    kind: ConstraintKind,
    *values: str,
    cs: bool = True,
    mandatory: bool = True,
    identifier: bool = False,
    main: bool = False,
    tag: int = PATIENT_NAME,
) -> TagConstraint:
    return TagConstraint(tag, kind, values, cs, mandatory, identifier, main)


def parse(
    tag: int, vr: str, value: str, cs: bool = True, identifier: bool = False, main: bool = False
) -> TagConstraint:
    result = parse_constraint(tag, vr, value, cs, is_identifier=identifier, is_main_tag=main)
    assert result is not None
    return result


# ==================================================================================================
# Emulation of the SQL side (independent of the module's own wildcard code)


def sql_like(value: str, pattern: str, escape: str | None) -> bool:
    """SQL ``value LIKE pattern [ESCAPE escape]``, case-sensitive, ``_`` = one character."""
    tokens: list[tuple[str, str]] = []  # ("%", ""), ("_", ""), ("lit", ch)
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if escape is not None and ch == escape:
            assert i + 1 < len(pattern), "dangling escape character"
            tokens.append(("lit", pattern[i + 1]))
            i += 2
            continue
        tokens.append((ch, "") if ch in "%_" else ("lit", ch))
        i += 1
    # reachable[j]: the first j tokens can match the prefix consumed so far
    reachable = [False] * (len(tokens) + 1)
    reachable[0] = True
    for j, (kind, _) in enumerate(tokens):
        if kind == "%" and reachable[j]:
            reachable[j + 1] = True
    for ch in value:
        nxt = [False] * (len(tokens) + 1)
        for j, (kind, lit) in enumerate(tokens):
            if not reachable[j]:
                continue
            if kind == "%":
                nxt[j] = True
            elif kind == "_" or lit == ch:
                nxt[j + 1] = True
        for j, (kind, _) in enumerate(tokens):
            if kind == "%" and nxt[j]:
                nxt[j + 1] = True
        reachable = nxt
    return reachable[len(tokens)]


def column_value(hint: SqlHint, value: str) -> str:
    return value if hint.column is SearchColumn.RAW else normalize_for_search(value)


def eval_hint(hint: SqlHint, value: str) -> bool:
    """The hint evaluated on the column the backend would hold for ``value`` (binary collation)."""
    col = column_value(hint, value)
    vals = hint.values
    if hint.op == "=":
        return col == vals[0]
    if hint.op == "<=":
        return col <= vals[0]
    if hint.op == ">=":
        return col >= vals[0]
    if hint.op == "BETWEEN":
        return vals[0] <= col <= vals[1]
    if hint.op == "IN":
        return col in vals
    assert hint.op == "LIKE"
    return sql_like(col, vals[0], hint.escape)


@pytest.fixture(scope="module")
def db() -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(":memory:")
    conn.execute("PRAGMA case_sensitive_like = ON")
    yield conn
    conn.close()


def sqlite_hint(conn: sqlite3.Connection, hint: SqlHint, value: str) -> bool:
    fragment, params = hint.to_sql("?")
    row = conn.execute(f"SELECT {fragment}", (column_value(hint, value), *params)).fetchone()
    return bool(row[0])


# ==================================================================================================
# Normalisations


def test_format_tag() -> None:
    assert format_tag(PATIENT_NAME) == "0010,0010"
    assert format_tag(0x7FE00010) == "7fe0,0010"


def test_fold_case_uppercases_with_accents_kept() -> None:
    # Toolbox::ToUpperCaseWithAccents upper-cases accented letters, it does not strip accents.
    assert fold_case("josé") == "JOSÉ"
    assert fold_case("JOSÉ") == "JOSÉ"
    assert fold_case("Гусева") == "ГУСЕВА"
    assert fold_case("jose") != fold_case("josé")
    # one character at a time (simple mapping), never a longer string
    assert fold_case("straße") == "STRAßE"
    assert fold_case("ǆ") == "Ǆ"
    assert fold_case("ᾳ") == "ᾼ"
    assert fold_case("ﬁ") == "ﬁ"
    assert fold_case("µ") == "Μ"
    assert normalize_for_search("doe^John") == "DOE^JOHN"


@given(st.text())
def test_fold_case_maps_character_by_character(text: str) -> None:
    folded = fold_case(text)
    assert len(folded) == len(text)
    if text.isascii():
        assert folded == text.upper()


def test_normalize_identifier_is_orthancs() -> None:
    # ServerToolbox::NormalizeIdentifier
    assert normalize_identifier(" jo_sé%1\t") == "JO S 1"
    assert normalize_identifier("José") == "JOS"
    assert normalize_identifier("Гусева*") == "*"
    assert normalize_identifier("1.2.840.113619") == "1.2.840.113619"
    # Orthanc's NEWS: "1234", "_1234" and "%1234" were the same PatientID for /tools/lookup.
    assert normalize_identifier("1234") == normalize_identifier("_1234") == normalize_identifier("%1234")
    assert normalize_identifier("a\nb") == "AB"


@given(st.text())
def test_normalize_identifier_output_is_printable_ascii_without_like_specials(text: str) -> None:
    n = normalize_identifier(text)
    assert all(" " <= ch <= "~" for ch in n)
    assert "%" not in n and "_" not in n
    assert n == n.strip(" ") == n.upper()


def test_identifier_tags() -> None:
    assert is_orthanc_identifier(PATIENT_ID)
    assert is_orthanc_identifier(STUDY_DATE)
    assert is_orthanc_identifier(STUDY_DESCRIPTION)
    assert not is_orthanc_identifier(MODALITY)
    assert len(ORTHANC_IDENTIFIER_TAGS) == 9


# ==================================================================================================
# Parsing (DatabaseLookup::AddDicomConstraintInternal)


def test_empty_query_is_universal() -> None:
    assert parse_constraint(PATIENT_NAME, "PN", "", False) is None
    assert parse_constraint(STUDY_DATE, "DA", "", True) is None


def test_lone_dash_on_date_is_universal() -> None:
    assert parse_constraint(STUDY_DATE, "DA", "-", False) is None


def test_book_example_wildcard_patient_name() -> None:
    con = parse(PATIENT_NAME, "PN", "*Doe*", cs=False)
    assert con.kind is K.WILDCARD and con.value == "*Doe*"
    assert con.matches("John^Doe")
    assert con.matches("DOE^JANE")
    assert not con.matches("Smith^John")
    assert not con.matches(None)


def test_book_example_study_date_open_range() -> None:
    con = parse(STUDY_DATE, "DA", "20180323-")
    assert con.kind is K.GREATER_OR_EQUAL and con.lower == "20180323" and con.upper is None
    assert con.matches("20180323")
    assert con.matches("20190101")
    assert not con.matches("20180322")


def test_book_example_study_date_closed_range() -> None:
    con = parse(STUDY_DATE, "DA", "20120101-20121231")
    assert con.kind is K.RANGE and con.values == ("20120101", "20121231")
    assert (con.lower, con.upper) == ("20120101", "20121231")
    assert con.matches("20120101") and con.matches("20120615") and con.matches("20121231")
    assert not con.matches("20111231") and not con.matches("20130101")


def test_upper_bounded_range() -> None:
    con = parse(PATIENT_BIRTH_DATE, "DA", "-2016")
    assert con.kind is K.SMALLER_OR_EQUAL and con.value == "2016" and con.upper == "2016"
    assert con.lower is None


def test_partial_dates_compare_as_plain_strings() -> None:
    # Orthanc compares the strings: "20120315" > "2012", so "-2012" excludes all of 2012.
    con = parse(STUDY_DATE, "DA", "-2012")
    assert con.matches("20111231")
    assert not con.matches("20120315")
    assert parse(STUDY_DATE, "DA", "2012-").matches("20120315")


def test_range_splits_on_first_dash_only() -> None:
    # DT with a negative UTC offset: Orthanc splits at the first "-" anyway.
    con = parse(0x0008002A, "DT", "20200101120000-0500")
    assert con.kind is K.RANGE and con.values == ("20200101120000", "0500")
    con = parse(STUDY_TIME, "TM", "120000-130000")
    assert con.matches("123000") and not con.matches("130001")


def test_range_takes_precedence_over_list_on_dates() -> None:
    con = parse(STUDY_DATE, "DA", "20180101\\20190101-")
    assert con.kind is K.GREATER_OR_EQUAL and con.value == "20180101\\20190101"


def test_dash_is_not_a_range_outside_date_vrs() -> None:
    # DatabaseLookupTests: "2012-2016" on SeriesDescription (LO) is a plain Equal.
    con = parse(SERIES_DESCRIPTION, "LO", "2012-2016")
    assert con.kind is K.EQUAL and con.value == "2012-2016"


def test_book_example_modality_list() -> None:
    con = parse(MODALITY, "CS", "CT\\MR")
    assert con.kind is K.LIST and con.values == ("CT", "MR")
    assert con.matches("CT") and con.matches("MR")
    assert not con.matches("CR") and not con.matches("CT\\MR")
    assert not con.matches("ct")


def test_book_example_device_serial_number() -> None:
    assert parse(DEVICE_SERIAL_NUMBER, "LO", "123").kind is K.EQUAL
    con = parse(DEVICE_SERIAL_NUMBER, "LO", "123\\abc")
    assert con.kind is K.LIST and con.matches("abc") and not con.matches("123\\abc")


def test_book_example_patient_id_star() -> None:
    # {"Modality": "CR", "StudyDate": "20180323-", "PatientID": "*"}: "*" is a real constraint on
    # a wildcard VR (LO): any present value, the empty string included, but not a missing tag.
    con = parse(PATIENT_ID, "LO", "*", identifier=True)
    assert con.kind is K.WILDCARD and con.is_universal
    assert con.matches("") and con.matches("ABC") and con.matches("Гусева")
    assert not con.matches(None)
    assert parse(MODALITY, "CS", "CR").matches("CR")


def test_list_items_are_literal_and_keep_empty_items() -> None:
    con = parse(PATIENT_NAME, "PN", "A*\\B")
    assert con.kind is K.LIST and con.values == ("A*", "B")
    assert con.matches("A*") and not con.matches("AB")
    con = parse(MODALITY, "CS", "CT\\")
    assert con.values == ("", "CT") and con.matches("")


def test_list_values_are_deduplicated_and_sorted() -> None:
    assert parse(MODALITY, "CS", "MR\\CT\\MR").values == ("CT", "MR")


def test_wildcards_only_on_wildcard_vrs() -> None:
    for vr in sorted(WILDCARD_VRS):
        assert parse(PATIENT_NAME, vr, "HE?O").kind is K.WILDCARD
    # UI, DA, … : a "*" or "?" there is an error in Orthanc >= 1.6.0 (HTTP 400)
    for vr, tag, value in [
        ("UI", STUDY_INSTANCE_UID, "1.2.*"),
        ("DA", STUDY_DATE, "*"),
        ("DA", STUDY_DATE, "2018*"),
        ("TM", STUDY_TIME, "12?000"),
        ("IS", 0x00200013, "1*"),
        ("UN", 0x00091001, "*"),
    ]:
        with pytest.raises(ConstraintError, match="Wildcards are not allowed on tag"):
            parse_constraint(tag, vr, value, False)


def test_wildcard_in_range_bound_is_an_error() -> None:
    with pytest.raises(ConstraintError, match="0008,0020"):
        parse_constraint(STUDY_DATE, "DA", "2018*-", True)


def test_constraint_error_is_orthanc_parameter_out_of_range() -> None:
    with pytest.raises(ConstraintError) as info:
        parse_constraint(STUDY_DATE, "DA", "*", True)
    err = info.value
    assert isinstance(err, OrthancError) and isinstance(err, ValueError)
    assert err.code is ErrorCode.ParameterOutOfRange and err.http_status == 400


def test_vr_is_normalized_and_unknown_vrs_are_plain() -> None:
    assert parse(STUDY_DATE, " da ", "2012-").kind is K.GREATER_OR_EQUAL
    assert parse(0x00280106, "US or SS", "12-13").kind is K.EQUAL
    assert DATE_TIME_VRS == {"DA", "DT", "TM"}


def test_case_sensitivity_and_flags_are_propagated() -> None:
    con = parse_constraint(PATIENT_ID, "LO", "abc", False, is_identifier=True, mandatory=False)
    assert con is not None
    assert (con.case_sensitive, con.is_identifier, con.mandatory) == (False, True, False)


def test_dicom_constraint_is_case_sensitive_except_pn() -> None:
    # DatabaseLookupTests "FromDicom": PatientID (LO) ignores caseSensitivePN, PatientName uses it.
    con = parse_dicom_constraint(PATIENT_ID, "LO", "HELLO", False)
    assert con is not None and con.case_sensitive
    con = parse_dicom_constraint(PATIENT_NAME, "PN", "HELLO", False)
    assert con is not None and not con.case_sensitive
    con = parse_dicom_constraint(PATIENT_NAME, "PN", "HELLO", True)
    assert con is not None and con.case_sensitive
    assert parse_dicom_constraint(PATIENT_NAME, "PN", "", True) is None
    with pytest.raises(ConstraintError):
        parse_dicom_constraint(REFERENCED_STUDY_SEQUENCE, "SQ", "x", True)


def test_rest_constraint_case_flag_applies_to_every_vr() -> None:
    # AddRestConstraint passes /tools/find's "CaseSensitive" down for all VRs, not only PN.
    assert parse(ACCESSION_NUMBER, "SH", "abc", cs=False).matches("ABC")
    assert not parse(ACCESSION_NUMBER, "SH", "abc", cs=True).matches("ABC")


# ==================================================================================================
# TagConstraint: Orthanc's DatabaseLookupTests "SingleConstraint"


def test_invalid_constructions() -> None:
    with pytest.raises(ConstraintError):
        c(K.EQUAL, "HEL*LO")
    with pytest.raises(ConstraintError):
        c(K.EQUAL, "HEL?LO")
    with pytest.raises(ConstraintError):
        c(K.LIST)
    with pytest.raises(ConstraintError):
        c(K.EQUAL, "a", "b")
    with pytest.raises(ConstraintError):
        c(K.RANGE, "a")
    with pytest.raises(ConstraintError):
        c(K.GREATER_OR_EQUAL, "2018*")
    with pytest.raises(ConstraintError):
        TagConstraint(0x1_0000_0000, K.EQUAL, ("a",), True)


def test_equal_case_sensitive() -> None:
    con = c(K.EQUAL, "HELLO")
    assert con.matches("HELLO") and not con.matches("hello")
    assert con.case_sensitive and con.kind is K.EQUAL and con.mandatory
    assert not con.matches(None)


def test_equal_case_insensitive() -> None:
    con = c(K.EQUAL, "HELlo", cs=False)
    assert con.matches("HELLO") and con.matches("hello")
    assert con.value == "HELlo"


def test_wildcard_case_sensitive() -> None:
    con = c(K.WILDCARD, "HE*L?O")
    assert con.matches("HELLO") and con.matches("HELLLLLO") and con.matches("HELxO")
    assert not con.matches("hello")


def test_wildcard_case_insensitive() -> None:
    con = c(K.WILDCARD, "HE*l?o", cs=False)
    assert con.matches("HELLO") and con.matches("HELLLLLO") and con.matches("HELxO")
    assert con.matches("hello")


def test_smaller_or_equal() -> None:
    con = c(K.SMALLER_OR_EQUAL, "123")
    assert con.matches("120") and con.matches("123") and not con.matches("124")


def test_greater_or_equal_optional() -> None:
    con = c(K.GREATER_OR_EQUAL, "123", mandatory=False)
    assert not con.matches("122") and con.matches("123") and con.matches("124")
    assert not con.mandatory
    assert con.matches(None)  # optional constraint: a missing tag matches


def test_list_case_sensitivity() -> None:
    con = c(K.LIST, "CT", "MR")
    assert con.matches("CT") and con.matches("MR")
    assert not con.matches("ct") and not con.matches("mr")
    with pytest.raises(ValueError):
        _ = con.value
    con = c(K.LIST, "ct", "mr", cs=False)
    assert con.matches("CT") and con.matches("MR") and con.matches("ct") and con.matches("mr")


def test_present_but_empty_value_is_a_value() -> None:
    assert not c(K.EQUAL, "A").matches("")
    assert c(K.WILDCARD, "*").matches("")
    assert not c(K.WILDCARD, "?").matches("")


def test_multi_valued_stored_value_is_compared_whole() -> None:
    assert not parse(IMAGE_TYPE, "CS", "ORIGINAL").matches("ORIGINAL\\PRIMARY")
    assert parse(IMAGE_TYPE, "CS", "*PRIMARY*").matches("ORIGINAL\\PRIMARY\\AXIAL")


def test_case_insensitive_matching_over_accents() -> None:
    # Orthanc issue #56 and its integration test (Cyrillic PatientName, CaseSensitive false).
    assert parse(PATIENT_NAME, "PN", "гусева*", cs=False, identifier=True).matches("Гусева^Анна")
    assert parse(PATIENT_NAME, "PN", "Гусева*", cs=False, identifier=True).matches("Гусева^Анна")
    assert not parse(PATIENT_NAME, "PN", "гусева*", cs=True, identifier=True).matches("Гусева^Анна")
    assert parse(PATIENT_NAME, "PN", "josé", cs=False).matches("JOSÉ")
    # no accent folding: é is not E
    assert not parse(PATIENT_NAME, "PN", "jose", cs=False).matches("JOSÉ")


def test_question_mark_matches_one_ascii_character() -> None:
    con = parse(PATIENT_NAME, "PN", "Jos?", cs=False)
    assert con.matches("Josh") and con.matches("JOSH")
    assert not con.matches("José")  # one byte in Orthanc's regex: é is two
    assert not con.matches("Jos")
    assert parse(PATIENT_NAME, "PN", "Jos*").matches("José")


def test_regex_special_characters_are_literal() -> None:
    con = parse(STUDY_DESCRIPTION, "LO", "a.b(c)[d]{e}+f|g^h$i\\\\*")  # ends with "\\" then "*"
    assert con.kind is K.LIST  # a backslash makes a list, even with wildcards
    con = parse(STUDY_DESCRIPTION, "LO", "a.b(c)[d]{e}+f|g^h$i/*")
    assert con.kind is K.WILDCARD
    assert con.matches("a.b(c)[d]{e}+f|g^h$i/xyz")
    assert not con.matches("aXb(c)[d]{e}+f|g^h$i/xyz")


def test_wildcard_star_matches_newlines() -> None:
    assert parse(0x00324000, "LT", "line1*line3").matches("line1\nline2\nline3")


def test_identifier_prefilter_quirks() -> None:
    # DicomIdentifiers lookup: normalize_identifier("A_") == "A", which is NOT LIKE 'A_'.
    assert not parse(PATIENT_ID, "LO", "A?", identifier=True).matches("A_")
    assert parse(PATIENT_ID, "LO", "A?", identifier=False).matches("A_")
    assert parse(PATIENT_ID, "LO", "A?", identifier=True).matches("AB")
    # Case-sensitive identifiers stay case-sensitive (IsMatch runs after the prefilter) ...
    assert not parse(PATIENT_ID, "LO", "abc", cs=True, identifier=True).matches("ABC")
    assert parse(PATIENT_ID, "LO", "abc", cs=False, identifier=True).matches("ABC")
    # ... and "_" and " " are different in IsMatch though equal in the prefilter.
    assert not parse(PATIENT_ID, "LO", "A_B", identifier=True).matches("A B")
    # "ı" upper-cases to "I" but is dropped by NormalizeIdentifier.
    assert parse(PATIENT_ID, "LO", "ı", cs=False).matches("i")
    assert not parse(PATIENT_ID, "LO", "ı", cs=False, identifier=True).matches("i")
    # dates: identity
    assert parse(STUDY_DATE, "DA", "20120101-20121231", identifier=True).matches("20120601")


def test_sqlite_main_tag_prefilter() -> None:
    assert sqlite_lower("ÉCOLE Réé") == "École réé"
    # Orthanc + SQLite: lower(value) LIKE lower('%réé%') only folds ASCII letters.
    assert parse(SERIES_DESCRIPTION, "LO", "*réé*", cs=False).matches("THORAX RÉÉVALUATION")
    assert not parse(SERIES_DESCRIPTION, "LO", "*réé*", cs=False, main=True).matches("THORAX RÉÉVALUATION")
    assert parse(SERIES_DESCRIPTION, "LO", "*thorax réé*", cs=False, main=True).matches("THORAX réévaluation")
    assert not parse(SERIES_DESCRIPTION, "LO", "école", cs=False, main=True).matches("ÉCOLE")
    assert parse(SERIES_DESCRIPTION, "LO", "École", cs=False, main=True).matches("ÉCOLE")
    assert parse(SERIES_DESCRIPTION, "LO", "a-é\\b", cs=False, main=True).matches("A-é")
    # case-sensitive main tags and identifiers are unaffected
    assert not parse(SERIES_DESCRIPTION, "LO", "*réé*", cs=True, main=True).matches("THORAX RÉÉVALUATION")
    assert parse(PATIENT_NAME, "PN", "müller*", cs=False, identifier=True, main=True).matches("MÜLLER^JÖRG")
    assert not parse(SERIES_DESCRIPTION, "LO", "x", cs=False, main=True).sql_hint().exact
    assert parse(SERIES_DESCRIPTION, "LO", "x", cs=True, main=True).sql_hint().exact


def test_str_mimics_orthanc_format() -> None:
    assert str(c(K.EQUAL, "HELLO")) == "0010,0010 == HELLO"
    assert str(c(K.WILDCARD, "*Doe*")) == "0010,0010 ~~ *Doe*"
    assert str(c(K.LIST, "MR", "CT")) == "0010,0010 IN [ CT, MR ]"
    assert str(c(K.RANGE, "1", "2")) == "1 <= 0010,0010 <= 2"
    assert str(c(K.SMALLER_OR_EQUAL, "2")) == "0010,0010 <= 2"
    assert str(c(K.GREATER_OR_EQUAL, "1")) == "0010,0010 >= 1"


def test_dataclass_replace_recomputes_keys() -> None:
    con = dataclasses.replace(parse(PATIENT_NAME, "PN", "doe"), case_sensitive=False)
    assert con.matches("DOE")
    assert dataclasses.replace(con, kind=K.WILDCARD, values=("D*",)).matches("doe")


def test_constraints_are_hashable_values() -> None:
    a = parse(MODALITY, "CS", "MR\\CT")
    b = c(K.LIST, "CT", "MR", tag=MODALITY)
    assert a == b and hash(a) == hash(b)
    assert {a, b} == {a}


# ==================================================================================================
# Wildcard helpers


def test_wildcard_to_like_escapes_like_specials() -> None:
    assert wildcard_to_like("*50%_\\x?") == "%50\\%\\_\\\\x_"
    assert escape_like("a%b_c\\d") == "a\\%b\\_c\\\\d"


def test_wildcard_to_regex() -> None:
    rx = wildcard_to_regex("HE*l?o", False)
    assert rx.fullmatch("HELLO") and rx.fullmatch(fold_case("hello"))
    assert not rx.fullmatch("HELL")
    assert wildcard_to_regex("a**b").pattern == "a.*b"


# ==================================================================================================
# SQL hints


def test_sql_hint_equal() -> None:
    assert parse(PATIENT_ID, "LO", "abc").sql_hint() == SqlHint(SearchColumn.RAW, "=", ("abc",), True)
    hint = parse(PATIENT_NAME, "PN", "josé", cs=False).sql_hint()
    assert (hint.column, hint.op, hint.values, hint.exact) == (SearchColumn.FOLDED, "=", ("JOSÉ",), True)


def test_sql_hint_ranges() -> None:
    hint = parse(STUDY_DATE, "DA", "20100101-20151231").sql_hint()
    assert (hint.op, hint.values) == ("BETWEEN", ("20100101", "20151231"))
    assert parse(STUDY_DATE, "DA", "-2012").sql_hint().op == "<="
    assert parse(STUDY_DATE, "DA", "2015-").sql_hint().op == ">="


def test_sql_hint_list() -> None:
    hint = parse(MODALITY, "CS", "mr\\CT\\MR", cs=False).sql_hint()
    assert (hint.column, hint.op, hint.values) == (SearchColumn.FOLDED, "IN", ("CT", "MR"))


def test_sql_hint_like() -> None:
    hint = parse(STUDY_DESCRIPTION, "LO", "*50%_x*").sql_hint()
    assert (hint.column, hint.op, hint.values, hint.escape) == (
        SearchColumn.RAW,
        "LIKE",
        ("%50\\%\\_x%",),
        LIKE_ESCAPE,
    )
    assert hint.exact
    assert not parse(STUDY_DESCRIPTION, "LO", "a?").sql_hint().exact
    star = parse(STUDY_DESCRIPTION, "LO", "*").sql_hint()
    assert star.values == ("%",) and star.exact


def test_sql_hint_flags() -> None:
    assert not parse(PATIENT_ID, "LO", "abc", identifier=True).sql_hint().exact
    assert c(K.EQUAL, "a", mandatory=False).sql_hint().allow_missing
    assert not c(K.EQUAL, "a").sql_hint().allow_missing


def test_to_sql_rendering() -> None:
    counter = iter(range(1, 100))

    def numbered() -> str:
        return f"${next(counter)}"

    assert parse(MODALITY, "CS", "CT\\MR").sql_hint().to_sql("t.value", numbered) == (
        "t.value IN ($1, $2)",
        ("CT", "MR"),
    )
    assert parse(STUDY_DATE, "DA", "1-2").sql_hint().to_sql("v") == ("v BETWEEN ? AND ?", ("1", "2"))
    assert parse(PATIENT_NAME, "PN", "*a*", cs=False).sql_hint().to_sql("f") == (
        "f LIKE ? ESCAPE '\\'",
        ("%A%",),
    )
    assert parse(PATIENT_ID, "LO", "x").sql_hint().to_sql("v") == ("v = ?", ("x",))


def test_sqlite_executes_hints(db: sqlite3.Connection) -> None:
    rows = ["John^Doe", "DOE^JANE", "50%_off", "50% off", "a\\b", "Zoé", "20120601", ""]
    for con in [
        parse(PATIENT_NAME, "PN", "*Doe*", cs=False),
        parse(PATIENT_NAME, "PN", "*Doe*", cs=True),
        parse(STUDY_DESCRIPTION, "LO", "50%_*"),
        parse(STUDY_DESCRIPTION, "LO", "a\\b"),  # list ("a", "b")
        parse(STUDY_DESCRIPTION, "LO", "a\\*"),
        parse(STUDY_DESCRIPTION, "LO", "zo*", cs=False),
        parse(STUDY_DATE, "DA", "2012-2013"),
        parse(STUDY_DESCRIPTION, "LO", "*"),
    ]:
        hint = con.sql_hint()
        for row in rows:
            assert sqlite_hint(db, hint, row) == con.matches(row), (str(con), row)


# ==================================================================================================
# Property tests

_CHARS = list("aAbBzZ019 .^-%_\\*?éÉeEßıIiſsSДдΓγ中\n")
_PLAIN_CHARS = [ch for ch in _CHARS if ch not in "*?"]
text_st = st.text(alphabet=st.sampled_from(_CHARS), max_size=10) | st.text(max_size=6)
plain_text_st = st.text(alphabet=st.sampled_from(_PLAIN_CHARS), max_size=10) | st.text(max_size=6).filter(
    lambda s: "*" not in s and "?" not in s
)
sqlite_text_st = st.text(
    alphabet=st.sampled_from(_CHARS) | st.characters(codec="utf-8", exclude_characters="\x00"),
    max_size=10,
)


def ascii_swapcase(text: str) -> str:
    return "".join(ch.swapcase() if ch.isascii() else ch for ch in text)


def ascii_lower(text: str) -> str:
    return "".join(ch.lower() if ch.isascii() else ch for ch in text)


@st.composite
def constraints(draw: st.DrawFn) -> TagConstraint:
    kind = draw(st.sampled_from(list(ConstraintKind)))
    cs = draw(st.booleans())
    mandatory = draw(st.booleans())
    identifier = draw(st.booleans())
    main = draw(st.booleans())
    if kind is K.LIST:
        values = tuple(draw(st.lists(text_st, min_size=1, max_size=3)))
    elif kind is K.RANGE:
        values = (draw(plain_text_st), draw(plain_text_st))
    elif kind is K.WILDCARD:
        values = (draw(text_st),)
    else:
        values = (draw(plain_text_st),)
    return TagConstraint(PATIENT_NAME, kind, values, cs, mandatory, identifier, main)


def instantiate(pattern: str, draw: st.DrawFn) -> str:
    """A string the wildcard pattern is likely to match."""
    out: list[str] = []
    for ch in pattern:
        if ch == "*":
            out.append(draw(text_st))
        elif ch == "?":
            out.append(draw(st.sampled_from(_CHARS)))
        else:
            out.append(ch)
    return "".join(out)


@st.composite
def constraint_and_value(draw: st.DrawFn) -> tuple[TagConstraint, str]:
    con = draw(constraints())
    how = draw(st.integers(0, 3))
    if how == 0:
        value = draw(text_st)
    elif con.kind is K.WILDCARD:
        value = instantiate(con.values[0], draw)
    else:
        value = draw(st.sampled_from(con.values))
    if how == 3:
        value = draw(st.sampled_from([ascii_swapcase(value), fold_case(value), ascii_lower(value)]))
    return con, value


@settings(max_examples=400)
@given(constraint_and_value())
def test_sql_hint_never_loses_a_match(case: tuple[TagConstraint, str]) -> None:
    con, value = case
    hint = con.sql_hint()
    if con.matches(value):
        assert eval_hint(hint, value), (con, value, hint)
    if hint.exact:
        assert eval_hint(hint, value) == con.matches(value), (con, value, hint)
    assert hint.allow_missing == con.matches(None)


@settings(max_examples=300)
@given(text_st, sqlite_text_st)
def test_like_emulation_agrees_with_sqlite(pattern: str, value: str) -> None:
    assume("\x00" not in pattern)  # SQLite's LIKE stops at NUL (C strings)
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute("PRAGMA case_sensitive_like = ON")
        for pat in (wildcard_to_like(pattern), escape_like(pattern)):
            row = conn.execute("SELECT ? LIKE ? ESCAPE '\\'", (value, pat)).fetchone()
            assert bool(row[0]) == sql_like(value, pat, LIKE_ESCAPE), (value, pat)
    finally:
        conn.close()


@settings(max_examples=200)
@given(constraint_and_value())
def test_sqlite_agrees_with_hint_emulation(db: sqlite3.Connection, case: tuple[TagConstraint, str]) -> None:
    con, value = case
    for text in (value, *con.values):
        assume("\x00" not in text and all(not 0xD800 <= ord(ch) <= 0xDFFF for ch in text))
    hint = con.sql_hint()
    assert sqlite_hint(db, hint, value) == eval_hint(hint, value)


@given(text_st, st.booleans(), st.booleans(), st.booleans())
def test_lone_star_matches_every_present_value(
    value: str, cs: bool, identifier: bool, mandatory: bool
) -> None:
    con = parse_constraint(PATIENT_ID, "LO", "*", cs, is_identifier=identifier, mandatory=mandatory)
    assert con is not None and con.is_universal
    assert con.matches(value)
    assert con.matches(None) == (not mandatory)


@given(plain_text_st, st.booleans(), st.booleans(), st.booleans())
def test_value_matches_itself(value: str, cs: bool, identifier: bool, main: bool) -> None:
    assert c(K.EQUAL, value, cs=cs, identifier=identifier, main=main).matches(value)
    assert c(K.WILDCARD, value, cs=cs, identifier=identifier, main=main).matches(value)
    assert c(K.LIST, value, cs=cs, identifier=identifier, main=main).matches(value)
    if value and "\\" not in value:
        assert parse(PATIENT_ID, "LO", value, cs=cs, identifier=identifier, main=main).matches(value)


@given(plain_text_st, plain_text_st, text_st, st.booleans(), st.booleans(), st.booleans())
def test_list_is_a_disjunction(a: str, b: str, value: str, cs: bool, identifier: bool, main: bool) -> None:
    listed = c(K.LIST, a, b, cs=cs, identifier=identifier, main=main)
    either = c(K.EQUAL, a, cs=cs, identifier=identifier, main=main).matches(value) or c(
        K.EQUAL, b, cs=cs, identifier=identifier, main=main
    ).matches(value)
    assert listed.matches(value) == either
    assert listed.matches(a) and listed.matches(b)


@given(constraint_and_value())
def test_case_insensitive_matching_ignores_ascii_case(case: tuple[TagConstraint, str]) -> None:
    con, value = case
    insensitive = dataclasses.replace(con, case_sensitive=False)
    expected = insensitive.matches(value)
    for variant in (ascii_swapcase(value), value.upper() if value.isascii() else value, ascii_lower(value)):
        assert insensitive.matches(variant) == expected
    swapped = dataclasses.replace(insensitive, values=tuple(ascii_swapcase(v) for v in con.values))
    assert swapped.matches(value) == expected


@given(plain_text_st, plain_text_st, st.booleans())
def test_range_contains_its_bounds(a: str, b: str, cs: bool) -> None:
    def key(s: str) -> str:
        return s if cs else fold_case(s)

    lo, hi = sorted((a, b), key=key)
    con = c(K.RANGE, lo, hi, cs=cs)
    assert con.matches(lo) and con.matches(hi)
    assert c(K.GREATER_OR_EQUAL, lo, cs=cs).matches(hi)
    assert c(K.SMALLER_OR_EQUAL, hi, cs=cs).matches(lo)


_dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31))


@given(_dates, _dates, _dates, st.booleans())
def test_date_range_matches_like_dates(a: date, b: date, d: date, identifier: bool) -> None:
    lo, hi = sorted((a.strftime("%Y%m%d"), b.strftime("%Y%m%d")))
    day = d.strftime("%Y%m%d")
    con = parse(STUDY_DATE, "DA", f"{lo}-{hi}", cs=False, identifier=identifier)
    assert con.matches(lo) and con.matches(hi)
    assert con.matches(day) == (min(a, b) <= d <= max(a, b))


@given(text_st, text_st, st.booleans())
def test_wildcard_regex_agrees_with_matcher(pattern: str, value: str, cs: bool) -> None:
    key = value if cs else fold_case(value)
    pat = pattern if cs else fold_case(pattern)
    assert (wildcard_to_regex(pattern, cs).fullmatch(key) is not None) == wildcard_match(key, pat)


@given(text_st, text_st)
def test_question_mark_any_is_sql_like(pattern: str, value: str) -> None:
    assert wildcard_match(value, pattern, question_mark_any=True) == sql_like(
        value, wildcard_to_like(pattern), LIKE_ESCAPE
    )


@given(text_st)
def test_wildcard_instantiation_matches(pattern: str) -> None:
    # Replacing "*" by anything and "?" by an ASCII character always matches.
    value = re.sub(r"\?", "x", pattern.replace("*", "é*"))
    assert wildcard_match(value, pattern)


def test_long_values_do_not_backtrack_exponentially() -> None:
    value = "a" * 5000
    assert not wildcard_match(value, "*a*a*a*a*a*a*a*a*a*a*b")
    assert parse(0x00324000, "LT", "*a*a*a*a*a*a*a*a*a*a*b").matches(value) is False


# ==================================================================================================
# Recorded answers of the real Orthanc 1.12 (fixtures/compat/find-*.json), replayed on the DICOM
# fixtures: every plain /tools/find (no Limit/Since/OrderBy) must select the same resources.

_REPO = Path(__file__).resolve().parents[2]
_LEVEL_DEPTH = {
    "patient": 1,
    "patients": 1,
    "study": 2,
    "studies": 2,
    "series": 3,
    "instance": 4,
    "instances": 4,
}


def _recorded_finds() -> list[tuple[str, dict[str, Any], dict[str, Any], list[str]]]:
    cases: list[tuple[str, dict[str, Any], dict[str, Any], list[str]]] = []
    for path in sorted((_REPO / "fixtures" / "compat").glob("find-*.json")):
        try:
            scenario = json.loads(path.read_text(encoding="utf-8"))
            steps = scenario["steps"]
        except (OSError, ValueError, KeyError):
            continue
        uploaded: list[str] = []
        for step in steps:
            request, response = step.get("request", {}), step.get("response", {})
            body = request.get("body") or {}
            if request.get("path") == "/instances" and body.get("kind") == "file":
                uploaded.append(body["file"])
                continue
            query = body.get("json")
            if (
                request.get("path") != "/tools/find"
                or not isinstance(query, dict)
                or not isinstance(query.get("Query"), dict)
                or str(query.get("Level", "")).lower() not in _LEVEL_DEPTH
                or any(key in query for key in ("Limit", "Since", "OrderBy"))
            ):
                continue
            cases.append((f"{path.stem}:{json.dumps(query['Query'])}", query, response, list(uploaded)))
    return cases


def _dicom_value(dataset: Any, tag: int) -> str | None:
    if tag not in dataset:
        return None
    value = dataset[tag].value
    if value is None:
        return ""
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value)
    return str(value)


_RECORDED = _recorded_finds()


@pytest.mark.skipif(not _RECORDED, reason="no recorded Orthanc answers in fixtures/compat")
@pytest.mark.parametrize(
    ("query", "response", "files"), [c[1:] for c in _RECORDED], ids=[c[0] for c in _RECORDED]
)
def test_recorded_orthanc_find_answers(
    query: dict[str, Any], response: dict[str, Any], files: list[str]
) -> None:
    pydicom = pytest.importorskip("pydicom")
    from pydicom.datadict import dictionary_VR, tag_for_keyword

    from orthanc_py.core.dicom_tags import MAIN_DICOM_TAGS
    from orthanc_py.core.identifiers import hash_public_id

    main_tags = {tag for tags in MAIN_DICOM_TAGS.values() for tag, _ in tags}

    case_sensitive = bool(query.get("CaseSensitive", False))
    constraints: list[TagConstraint] = []
    try:
        for key, text in query["Query"].items():
            if not isinstance(text, str):
                pytest.skip("non-string query value (REST-level error)")
            tag = int(key.replace(",", ""), 16) if "," in key else tag_for_keyword(key)
            if tag is None:
                pytest.skip("unknown tag name (REST-level error)")
            con = parse_constraint(
                tag,
                dictionary_VR(tag),
                text,
                case_sensitive,
                is_identifier=is_orthanc_identifier(tag),
                is_main_tag=tag in main_tags,
            )
            if con is not None:
                constraints.append(con)
    except ConstraintError as err:
        assert response["status"] == 400
        assert response["body"]["json"]["Details"] == err.details
        return
    assert response["status"] == 200
    depth = _LEVEL_DEPTH[str(query["Level"]).lower()]
    selected: dict[str, bool] = {}
    for name in files:
        dataset = pydicom.dcmread(_REPO / name, stop_before_pixels=True, force=True)
        uids = (
            dataset.PatientID,
            dataset.StudyInstanceUID,
            dataset.SeriesInstanceUID,
            dataset.SOPInstanceUID,
        )
        resource = hash_public_id(*(str(uid) for uid in uids[:depth]))
        if resource not in selected:
            selected[resource] = all(con.matches(_dicom_value(dataset, con.tag)) for con in constraints)
    expected = sorted(item["ID"] if isinstance(item, dict) else item for item in response["body"]["json"])
    assert sorted(r for r, ok in selected.items() if ok) == expected
