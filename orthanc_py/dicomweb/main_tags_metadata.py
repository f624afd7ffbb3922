"""WADO-RS metadata of a study or series from the index: the ``MainDicomTags`` and ``Extrapolate``
values of ``StudiesMetadata`` / ``SeriesMetadata`` (``Full`` reads every file: metadata_cache.py).

As the plugin answers them: each instance is described by the main DICOM tags of itself, of its
series, of its study and of its patient (the value of the lowest level first), labelled with the
``SpecificCharacterSet`` of ``DefaultEncoding``. In ``Extrapolate`` mode the tags listed in
``SeriesMetadataExtrapolatedTags`` / ``StudiesMetadataExtrapolatedTags`` are added to each series /
study with the value most of up to 3 of its instances agree on; the plugin takes the first
instances by public ID (random enough, the IDs being SHA-1 hashes), and so does this module.
"""

from __future__ import annotations

import logging
from collections import Counter

from ..core.context import ServerContext
from ..core.dicom_tags import DicomText
from ..core.enumerations import specific_character_set
from ..core.errors import OrthancError
from ..core.identifiers import ResourceLevel
from ..core.ingest import read_dataset
from ..core.requested_tags import descendants
from ..index.base import ResourceRow
from .json_model import Json, tags_to_dicomweb

logger = logging.getLogger(__name__)

# How many instances the plugin reads to extrapolate the value of a tag.
_EXTRAPOLATION_SAMPLE = 3


async def main_tags_metadata(
    context: ServerContext,
    instances: list[ResourceRow],
    extrapolated: dict[ResourceLevel, list[int]] | None = None,
) -> list[Json]:
    """The DICOM JSON of each instance, from the index (plus a few files when extrapolating)."""
    charset = specific_character_set(context.settings.default_encoding)
    parent_of: dict[int, int | None] = {r.internal_id: r.parent_id for r in instances}
    levels: dict[ResourceLevel, list[ResourceRow]] = {ResourceLevel.INSTANCE: instances}
    samples: dict[int, list[ResourceRow]] = {}
    async with context.index.transaction() as tx:
        below = instances
        for level in (ResourceLevel.SERIES, ResourceLevel.STUDY, ResourceLevel.PATIENT):
            rows = await tx.get_resources(sorted({r.parent_id for r in below if r.parent_id is not None}))
            parent_of.update({r.internal_id: r.parent_id for r in rows})
            levels[level] = below = rows
        ids = [i for rows in levels.values() for i in (r.internal_id for r in rows)]
        main = await tx.get_main_tags(ids)
        for level, tags in (extrapolated or {}).items():
            if tags and level in (ResourceLevel.SERIES, ResourceLevel.STUDY):
                found = await descendants(
                    tx, [r.internal_id for r in levels[level]], ResourceLevel.INSTANCE - level
                )
                for owner, rows in found.items():
                    samples[owner] = sorted(rows, key=lambda r: r.public_id)
    for level, tags in (extrapolated or {}).items():
        for row in levels.get(level, []) if tags else []:
            main.setdefault(row.internal_id, {}).update(
                await _extrapolate(context, samples.get(row.internal_id, []), tags)
            )
    answers = []
    for instance in instances:
        values: dict[int, str] = {}
        current: int | None = instance.internal_id
        while current is not None:
            for tag, value in main.get(current, {}).items():
                values.setdefault(tag, value)
            current = parent_of.get(current)
        answers.append(tags_to_dicomweb(values, charset))
    return answers


async def _extrapolate(
    context: ServerContext, instances: list[ResourceRow], tags: list[int]
) -> dict[int, str]:
    """The most frequent value of each tag among the first instances that can be read; on a tie, the
    smallest value (the plugin counts in a sorted map and keeps the first maximum)."""
    texts: list[DicomText] = []
    for row in instances:
        if len(texts) == _EXTRAPOLATION_SAMPLE:
            break
        try:
            data = await context.read_dicom_of(row.internal_id)
            texts.append(DicomText(await context.run_cpu(read_dataset, data)))
        except OrthancError:
            continue  # deleted meanwhile, or unreadable: the plugin skips it too
    answer: dict[int, str] = {}
    for tag in tags:
        counts = Counter(v for v in (t.string_value(tag) for t in texts) if v is not None)
        if counts:
            best = max(counts.values())
            answer[tag] = min(v for v, n in counts.items() if n == best)
            if best < len(texts) // 2 + 1:
                logger.warning("No consensus on the value of %08X in the Extrapolate metadata mode", tag)
    return answer
