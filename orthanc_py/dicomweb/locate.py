"""Finding the study, series or instance named by DICOM UIDs in a DICOMweb path."""

from __future__ import annotations

from ..core.context import ServerContext
from ..core.dicom_tags import TAG_SERIES_INSTANCE_UID, TAG_SOP_INSTANCE_UID, TAG_STUDY_INSTANCE_UID
from ..core.errors import ErrorCode, OrthancError
from ..core.identifiers import ResourceLevel
from ..core.instances_below import instances_of_rows
from ..index.base import ResourceRow, Transaction

_TAG_OF_LEVEL = {
    ResourceLevel.STUDY: TAG_STUDY_INSTANCE_UID,
    ResourceLevel.SERIES: TAG_SERIES_INSTANCE_UID,
    ResourceLevel.INSTANCE: TAG_SOP_INSTANCE_UID,
}
_NAMES = {ResourceLevel.STUDY: "Study", ResourceLevel.SERIES: "Series", ResourceLevel.INSTANCE: "Instance"}


async def locate(
    context: ServerContext, study: str, series: str | None = None, instance: str | None = None
) -> ResourceRow:
    """The resource at the deepest level given, whose ancestors have the UIDs given; else the
    plugin's 404 ``Accessing an inexistent Study with WADO-RS: …``."""
    uids = [u for u in (study, series, instance) if u is not None]
    level = (ResourceLevel.STUDY, ResourceLevel.SERIES, ResourceLevel.INSTANCE)[len(uids) - 1]
    async with context.index.transaction() as tx:
        row = await _locate(tx, level, uids)
    if row is None:
        raise OrthancError(
            ErrorCode.InexistentItem,
            f"Accessing an inexistent {_NAMES[level]} with WADO-RS: {'/'.join(uids)}",
            http_status=404,
        )
    return row


async def _locate(tx: Transaction, level: ResourceLevel, uids: list[str]) -> ResourceRow | None:
    for candidate in await tx.lookup_identifier(level, _TAG_OF_LEVEL[level], uids[-1]):
        if await _ancestors_match(tx, candidate, uids[:-1]):
            return candidate
    return None


async def _ancestors_match(tx: Transaction, row: ResourceRow, uids: list[str]) -> bool:
    current = row
    for uid in reversed(uids):
        if current.parent_id is None:
            return False
        parents = await tx.get_resources([current.parent_id])
        if not parents:
            return False
        current = parents[0]
        tags = await tx.get_main_tags([current.internal_id], [_TAG_OF_LEVEL[current.level]])
        if tags.get(current.internal_id, {}).get(_TAG_OF_LEVEL[current.level]) != uid:
            return False
    return True


async def instances_of(context: ServerContext, row: ResourceRow) -> list[ResourceRow]:
    """The instances below a study or series (the instance itself for an instance)."""
    async with context.index.transaction() as tx:
        return await instances_of_rows(tx, [row])
