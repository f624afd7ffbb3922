"""Values of "requested tags" for a batch of resources: main tags of the resource and its ancestors,
the counters Orthanc computes (``NumberOfStudyRelatedInstances``, ``ModalitiesInStudy``, …), and any
other tag, read from one instance of the resource as Orthanc does. Shared by ``requested-tags`` in
the REST API, C-FIND answers and QIDO-RS.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..index.base import ResourceRow, Transaction
from .dicom_tags import MAIN_DICOM_TAGS, DicomText
from .enumerations import MetadataType
from .identifiers import ResourceLevel
from .ingest import read_dataset

if TYPE_CHECKING:
    from .context import ServerContext

NUMBER_OF_PATIENT_RELATED_STUDIES = 0x00201200
NUMBER_OF_PATIENT_RELATED_SERIES = 0x00201202
NUMBER_OF_PATIENT_RELATED_INSTANCES = 0x00201204
NUMBER_OF_STUDY_RELATED_SERIES = 0x00201206
NUMBER_OF_STUDY_RELATED_INSTANCES = 0x00201208
NUMBER_OF_SERIES_RELATED_INSTANCES = 0x00201209
MODALITIES_IN_STUDY = 0x00080061
SOP_CLASSES_IN_STUDY = 0x00080062
INSTANCE_AVAILABILITY = 0x00080056

COMPUTED_TAGS: dict[int, ResourceLevel] = {
    NUMBER_OF_PATIENT_RELATED_STUDIES: ResourceLevel.PATIENT,
    NUMBER_OF_PATIENT_RELATED_SERIES: ResourceLevel.PATIENT,
    NUMBER_OF_PATIENT_RELATED_INSTANCES: ResourceLevel.PATIENT,
    NUMBER_OF_STUDY_RELATED_SERIES: ResourceLevel.STUDY,
    NUMBER_OF_STUDY_RELATED_INSTANCES: ResourceLevel.STUDY,
    NUMBER_OF_SERIES_RELATED_INSTANCES: ResourceLevel.SERIES,
    MODALITIES_IN_STUDY: ResourceLevel.STUDY,
    SOP_CLASSES_IN_STUDY: ResourceLevel.STUDY,
    INSTANCE_AVAILABILITY: ResourceLevel.INSTANCE,
}

_MAIN_LEVEL: dict[int, ResourceLevel] = {}
for _level in (ResourceLevel.INSTANCE, ResourceLevel.SERIES, ResourceLevel.STUDY, ResourceLevel.PATIENT):
    for _tag, _ in MAIN_DICOM_TAGS[_level]:
        _MAIN_LEVEL[_tag] = _level


async def descendants(tx: Transaction, ids: list[int], depth: int) -> dict[int, list[ResourceRow]]:
    """For each id, its descendants ``depth`` levels below."""
    owner = {i: i for i in ids}
    frontier = ids
    rows: list[ResourceRow] = []
    for _ in range(depth):
        rows = await tx.get_children(frontier)
        for r in rows:
            assert r.parent_id is not None
            owner[r.internal_id] = owner[r.parent_id]
        frontier = [r.internal_id for r in rows]
    result: dict[int, list[ResourceRow]] = {i: [] for i in ids}
    for r in rows:
        result[owner[r.internal_id]].append(r)
    return result


async def requested_tag_values(
    context: ServerContext, tx: Transaction, rows: list[ResourceRow], tags: list[int]
) -> dict[int, dict[int, str]]:
    if not rows:
        return {}
    level = rows[0].level
    ids = [r.internal_id for r in rows]
    values: dict[int, dict[int, str]] = {i: {} for i in ids}
    wanted = set(tags)

    # Main tags of this level and of the ancestors (a study also holds its patient's tags).
    holder = {i: i for i in ids}
    current = list(rows)
    for lvl in range(int(level), -1, -1):
        main = {t for t in wanted if _MAIN_LEVEL.get(t) == lvl}
        if lvl == ResourceLevel.STUDY and level >= ResourceLevel.STUDY:
            main |= {t for t in wanted if _MAIN_LEVEL.get(t) == ResourceLevel.PATIENT}
        if main:
            stored = await tx.get_main_tags(sorted({r.internal_id for r in current}))
            for i in ids:
                own = stored.get(holder[i], {})
                for t in main:
                    if t in own and t not in values[i]:
                        values[i][t] = own[t]
        if lvl == 0 or not any(_MAIN_LEVEL.get(t, 99) < lvl for t in wanted):
            break
        parents = await tx.get_resources(sorted({r.parent_id for r in current if r.parent_id is not None}))
        parent_of = {r.internal_id: r.parent_id for r in current}
        for i in ids:
            p = parent_of.get(holder[i])
            if p is not None:
                holder[i] = p
        current = parents

    computed = [t for t in wanted if t in COMPUTED_TAGS and COMPUTED_TAGS[t] == level]
    if computed:
        await _computed(tx, level, ids, computed, values)

    # Tags of lower levels, and any other tag, are read from one instance, as Orthanc does.
    others = [
        t for t in wanted if t not in COMPUTED_TAGS and (t not in _MAIN_LEVEL or _MAIN_LEVEL[t] > level)
    ]
    if others:
        await _from_files(context, tx, level, ids, others, values)
    return values


async def _computed(
    tx: Transaction, level: ResourceLevel, ids: list[int], tags: list[int], values: dict[int, dict[int, str]]
) -> None:
    if level is ResourceLevel.INSTANCE:
        for i in ids:
            values[i][INSTANCE_AVAILABILITY] = "ONLINE"
        return
    mapping = {
        ResourceLevel.PATIENT: {
            NUMBER_OF_PATIENT_RELATED_STUDIES: 1,
            NUMBER_OF_PATIENT_RELATED_SERIES: 2,
            NUMBER_OF_PATIENT_RELATED_INSTANCES: 3,
        },
        ResourceLevel.STUDY: {NUMBER_OF_STUDY_RELATED_SERIES: 1, NUMBER_OF_STUDY_RELATED_INSTANCES: 2},
        ResourceLevel.SERIES: {NUMBER_OF_SERIES_RELATED_INSTANCES: 1},
    }[level]
    counted_depths = {depth for tag, depth in mapping.items() if tag in tags}
    counts: dict[int, dict[int, int]] = {}
    for depth in range(1, ResourceLevel.INSTANCE - level + 1):
        modalities = level is ResourceLevel.STUDY and depth == 1 and MODALITIES_IN_STUDY in tags
        sop_classes = level is ResourceLevel.STUDY and depth == 2 and SOP_CLASSES_IN_STUDY in tags
        if not (modalities or sop_classes):
            if depth in counted_depths:  # counted by the index, without loading the rows
                counts[depth] = await tx.count_descendants(ids, depth)
            continue
        below = await descendants(tx, ids, depth)
        counts[depth] = {i: len(rs) for i, rs in below.items()}
        if modalities:
            series_ids = [r.internal_id for rs in below.values() for r in rs]
            series_tags = await tx.get_main_tags(series_ids)
            for i, rs in below.items():
                found = sorted({series_tags[r.internal_id].get(0x00080060, "") for r in rs} - {""})
                values[i][MODALITIES_IN_STUDY] = "\\".join(found)
        if sop_classes:
            instance_ids = [r.internal_id for rs in below.values() for r in rs]
            meta = await tx.get_metadata(instance_ids, [MetadataType.SOP_CLASS_UID])
            for i, rs in below.items():
                classes = sorted({meta[r.internal_id].get(MetadataType.SOP_CLASS_UID, "") for r in rs} - {""})
                values[i][SOP_CLASSES_IN_STUDY] = "\\".join(classes)
    for tag, depth in mapping.items():
        if tag in tags:
            for i in ids:
                values[i][tag] = str(counts[depth][i])


async def _from_files(
    context: ServerContext,
    tx: Transaction,
    level: ResourceLevel,
    ids: list[int],
    tags: list[int],
    values: dict[int, dict[int, str]],
) -> None:
    """Other tags come from one instance of each resource, as Orthanc reads them from storage."""
    if level is ResourceLevel.INSTANCE:
        instance_of = {i: i for i in ids}
    else:
        below = await descendants(tx, ids, ResourceLevel.INSTANCE - level)
        instance_of = {i: rs[0].internal_id for i, rs in below.items() if rs}
    for i, instance_id in instance_of.items():
        data = await context.read_dicom_of(instance_id)
        dataset = await context.run_cpu(read_dataset, data)
        text = DicomText(dataset)
        for tag in tags:
            value = text.string_value(tag)
            if value is not None:
                values[i][tag] = value
