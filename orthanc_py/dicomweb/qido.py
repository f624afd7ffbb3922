"""QIDO-RS: searches for studies, series and instances, answered in the DICOM JSON model.

The query string is read as the Orthanc DICOMweb plugin reads it (``ModuleMatcher`` in QidoRs.cpp):
attribute keys by keyword or tag, ``\\`` removed from values and ``,`` turned into ``\\`` (a list of
UIDs or values), ``limit``/``offset``/``fuzzymatching``/``includefield``. The search itself is the
one query engine of the server (``core/query.py``); the attributes returned per level are those of
PS3.18 table 6.7.1-2 that the plugin returns, plus ``includefield`` and the attributes queried.

``includefield=all`` asks for all available attributes (PS3.18 8.3.4.3). The plugin (1.7 to 1.20)
parses it but answers the default attributes only; here it adds every main DICOM tag of the level
and of its parent levels, which the index holds, so that no file is read for them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ..core.context import ServerContext
from ..core.dicom_tags import (
    MAIN_DICOM_TAGS,
    TAG_SERIES_INSTANCE_UID,
    TAG_SOP_INSTANCE_UID,
    TAG_STUDY_INSTANCE_UID,
    parse_tag,
)
from ..core.errors import ErrorCode, OrthancError
from ..core.identifiers import ResourceLevel
from ..core.query import FindQuery, find_resources
from ..core.requested_tags import requested_tag_values
from .json_model import Json, tags_to_dicomweb

TAG_RETRIEVE_URL = 0x00081190

# PS3.18 table 6.7.1-2, -2a, -2b as the plugin returns them (Specific Character Set is always added,
# Retrieve URL is computed).
STUDY_ATTRIBUTES = (
    0x00080020, 0x00080030, 0x00080050, 0x00080056, 0x00080061, 0x00080090, 0x00080201,
    0x00100010, 0x00100020, 0x00100030, 0x00100040, 0x0020000D, 0x00200010, 0x00201206, 0x00201208,
)  # fmt: skip
SERIES_ATTRIBUTES = (
    0x00080060, 0x00080201, 0x0008103E, 0x0020000E, 0x00200011, 0x00201209,
    0x00400244, 0x00400245, 0x00400275,
)  # fmt: skip
INSTANCE_ATTRIBUTES = (
    0x00080016, 0x00080018, 0x00080056, 0x00080201, 0x00200013,
    0x00280010, 0x00280011, 0x00280100, 0x00280008,
)  # fmt: skip
ATTRIBUTES = {
    ResourceLevel.STUDY: STUDY_ATTRIBUTES,
    ResourceLevel.SERIES: SERIES_ATTRIBUTES,
    ResourceLevel.INSTANCE: INSTANCE_ATTRIBUTES,
}


def _unsigned(name: str, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        # The plugin fails with an internal error (bad lexical cast): a client mistake, so 400.
        raise OrthancError(ErrorCode.BadRequest, f'Not a non-negative integer for "{name}": {text}')
    return value


@dataclass
class QidoQuery:
    """A parsed QIDO-RS query string."""

    limit: int = 0
    offset: int = 0
    fuzzy: bool = False
    include_all: bool = False
    include_fields: list[int] = field(default_factory=list)
    filters: dict[int, str] = field(default_factory=dict)
    filtered_study: bool = False  # StudyInstanceUID given in the query string (not the path)
    filtered_series: bool = False

    @staticmethod
    def parse(items: Iterable[tuple[str, str]]) -> QidoQuery:
        query = QidoQuery()
        for key, value in items:
            if key == "limit":
                query.limit = _unsigned(key, value)
            elif key == "offset":
                query.offset = _unsigned(key, value)
            elif key == "fuzzymatching":
                if value not in ("true", "false"):
                    raise OrthancError(
                        ErrorCode.BadRequest,
                        f"Not a proper value for fuzzy matching (true or false): {value}",
                    )
                query.fuzzy = value == "true"
            elif key == "includefield":
                if value == "all":
                    query.include_all = True
                else:
                    for name in value.split(","):
                        tag = parse_tag(name.strip())
                        if tag is not None:
                            query.include_fields.append(tag)
            elif key.strip():
                tag = _tag_of_key(key)
                if tag is not None:
                    query.add_filter(tag, _list_value(value), from_path=False)
        return query

    def add_filter(self, tag: int, value: str, *, from_path: bool) -> None:
        self.filters[tag] = value
        if not from_path:
            if tag == TAG_STUDY_INSTANCE_UID:
                self.filtered_study = True
            elif tag == TAG_SERIES_INSTANCE_UID:
                self.filtered_series = True

    def result_fields(self, level: ResourceLevel) -> set[int]:
        fields = set(self.include_fields) | set(ATTRIBUTES[level]) | set(self.filters)
        if not self.filtered_study and level in (ResourceLevel.SERIES, ResourceLevel.INSTANCE):
            fields |= set(STUDY_ATTRIBUTES)
        if not self.filtered_series and level is ResourceLevel.INSTANCE:
            fields |= set(SERIES_ATTRIBUTES)
        if self.include_all:
            fields |= main_tags_up_to(level)
        return fields


def main_tags_up_to(level: ResourceLevel) -> set[int]:
    """The main DICOM tags of ``level`` and of its parent levels (the patient's for a study)."""
    return {tag for lvl in ResourceLevel if lvl <= level for tag, _ in MAIN_DICOM_TAGS[lvl]}


def _tag_of_key(key: str) -> int | None:
    """A query key names a tag as ``gggg,eeee``, ``ggggeeee`` or a keyword; anything else (a bare
    number such as ``0``, which pydicom would read as a tag) is not an attribute and is ignored."""
    text = key.strip()
    if not text or (text[0].isdigit() and len(text) != 8 and "," not in text and "-" not in text):
        return None
    return parse_tag(text)


def _list_value(value: str) -> str:
    """``a,b`` (PS3.18 6.7.1.1.1: a list of values) → Orthanc's ``a\\b``; literal backslashes dropped."""
    value = value.replace("\\", "")
    for comma in (",", "%2c", "%2C"):
        value = value.replace(comma, "\\")
    return value


async def search(
    context: ServerContext,
    level: ResourceLevel,
    query: QidoQuery,
    base_url: str,
    case_sensitive: bool | None,
) -> list[Json]:
    """The DICOM JSON of each matching resource, in the order of the query engine."""
    find = FindQuery(
        level=level,
        constraints=dict(query.filters),
        case_sensitive=bool(case_sensitive),
        since=query.offset,
        limit=query.limit,
    )
    fields = query.result_fields(level)
    uids = (TAG_STUDY_INSTANCE_UID, TAG_SERIES_INSTANCE_UID, TAG_SOP_INSTANCE_UID)
    needed = fields | {t for t in uids if _uid_level(t) <= level}  # for the Retrieve URL
    async with context.index.transaction() as tx:
        rows = await find_resources(context, tx, find)
        values = await requested_tag_values(context, tx, rows, sorted(needed))
    answers = []
    for row in rows:
        found = values.get(row.internal_id, {})
        kept = {t: v for t, v in found.items() if t in fields and t != TAG_RETRIEVE_URL}
        kept[TAG_RETRIEVE_URL] = retrieve_url(base_url, level, found)
        answers.append(tags_to_dicomweb(kept))
    return answers


def _uid_level(tag: int) -> ResourceLevel:
    return {
        TAG_STUDY_INSTANCE_UID: ResourceLevel.STUDY,
        TAG_SERIES_INSTANCE_UID: ResourceLevel.SERIES,
    }.get(tag, ResourceLevel.INSTANCE)


def retrieve_url(base_url: str, level: ResourceLevel, values: dict[int, str]) -> str:
    url = f"{base_url}studies/{values.get(TAG_STUDY_INSTANCE_UID, '')}"
    if level >= ResourceLevel.SERIES:
        url += f"/series/{values.get(TAG_SERIES_INSTANCE_UID, '')}"
    if level is ResourceLevel.INSTANCE:
        url += f"/instances/{values.get(TAG_SOP_INSTANCE_UID, '')}"
    return url
