"""The instances below resources of any level: what a store, an export, a storage commitment
request or a STOW-RS upload sends when it is given patients, studies, series or instances."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..index.base import ResourceRow, Transaction
from .errors import ErrorCode, OrthancError
from .identifiers import ResourceLevel
from .requested_tags import descendants

if TYPE_CHECKING:
    from .context import ServerContext


async def instances_below_in(tx: Transaction, public_ids: list[str]) -> list[ResourceRow]:
    """Within ``tx``: the instances of each resource in turn (an instance is its own), in the
    index's order; OrthancError(UnknownResource) for an ID that does not exist."""
    instances: list[ResourceRow] = []
    for public_id in public_ids:
        row = await tx.lookup(public_id)
        if row is None:  # as Orthanc: no details
            raise OrthancError(ErrorCode.UnknownResource)
        if row.level is ResourceLevel.INSTANCE:
            instances.append(row)
        else:
            below = await descendants(tx, [row.internal_id], ResourceLevel.INSTANCE - row.level)
            instances.extend(below[row.internal_id])
    return instances


async def instances_below(context: ServerContext, public_ids: list[str]) -> list[ResourceRow]:
    """``instances_below_in`` in a read transaction of its own."""
    async with context.index.transaction() as tx:
        return await instances_below_in(tx, public_ids)
