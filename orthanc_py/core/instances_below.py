"""The instances below resources of any level: what a store, an export, a storage commitment
request, a C-MOVE or a STOW-RS upload sends when it is given patients, studies, series or
instances; and what sending them over DICOM needs to know of each, from the index."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import pydicom
from pydicom.uid import ImplicitVRLittleEndian

from ..index.base import ResourceRow, Transaction
from .enumerations import MetadataType
from .errors import ErrorCode, OrthancError
from .identifiers import ResourceLevel
from .requested_tags import descendants

if TYPE_CHECKING:
    from .context import ServerContext


async def instances_of_rows(tx: Transaction, rows: list[ResourceRow]) -> list[ResourceRow]:
    """The instances of each resource in turn (an instance is its own), in the index's order."""
    instances: list[ResourceRow] = []
    for row in rows:
        if row.level is ResourceLevel.INSTANCE:
            instances.append(row)
        else:
            below = await descendants(tx, [row.internal_id], ResourceLevel.INSTANCE - row.level)
            instances.extend(below[row.internal_id])
    return instances


async def instances_below_in(tx: Transaction, public_ids: list[str]) -> list[ResourceRow]:
    """Within ``tx``: ``instances_of_rows`` of resources given by public ID;
    OrthancError(UnknownResource) for an ID that does not exist."""
    rows = []
    for public_id in public_ids:
        row = await tx.lookup(public_id)
        if row is None:  # as Orthanc: no details
            raise OrthancError(ErrorCode.UnknownResource)
        rows.append(row)
    return await instances_of_rows(tx, rows)


async def instances_below(context: ServerContext, public_ids: list[str]) -> list[ResourceRow]:
    """``instances_below_in`` in a read transaction of its own."""
    async with context.index.transaction() as tx:
        return await instances_below_in(tx, public_ids)


async def sop_classes_and_syntaxes(context: ServerContext, instance_ids: list[str]) -> list[tuple[str, str]]:
    """(SOP class UID, transfer syntax UID) of each instance (public IDs), as recorded at ingest
    (metadata SopClassUid and TransferSyntax), to propose presentation contexts without reading
    the files; a file is read only for an instance whose metadata lack them."""
    async with context.index.transaction() as tx:
        rows = [await tx.lookup(public_id) for public_id in instance_ids]
        known = [r.internal_id for r in rows if r is not None]
        metadata = await tx.get_metadata(known, [MetadataType.SOP_CLASS_UID, MetadataType.TRANSFER_SYNTAX])
    pairs = []
    for public_id, row in zip(instance_ids, rows, strict=True):
        if row is None:
            raise OrthancError(ErrorCode.UnknownResource)
        own = metadata.get(row.internal_id, {})
        sop_class = own.get(MetadataType.SOP_CLASS_UID) or ""
        syntax = own.get(MetadataType.TRANSFER_SYNTAX) or ""
        if not sop_class or not syntax:
            data = await context.read_dicom(public_id)
            sop_class, syntax = await context.run_cpu(sop_class_and_syntax_of_file, data)
        pairs.append((sop_class, syntax))
    return pairs


def sop_class_and_syntax_of_file(data: bytes) -> tuple[str, str]:
    """(SOP class UID, transfer syntax UID) read from the file's header."""
    dataset = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True, specific_tags=["SOPClassUID"])
    syntax = str(getattr(dataset.file_meta, "TransferSyntaxUID", "") or ImplicitVRLittleEndian)
    return str(dataset.get("SOPClassUID", "")), syntax
