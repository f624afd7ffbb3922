"""STOW-RS: ``POST {root}studies[/{study}]`` with a ``multipart/related; type="application/dicom"`` body.

Each part is stored through the server context, as a REST upload. The answer is the DICOM JSON of
PS3.18 10.5.3 as the plugin writes it: ``ReferencedSOPSequence`` (stored, with their Retrieve URL)
and ``FailedSOPSequence`` (with ``FailureReason`` 0x0110, e.g. an instance of another study than
the one in the path); 200 when all were stored, 202 when some, 409 when none, 400 when no part
was DICOM.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..core.context import ServerContext
from ..core.dicom_tags import DicomText
from ..core.errors import ErrorCode, OrthancError
from ..core.ingest import ParsedInstance, read_dataset
from ..rest.instances import origin_of
from ..rest.responses import dump_json
from .config import dicomweb_config
from .json_model import element
from .multipart import parse_media_type, parse_multipart

logger = logging.getLogger(__name__)

PROCESSING_FAILURE = 0x0110


def _unsupported_media_type(request: Request) -> Response:
    # Orthanc's error 3000 (UnsupportedMediaType), rendered as its other errors.
    body = {
        "HttpError": "Unsupported Media Type",
        "HttpStatus": 415,
        "Message": "Unsupported media type",
        "Method": request.method,
        "OrthancError": "Unsupported media type",
        "OrthancStatus": 3000,
        "Uri": request.url.path,
    }
    return Response(dump_json(body), status_code=415, media_type="text/plain")


def _uids(data: bytes) -> dict[str, str]:
    dataset = read_dataset(data)
    text = DicomText(dataset)
    tags = {"study": 0x0020000D, "series": 0x0020000E, "sop_class": 0x00080016, "sop_instance": 0x00080018}
    return {name: text.string_value(tag) or "" for name, tag in tags.items()}


def _uids_of(parsed: ParsedInstance) -> dict[str, str]:
    ids = parsed.ids
    return {
        "study": ids.study_instance_uid,
        "series": ids.series_instance_uid,
        "sop_class": parsed.sop_class_uid,
        "sop_instance": ids.sop_instance_uid,
    }


def _referenced(uids: dict[str, str]) -> dict[str, Any]:
    """ReferencedSOPClassUID and ReferencedSOPInstanceUID of an answer item."""
    return {
        "00081150": element("UI", [uids["sop_class"]] if uids["sop_class"] else None),
        "00081155": element("UI", [uids["sop_instance"]] if uids["sop_instance"] else None),
    }


async def stow(request: Request) -> Response:
    context: ServerContext = request.app.state.context
    media, params = parse_media_type(request.headers.get("content-type", ""))
    if media != "multipart/related" or params.get("type", "").lower() != "application/dicom":
        return _unsupported_media_type(request)
    boundary = params.get("boundary")
    if not boundary:
        return _unsupported_media_type(request)
    expected_study = request.path_params.get("study")
    base = dicomweb_config(request).base_url(request)
    origin = origin_of(request)
    stored: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    study_url: str | None = None
    for part in parse_multipart(await request.body(), boundary):
        part_type = parse_media_type(part.content_type)[0] if part.content_type else ""
        if part_type not in ("", "application/dicom"):
            return _unsupported_media_type(request)
        # Parsed here only when the study must be checked before storing: otherwise the store's
        # own parse gives the UIDs of the answer.
        uids: dict[str, str] | None = None
        if expected_study is not None:
            try:
                uids = await context.run_cpu(_uids, part.data)
            except OrthancError:
                logger.info("STOW-RS: ignoring a part that is not DICOM")
                continue
            if uids["study"] != expected_study:
                logger.info(
                    "STOW-RS: instance of study %s refused at study %s", uids["study"], expected_study
                )
                failed.append({**_referenced(uids), "00081197": element("US", [PROCESSING_FAILURE])})
                continue
        try:
            result = await context.store(part.data, origin)
        except OrthancError as e:
            if e.code is ErrorCode.BadFileFormat:
                logger.info("STOW-RS: ignoring a part that is not DICOM")
                continue  # as the plugin: not listed among the failures
            logger.warning("STOW-RS: cannot store an instance: %s", e.details or e.message)
            if uids is None:
                try:
                    uids = await context.run_cpu(_uids, part.data)
                except OrthancError:
                    continue
            failed.append({**_referenced(uids), "00081197": element("US", [PROCESSING_FAILURE])})
            continue
        uids = uids or _uids_of(result.instance)
        item = _referenced(uids)
        url = f"{base}studies/{uids['study']}"
        study_url = study_url or url
        stored.append(
            {
                **item,
                "00081190": element(
                    "UR", [f"{url}/series/{uids['series']}/instances/{uids['sop_instance']}"]
                ),
            }
        )
    answer: dict[str, Any] = {"00080005": element("CS", ["ISO_IR 100"])}
    if study_url is not None:
        answer["00081190"] = element("UR", [study_url])
    if failed:
        answer["00081198"] = element("SQ", failed)
    answer["00081199"] = element("SQ", stored or None)
    if stored and not failed:
        status = 200
    elif stored:
        status = 202
    elif failed:
        status = 409
    else:
        status = 400
    return Response(dump_json(answer), status_code=status, media_type="application/dicom+json")
