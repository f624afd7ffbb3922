"""WADO-URI (PS3.18 chapter 9): ``{WadoRoot}?requestType=WADO&studyUID=…&seriesUID=…&objectUID=…``.

``contentType`` is ``application/dicom`` (the file as stored), ``image/jpeg`` (the default) or
``image/png`` (the first frame rendered, as Orthanc's ``/preview``).
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response

from ..core.context import ServerContext
from ..core.dicom_tags import TAG_SERIES_INSTANCE_UID, TAG_SOP_INSTANCE_UID, TAG_STUDY_INSTANCE_UID
from ..core.errors import ErrorCode, OrthancError
from ..core.identifiers import ResourceLevel
from ..imaging import MIME_JPEG, MIME_PNG, render

logger = logging.getLogger(__name__)


async def wado_uri(request: Request) -> Response:
    context: ServerContext = request.app.state.context
    params = request.query_params
    # The plugin answers a bare 404 to any request it cannot serve (logging why), so do we.
    object_uid = params.get("objectUID")
    content_type = params.get("contentType", MIME_JPEG)
    if (
        params.get("requestType") != "WADO"
        or not object_uid
        or content_type not in ("application/dicom", MIME_JPEG, MIME_PNG)
    ):
        logger.info("WADO-URI: bad request (requestType, objectUID or contentType): %s", request.url.query)
        raise OrthancError(ErrorCode.UnknownResource)
    async with context.index.transaction() as tx:
        rows = await tx.lookup_identifier(ResourceLevel.INSTANCE, TAG_SOP_INSTANCE_UID, object_uid)
        row = rows[0] if rows else None
        if row is not None:
            expected = {
                TAG_STUDY_INSTANCE_UID: params.get("studyUID"),
                TAG_SERIES_INSTANCE_UID: params.get("seriesUID"),
            }
            series = (await tx.get_resources([row.parent_id]))[0] if row.parent_id is not None else None
            study = (await tx.get_resources([series.parent_id]))[0] if series and series.parent_id else None
            holders = {TAG_SERIES_INSTANCE_UID: series, TAG_STUDY_INSTANCE_UID: study}
            for tag, uid in expected.items():
                holder = holders[tag]
                if uid and holder is not None:
                    tags = await tx.get_main_tags([holder.internal_id], [tag])
                    if tags.get(holder.internal_id, {}).get(tag) != uid:
                        row = None
    if row is None:
        logger.info("WADO-URI: no instance %s in the given study and series", object_uid)
        raise OrthancError(ErrorCode.UnknownResource)
    if content_type == "application/dicom":
        return Response(await context.read_dicom_of(row.internal_id), media_type="application/dicom")
    data, media_type = await render(context, row.public_id, 0, accept=content_type)
    return Response(data, media_type=media_type)
