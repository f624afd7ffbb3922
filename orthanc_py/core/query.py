"""The one query engine: ``/tools/find``, C-FIND and QIDO-RS all call :func:`find_resources`.

A query is a level and constraints on tags. Constraints on main DICOM tags become indexed SQL
prefilters (:meth:`TagConstraint.sql_hint`); every candidate is then checked with the exact
DICOM matching rules (:meth:`TagConstraint.matches`), and constraints on other tags are checked
against one DICOM file of the resource, as Orthanc does. When every prefilter is exact, ``Since``
and ``Limit`` go down to SQL and no candidate is re-read.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from pydicom.datadict import dictionary_VR

from ..index.base import LabelFilter, ResourceRow, TagFilter, Transaction
from .dicom_tags import LEVEL_OF_MAIN_TAG, MAIN_DICOM_TAGS, DicomText
from .identifiers import ResourceLevel
from .ingest import read_dataset
from .matching import (
    SearchColumn,
    TagConstraint,
    is_orthanc_identifier,
    parse_constraint,
    parse_dicom_constraint,
)
from .requested_tags import MODALITIES_IN_STUDY, descendants

if TYPE_CHECKING:
    from .context import ServerContext

logger = logging.getLogger(__name__)

MODALITY = 0x00080060

_LEVEL_OF_TAG: dict[int, ResourceLevel] = {
    tag: LEVEL_OF_MAIN_TAG[name] for level in MAIN_DICOM_TAGS.values() for tag, name in level
}


def vr_of(tag: int) -> str:
    try:
        return str(dictionary_VR(tag))
    except KeyError:
        return "UN"


@dataclass
class FindQuery:
    level: ResourceLevel
    constraints: dict[int, str] = field(default_factory=dict)  # tag → query string
    case_sensitive: bool = False
    since: int = 0
    limit: int = 0
    order_by: list[tuple[int, bool]] = field(default_factory=list)  # (tag, ascending)
    labels: LabelFilter | None = None
    # C-FIND's rule instead of ``case_sensitive``: every tag case-sensitive except PN tags, which
    # follow this (``CaseSensitivePN``). None for ``/tools/find`` and QIDO-RS.
    case_sensitive_pn: bool | None = None


@dataclass
class _Plan:
    indexed: list[tuple[ResourceLevel, TagConstraint]] = field(default_factory=list)
    from_file: list[TagConstraint] = field(default_factory=list)
    modalities_in_study: TagConstraint | None = None
    filters: list[TagFilter] = field(default_factory=list)
    exact: bool = True


def _plan(query: FindQuery) -> _Plan:
    plan = _Plan()
    for tag, text in query.constraints.items():
        if query.case_sensitive_pn is None:
            constraint = parse_constraint(
                tag,
                vr_of(tag),
                text,
                query.case_sensitive,
                is_identifier=is_orthanc_identifier(tag),
                is_main_tag=tag in _LEVEL_OF_TAG,
            )
        else:
            constraint = parse_dicom_constraint(
                tag,
                vr_of(tag),
                text,
                query.case_sensitive_pn,
                is_identifier=is_orthanc_identifier(tag),
                is_main_tag=tag in _LEVEL_OF_TAG,
            )
        if constraint is None:
            continue
        if tag == MODALITIES_IN_STUDY and query.level is ResourceLevel.STUDY:
            plan.modalities_in_study = constraint
            plan.exact = False
            continue
        tag_level = _LEVEL_OF_TAG.get(tag)
        if tag_level is None or tag_level > query.level:
            plan.from_file.append(constraint)
            plan.exact = False
            continue
        if tag_level is ResourceLevel.PATIENT and query.level >= ResourceLevel.STUDY:
            tag_level = ResourceLevel.STUDY  # studies hold a copy of their patient's tags
        plan.indexed.append((tag_level, constraint))
        hint = constraint.sql_hint()
        if hint.allow_missing:
            plan.exact = False
            continue
        column = "normalized" if hint.column is SearchColumn.FOLDED else "value"
        plan.filters.append(TagFilter(tag_level, tag, hint.op, column, hint.values))
        # SQLite's LIKE ignores ASCII case: such a prefilter is sound but not exact.
        if not hint.exact or hint.op == "LIKE" or constraint.is_identifier:
            plan.exact = False
    return plan


async def find_resources(context: ServerContext, tx: Transaction, query: FindQuery) -> list[ResourceRow]:
    settings = context.settings
    cap = (
        settings.limit_find_instances
        if query.level is ResourceLevel.INSTANCE
        else settings.limit_find_results
    )
    if cap and (query.limit == 0 or query.limit > cap):
        # "LimitFindResults" / "LimitFindInstances" bound every answer, whichever front end asks.
        query = replace(query, limit=cap)
    plan = _plan(query)
    if plan.exact and not query.order_by:
        return await tx.find(query.level, plan.filters, query.since, query.limit, query.labels)
    rows = await tx.find(query.level, plan.filters, labels=query.labels)
    if plan.indexed:
        rows = await _check_indexed(tx, rows, plan.indexed)
    if plan.modalities_in_study is not None:
        rows = await _check_modalities(tx, rows, plan.modalities_in_study)
    if plan.from_file:
        rows = await _check_files(context, tx, rows, plan.from_file, query)
    if query.order_by:
        rows = await _sort(tx, rows, query.order_by)
    end = query.since + query.limit if query.limit else None
    return rows[query.since : end]


async def _ancestors(tx: Transaction, rows: list[ResourceRow], level: ResourceLevel) -> dict[int, int]:
    """internal_id of each row → internal_id of its ancestor at ``level`` (one query per level)."""
    node_of = {r.internal_id: r for r in rows}
    for _ in range(rows[0].level - level if rows else 0):
        parent_ids = sorted({n.parent_id for n in node_of.values() if n.parent_id is not None})
        parents = {p.internal_id: p for p in await tx.get_resources(parent_ids)}
        node_of = {rid: parents[n.parent_id] for rid, n in node_of.items() if n.parent_id in parents}
    return {rid: n.internal_id for rid, n in node_of.items()}


async def _check_indexed(
    tx: Transaction, rows: list[ResourceRow], constraints: list[tuple[ResourceLevel, TagConstraint]]
) -> list[ResourceRow]:
    if not rows:
        return rows
    holders: dict[ResourceLevel, dict[int, int]] = {}
    for tag_level, _ in constraints:
        if tag_level not in holders:
            holders[tag_level] = await _ancestors(tx, rows, tag_level)
    wanted = sorted({c.tag for _, c in constraints})
    holder_ids = sorted({h for by_row in holders.values() for h in by_row.values()})
    tags = await tx.get_main_tags(holder_ids, wanted)
    kept = []
    for row in rows:
        if all(
            c.matches(tags.get(holders[lvl].get(row.internal_id, -1), {}).get(c.tag))
            for lvl, c in constraints
        ):
            kept.append(row)
    return kept


async def _sort(
    tx: Transaction, rows: list[ResourceRow], order_by: list[tuple[int, bool]]
) -> list[ResourceRow]:
    """Stable sorts, last key first, on the main tag held by the row or its ancestor."""
    if not rows:
        return rows
    for tag, ascending in reversed(order_by):
        tag_level = _LEVEL_OF_TAG.get(tag, rows[0].level)
        if tag_level is ResourceLevel.PATIENT and rows[0].level >= ResourceLevel.STUDY:
            tag_level = ResourceLevel.STUDY
        holder = await _ancestors(tx, rows, min(tag_level, rows[0].level))
        tags = await tx.get_main_tags(sorted(set(holder.values())), [tag])
        rows = sorted(
            rows,
            key=lambda r: tags.get(holder.get(r.internal_id, -1), {}).get(tag, ""),
            reverse=not ascending,
        )
    return rows


async def _check_modalities(
    tx: Transaction, rows: list[ResourceRow], constraint: TagConstraint
) -> list[ResourceRow]:
    """``ModalitiesInStudy``: a study matches if one of its series' Modality matches."""
    series = await descendants(tx, [r.internal_id for r in rows], 1)
    series_tags = await tx.get_main_tags([s.internal_id for ss in series.values() for s in ss])
    return [
        r
        for r in rows
        if any(constraint.matches(series_tags[s.internal_id].get(MODALITY)) for s in series[r.internal_id])
    ]


async def _check_files(
    context: ServerContext,
    tx: Transaction,
    rows: list[ResourceRow],
    constraints: list[TagConstraint],
    query: FindQuery,
) -> list[ResourceRow]:
    """Constraints on tags the index does not hold: read one instance of each candidate."""
    if not rows:
        return rows
    level = rows[0].level
    if level is ResourceLevel.INSTANCE:
        instance_of = {r.internal_id: r.internal_id for r in rows}
    else:
        below = await descendants(tx, [r.internal_id for r in rows], ResourceLevel.INSTANCE - level)
        instance_of = {i: rs[0].internal_id for i, rs in below.items() if rs}
    kept = []
    for row in rows:
        instance_id = instance_of.get(row.internal_id)
        if instance_id is None:
            continue
        data = await context.read_dicom_of(instance_id)
        dataset = await context.run_cpu(read_dataset, data)
        text = DicomText(dataset)
        if all(c.matches(text.string_value(c.tag)) for c in constraints):
            kept.append(row)
        if query.limit and len(kept) >= query.since + query.limit:
            break
    return kept
