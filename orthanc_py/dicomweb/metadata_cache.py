"""WADO-RS ``/metadata``: the DICOM JSON of instances, kept in the index after the first request.

The JSON of an instance (bulk data as URIs) is computed once from its file and stored in the index
table ``dicomweb_metadata`` (deleted with the instance); study and series metadata then read one
index row per instance and no file. The stored JSON holds its bulk data URIs relative to a marker,
replaced by the public DICOMweb root of each request (which depends on the ``Host`` the client used).
"""

from __future__ import annotations

import io
import logging

import orjson
import pydicom

from ..core.context import ServerContext
from ..core.dicom_tags import DicomText
from ..core.errors import ErrorCode, OrthancError
from ..index.base import ResourceRow
from .json_model import dataset_to_dicomweb

logger = logging.getLogger(__name__)

# Serialized by orjson as this escaped text, which no DICOM value can produce (control characters
# are escaped the same way, but never this sequence of two of them around "root").
_ROOT_MARKER = "\x01\x02root\x02\x01"
_ROOT_MARKER_JSON = orjson.dumps(_ROOT_MARKER)[1:-1]

# Values longer than this stay unread (and unparsed) until asked for: only bulk data is that long.
_DEFER_SIZE = 64 * 1024


def instance_json(data: bytes) -> bytes:
    """The DICOM JSON of one DICOM file, bulk data URIs relative to ``_ROOT_MARKER``."""
    try:
        dataset = pydicom.dcmread(io.BytesIO(data), force=True, defer_size=_DEFER_SIZE)
    except Exception as e:
        raise OrthancError(ErrorCode.BadFileFormat, "Cannot parse a stored DICOM file") from e
    text = DicomText(dataset)
    study = text.string_value(0x0020000D) or ""
    series = text.string_value(0x0020000E) or ""
    instance = text.string_value(0x00080018) or ""
    bulk_root = f"{_ROOT_MARKER}studies/{study}/series/{series}/instances/{instance}/bulk"
    return orjson.dumps(dataset_to_dicomweb(dataset, bulk_root, text), option=orjson.OPT_SORT_KEYS)


async def instances_json(context: ServerContext, instances: list[ResourceRow]) -> list[bytes]:
    """The stored JSON of each instance, computing (and storing) the missing ones."""
    ids = [r.internal_id for r in instances]
    async with context.index.transaction() as tx:
        known = await tx.get_dicomweb_metadata(ids)
    missing = [i for i in ids if i not in known]
    if missing:
        computed: list[tuple[int, bytes]] = []
        for internal_id in missing:
            try:
                data = await context.read_dicom_of(internal_id)
            except OrthancError:
                continue  # deleted meanwhile
            computed.append((internal_id, await context.run_cpu(instance_json, data)))
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
