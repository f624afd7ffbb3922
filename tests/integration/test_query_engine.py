"""The query engine against a brute-force oracle.

Whatever the constraints, ``find_resources`` (SQL prefilter + exact re-check + paging) must answer
exactly the resources that ``TagConstraint.matches`` accepts when applied to every stored value,
in public-ID order. Hypothesis draws the queries; the index is a real SQLite index built once.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydicom
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

from orthanc_py.app import build_context
from orthanc_py.config import settings_from_json
from orthanc_py.core.context import RequestOrigin, ServerContext
from orthanc_py.core.identifiers import ResourceLevel
from orthanc_py.core.matching import is_orthanc_identifier, parse_constraint
from orthanc_py.core.query import FindQuery, find_resources, vr_of

NAMES = ["DOE^JOHN", "doe^jane", "Smith^Ann", "MÜLLER^JÖRG", "O'NEIL^X", "DOE", "SMITHSON^A", ""]
DATES = ["20100315", "20120101", "20120315", "20151231", "20180323", "19991231", ""]
DESCRIPTIONS = ["CT CHEST", "ct chest", "MR BRAIN", "Brain_MR", "50% dose", "", "CT*"]
MODALITIES = ["CT", "MR", "US"]
PATIENT_NAME, PATIENT_ID, STUDY_DATE, STUDY_DESCRIPTION = 0x00100010, 0x00100020, 0x00080020, 0x00081030
ACCESSION, MODALITY = 0x00080050, 0x00080060


def make_instance(index: int) -> bytes:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    meta.MediaStorageSOPInstanceUID = f"1.2.3.4.{index}"
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("x", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.PatientID = f"P{index % 9}"
    ds.PatientName = NAMES[index % len(NAMES)]
    ds.StudyInstanceUID = f"1.2.3.1.{index % 17}"
    ds.SeriesInstanceUID = f"1.2.3.2.{index}"
    ds.StudyDate = DATES[index % len(DATES)]
    ds.StudyDescription = DESCRIPTIONS[index % len(DESCRIPTIONS)]
    ds.AccessionNumber = f"ACC{index % 5}"
    ds.Modality = MODALITIES[index % len(MODALITIES)]
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()


class Fixture:
    def __init__(self, tmp: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.context: ServerContext = build_context(settings_from_json({"StorageDirectory": str(tmp)}))
        self.loop.run_until_complete(self._fill())

    async def _fill(self) -> None:
        await self.context.start(background=False)
        for i in range(60):
            await self.context.store(make_instance(i), RequestOrigin("RestApi"))

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def close(self) -> None:
        self.run(self.context.stop())
        self.loop.close()


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fixture]:
    fixture = Fixture(tmp_path_factory.mktemp("query-engine"))
    yield fixture
    fixture.close()


async def oracle(context: ServerContext, query: FindQuery) -> list[str]:
    """Every resource of the level, checked one by one with the matching rules (no SQL filter)."""
    async with context.index.transaction() as tx:
        rows = await tx.list_resources(query.level)
        kept = []
        for row in rows:
            own = (await tx.get_main_tags([row.internal_id]))[row.internal_id]
            holder = row
            while holder.level > ResourceLevel.STUDY:
                assert holder.parent_id is not None
                holder = (await tx.get_resources([holder.parent_id]))[0]
            study_tags = (await tx.get_main_tags([holder.internal_id]))[holder.internal_id]
            ok = True
            for tag, text in query.constraints.items():
                constraint = parse_constraint(
                    tag,
                    vr_of(tag),
                    text,
                    query.case_sensitive,
                    is_identifier=is_orthanc_identifier(tag),
                    is_main_tag=True,
                )
                if constraint is None:
                    continue
                value = own.get(tag) if tag == MODALITY else study_tags.get(tag)
                ok = ok and constraint.matches(value)
            if ok:
                kept.append(row.public_id)
    end = query.since + query.limit if query.limit else None
    return kept[query.since : end]


WILD_TEXT = st.text(alphabet="DOEJHNSMIÜöe^*?_%", min_size=0, max_size=6)
NAME_QUERY = st.one_of(st.sampled_from(NAMES), WILD_TEXT, st.sampled_from(["*", "doe*", "*^J*", "D?E*"]))
DATE_QUERY = st.one_of(
    st.sampled_from(DATES[:-1]),
    st.builds(
        lambda a, b: f"{a}-{b}", st.sampled_from(DATES[:-1] + [""]), st.sampled_from(DATES[:-1] + [""])
    ),
)
DESCRIPTION_QUERY = st.one_of(
    st.sampled_from(DESCRIPTIONS), st.sampled_from(["CT*", "*BRAIN*", "50%*", "*_*"])
)
LIST_QUERY = st.lists(st.sampled_from(["ACC0", "ACC1", "ACC9", "acc2"]), min_size=2, max_size=3).map(
    "\\".join
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    level=st.sampled_from([ResourceLevel.STUDY, ResourceLevel.SERIES]),
    name=st.none() | NAME_QUERY,
    date=st.none() | DATE_QUERY,
    description=st.none() | DESCRIPTION_QUERY,
    accession=st.none() | LIST_QUERY,
    modality=st.none() | st.sampled_from(["CT", "MR\\US", "C*"]),
    case_sensitive=st.booleans(),
    since=st.integers(0, 5),
    limit=st.integers(0, 7),
)
def test_find_matches_the_oracle(
    index: Fixture,
    level: ResourceLevel,
    name: str | None,
    date: str | None,
    description: str | None,
    accession: str | None,
    modality: str | None,
    case_sensitive: bool,
    since: int,
    limit: int,
) -> None:
    constraints: dict[int, str] = {}
    for tag, text in (
        (PATIENT_NAME, name),
        (STUDY_DATE, date),
        (STUDY_DESCRIPTION, description),
        (ACCESSION, accession),
    ):
        if text is not None:
            constraints[tag] = text
    if modality is not None and level is ResourceLevel.SERIES:
        constraints[MODALITY] = modality
    query = FindQuery(level, constraints, case_sensitive, since, limit)
    try:
        expected = index.run(oracle(index.context, query))
    except ValueError:  # a wildcard where Orthanc refuses one: the engine must refuse it too
        with pytest.raises(ValueError):
            index.run(_find(index.context, query))
        return
    assert index.run(_find(index.context, query)) == expected


async def _find(context: ServerContext, query: FindQuery) -> list[str]:
    async with context.index.transaction() as tx:
        return [row.public_id for row in await find_resources(context, tx, query)]
