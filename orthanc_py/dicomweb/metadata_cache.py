"""WADO-RS ``/metadata``: the DICOM JSON of instances, kept in the index.

The JSON of an instance (bulk data as URIs) is computed once from its file and stored in the index
table ``dicomweb_metadata`` (deleted with the instance): in the background once received
(``metadata_warmer.py``), else by the first request; study and series metadata then read one
index row per instance and no file. The stored JSON holds its bulk data URIs relative to a marker,
replaced by the public DICOMweb root of each request (which depends on the ``Host`` the client used).

The first request reads the files in one batch: one index transaction for their attachments, each
file only up to its Pixel Data when the index knows where that starts (``PixelDataOffset``; the
plugin also reads ``file-until-pixel-data``), and the JSON built by chunks in the CPU pool.
"""

from __future__ import annotations

import asyncio
import io
import logging

import orjson
import pydicom

from ..core.context import ServerContext
from ..core.dicom_tags import DicomText
from ..core.enumerations import MetadataType
from ..core.errors import ErrorCode, OrthancError
from ..index.base import Attachment, ResourceRow
from ..storage.base import FileContentType
from .json_model import TAG_PIXEL_DATA, dataset_to_dicomweb, format_tag

logger = logging.getLogger(__name__)

# Serialized by orjson as this escaped text, which no DICOM value can produce (control characters
# are escaped the same way, but never this sequence of two of them around "root").
_ROOT_MARKER = "\x01\x02root\x02\x01"
_ROOT_MARKER_JSON = orjson.dumps(_ROOT_MARKER)[1:-1]

# Values longer than this stay unread (and unparsed) until asked for: only bulk data is that long.
_DEFER_SIZE = 64 * 1024

# Files per call into the CPU pool: fewer thread hops, while other chunks read their files.
_CHUNK = 32
_COMPRESSION_NONE = 1  # Orthanc's CompressionType of a file stored as is


def instance_json(data: bytes, pixel_data_vr: str | None = None) -> bytes:
    """The DICOM JSON of one DICOM file, bulk data URIs relative to ``_ROOT_MARKER``. With
    ``pixel_data_vr``, ``data`` stops before the Pixel Data element, which has that VR."""
    try:
        dataset = pydicom.dcmread(io.BytesIO(data), force=True, defer_size=_DEFER_SIZE)
    except Exception as e:
        raise OrthancError(ErrorCode.BadFileFormat, "Cannot parse a stored DICOM file") from e
    text = DicomText(dataset)
    study = text.string_value(0x0020000D) or ""
    series = text.string_value(0x0020000E) or ""
    instance = text.string_value(0x00080018) or ""
    bulk_root = f"{_ROOT_MARKER}studies/{study}/series/{series}/instances/{instance}/bulk"
    answer = dataset_to_dicomweb(dataset, bulk_root, text)
    if pixel_data_vr is not None:
        answer[format_tag(TAG_PIXEL_DATA)] = {"vr": pixel_data_vr, "BulkDataURI": f"{bulk_root}/7fe00010"}
    return orjson.dumps(answer, option=orjson.OPT_SORT_KEYS)


def _instances_json(files: list[tuple[bytes, str | None]]) -> list[bytes | None]:
    """``instance_json`` of a chunk of files (None for a file that does not parse)."""
    answers: list[bytes | None] = []
    for data, pixel_data_vr in files:
        try:
            answers.append(instance_json(data, pixel_data_vr))
        except OrthancError:
            logger.warning("WADO-RS metadata: a stored file does not parse as DICOM")
            answers.append(None)
    return answers


async def _read_header(
    context: ServerContext, attachment: Attachment, meta: dict[int, str]
) -> tuple[bytes, str | None]:
    """The file up to its Pixel Data (and the VR of the Pixel Data), else the whole file."""
    offset, vr = meta.get(MetadataType.PIXEL_DATA_OFFSET), meta.get(MetadataType.PIXEL_DATA_VR)
    if attachment.compression == _COMPRESSION_NONE and offset and offset.isdigit() and vr in ("OB", "OW"):
        return await context.storage.read_range(attachment.uuid, attachment.content_type, 0, int(offset)), vr
    return await context.read_attachment(attachment), None


async def _compute(
    context: ServerContext, ids: list[int], *, parallel: bool = True
) -> list[tuple[int, bytes]]:
    """The JSON of these instances from their files; ``parallel``: all chunks at once (a request
    waits for them), else one after the other (background work, leaving room for requests)."""
    async with context.index.transaction() as tx:
        attachments = await tx.get_attachments(ids)
        metadata = await tx.get_metadata(ids, [MetadataType.PIXEL_DATA_OFFSET, MetadataType.PIXEL_DATA_VR])
    files: dict[int, Attachment] = {}
    for internal_id in ids:
        for attachment in attachments.get(internal_id, []):
            if attachment.content_type == FileContentType.DICOM:
                files[internal_id] = attachment

    async def chunk(part: list[int]) -> list[tuple[int, bytes]]:
        read: list[tuple[int, tuple[bytes, str | None]]] = []
        for internal_id in part:
            try:
                read.append(
                    (
                        internal_id,
                        await _read_header(context, files[internal_id], metadata.get(internal_id, {})),
                    )
                )
            except OrthancError:
                continue  # deleted meanwhile
        answers = await context.run_cpu(_instances_json, [f for _, f in read])
        return [(i, a) for (i, _), a in zip(read, answers, strict=True) if a is not None]

    known = [i for i in ids if i in files]
    parts = [known[i : i + _CHUNK] for i in range(0, len(known), _CHUNK)]
    if parallel:
        results = await asyncio.gather(*(chunk(part) for part in parts))
    else:
        results = [await chunk(part) for part in parts]
    return [item for result in results for item in result]


async def keep_missing(context: ServerContext, ids: list[int]) -> int:
    """Compute and keep the JSON of those of these instances that the index lacks, one chunk at a
    time (the background path: another process may have kept some meanwhile, so it checks first).
    Returns how many were computed."""
    async with context.index.transaction() as tx:
        known = await tx.get_dicomweb_metadata(ids)
    missing = [i for i in ids if i not in known]
    if not missing:
        return 0
    computed = await _compute(context, missing, parallel=False)
    if computed:
        async with context.index.transaction(write=True) as tx:
            await tx.set_dicomweb_metadata(computed)
    return len(computed)


async def instances_json(context: ServerContext, instances: list[ResourceRow]) -> list[bytes]:
    """The stored JSON of each instance, computing (and storing) the missing ones."""
    ids = [r.internal_id for r in instances]
    async with context.index.transaction() as tx:
        known = await tx.get_dicomweb_metadata(ids)
    missing = [i for i in ids if i not in known]
    if missing:
        computed = await _compute(context, missing)
        known.update(computed)
        if computed and not context.settings.read_only:
            try:
                async with context.index.transaction(write=True) as tx:
                    await tx.set_dicomweb_metadata(computed)
            except Exception:  # keeping it is an optimization: the answer does not depend on it
                logger.warning(
                    "Cannot keep the DICOMweb metadata of %d instance(s)", len(computed), exc_info=True
                )
    return [known[i] for i in ids if i in known]


def metadata_body(items: list[bytes], base_url: str) -> bytes:
    """The JSON array answered by ``/metadata``, with the bulk data URIs under ``base_url``."""
    root = orjson.dumps(base_url)[1:-1]
    return b"[" + b",".join(items).replace(_ROOT_MARKER_JSON, root) + b"]"
