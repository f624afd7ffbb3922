"""The JSON of patients, studies, series and instances, as Orthanc's REST API shows them.

Built for many resources at once: whatever the number of resources, a page costs a fixed number of
index queries (tags, children, parents, metadata, attachments), never one query per resource.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from ..core.context import ServerContext
from ..core.dicom_tags import MAIN_DICOM_TAGS, SEQUENCE_MARKER, format_tag, reshape_tags, tag_name
from ..core.enumerations import MetadataType, series_status
from ..core.identifiers import ResourceLevel
from ..core.requested_tags import requested_tag_values
from ..index.base import ResourceRow, Transaction
from ..storage.base import FileContentType

_PATIENT_TAGS = {tag for tag, _ in MAIN_DICOM_TAGS[ResourceLevel.PATIENT]}
_NAMES = {tag: name for level in MAIN_DICOM_TAGS.values() for tag, name in level}


@dataclass(frozen=True, slots=True)
class TagFormat:
    """How ``MainDicomTags`` are written: by name (default), ``full`` or ``short``."""

    shape: str = "simplify"

    @classmethod
    def from_query(cls, params: Any) -> TagFormat:
        if _flag(params, "full"):
            return cls("full")
        if _flag(params, "short"):
            return cls("short")
        return cls("simplify")

    def write(self, tags: dict[int, str]) -> dict[str, Any]:
        answer: dict[str, Any] = {}
        for tag, value in tags.items():
            if value.startswith(SEQUENCE_MARKER):
                items = orjson.loads(value[len(SEQUENCE_MARKER) :])
                name = _NAMES.get(tag) or tag_name(tag)
                if self.shape == "full":
                    answer[format_tag(tag)] = {"Name": name, "Type": "Sequence", "Value": items}
                else:
                    reshaped = [reshape_tags(item, self.shape) for item in items]
                    answer[format_tag(tag) if self.shape == "short" else name] = reshaped
            elif self.shape == "full":
                answer[format_tag(tag)] = {
                    "Name": _NAMES.get(tag) or tag_name(tag),
                    "Type": "String",
                    "Value": value,
                }
            elif self.shape == "short":
                answer[format_tag(tag)] = value
            else:
                answer[_NAMES.get(tag) or tag_name(tag)] = value
        return answer


def _flag(params: Any, name: str) -> bool:
    """Orthanc treats ``?expand``, ``?expand=true`` and ``?expand=1`` as set, ``=false``/``=0`` as not."""
    if name not in params:
        return False
    value = str(params.get(name, "")).lower()
    return value not in ("false", "0")


def flag(params: Any, name: str) -> bool:
    return _flag(params, name)


def _level_tags(level: ResourceLevel, tags: dict[int, str]) -> dict[int, str]:
    if level is ResourceLevel.STUDY:
        return {t: v for t, v in tags.items() if t not in _PATIENT_TAGS}
    return tags


async def expand_resources(
    context: ServerContext,
    tx: Transaction,
    rows: list[ResourceRow],
    fmt: TagFormat,
    requested_tags: list[int] | None = None,
) -> list[dict[str, Any]]:
    """The expanded JSON of each row (all rows of one level), in the order given."""
    if not rows:
        return []
    level = rows[0].level
    ids = [r.internal_id for r in rows]
    tags = await tx.get_main_tags(ids)
    metadata = await tx.get_metadata(ids)
    parents: dict[int, str] = {}
    parent_ids = sorted({r.parent_id for r in rows if r.parent_id is not None})
    if parent_ids:
        parents = {p.internal_id: p.public_id for p in await tx.get_resources(parent_ids)}
    children: dict[int, list[str]] = {}
    if level is not ResourceLevel.INSTANCE:
        children = await tx.get_child_public_ids(ids)
    indexes_in_series: dict[int, list[str | None]] = {}
    if level is ResourceLevel.SERIES:
        # The status of a series is computed from its instances only when its size is known.
        known = [i for i in ids if MetadataType.EXPECTED_NUMBER_OF_INSTANCES in metadata[i]]
        if known:
            indexes_in_series = await tx.get_children_metadata(known, MetadataType.INDEX_IN_SERIES)
    attachments = await tx.get_attachments(ids) if level is ResourceLevel.INSTANCE else {}
    labels = await tx.get_labels(ids)
    extra: dict[int, dict[int, str]] = {}
    if requested_tags:
        extra = await requested_tag_values(context, tx, rows, requested_tags)

    answers: list[dict[str, Any]] = []
    for row in rows:
        own = tags[row.internal_id]
        answer: dict[str, Any] = {
            "ID": row.public_id,
            "Type": level.title,
            "MainDicomTags": fmt.write(_level_tags(level, own)),
            "Labels": labels[row.internal_id],
        }
        meta = metadata[row.internal_id]
        if level is not ResourceLevel.INSTANCE:
            answer["IsStable"] = context.stability.is_stable(row.public_id)
            answer["LastUpdate"] = meta.get(MetadataType.LAST_UPDATE)
            child_key = {
                ResourceLevel.PATIENT: "Studies",
                ResourceLevel.STUDY: "Series",
                ResourceLevel.SERIES: "Instances",
            }[level]
            answer[child_key] = children[row.internal_id]
        if level is ResourceLevel.STUDY:
            answer["ParentPatient"] = parents.get(row.parent_id or -1)
            answer["PatientMainDicomTags"] = fmt.write({t: v for t, v in own.items() if t in _PATIENT_TAGS})
        elif level is ResourceLevel.SERIES:
            answer["ParentStudy"] = parents.get(row.parent_id or -1)
            expected = _int(meta.get(MetadataType.EXPECTED_NUMBER_OF_INSTANCES))
            answer["ExpectedNumberOfInstances"] = expected
            answer["Status"] = series_status(expected, indexes_in_series.get(row.internal_id, []))
        elif level is ResourceLevel.INSTANCE:
            answer["ParentSeries"] = parents.get(row.parent_id or -1)
            answer["IndexInSeries"] = _int(meta.get(MetadataType.INDEX_IN_SERIES))
            dicom = next(
                (a for a in attachments.get(row.internal_id, []) if a.content_type == FileContentType.DICOM),
                None,
            )
            answer["FileSize"] = dicom.uncompressed_size if dicom else 0
            answer["FileUuid"] = dicom.uuid if dicom else None
        if requested_tags is not None:
            answer["RequestedTags"] = fmt.write(extra.get(row.internal_id, {}))
        answers.append(answer)
    return answers


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None
