"""WADO-RS: DICOM instances of a study, series or instance; their metadata, frames and bulk data.

Instances go out as ``multipart/related; type="application/dicom"``, in their stored transfer syntax
unless the ``Accept`` header asks for another one (``transfer-syntax=…``; ``*`` means as stored).
Frames go out uncompressed (``application/octet-stream``, Explicit VR Little Endian) unless the
client accepts the stored syntax (``transfer-syntax=*`` or that UID), then as stored.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from typing import Any

import orjson
import pydicom
from pydicom.encaps import generate_frames
from pydicom.pixels import get_decoder
from starlette.requests import Request
from starlette.responses import Response

from ..core.context import ServerContext
from ..core.enumerations import MetadataType
from ..core.errors import ErrorCode, OrthancError
from ..core.identifiers import ResourceLevel
from ..core.transcoding import UNCOMPRESSED, transcode
from ..index.base import ResourceRow
from ..rest.responses import dump_json
from .config import dicomweb_config
from .json_model import Json
from .locate import instances_of, locate
from .main_tags_metadata import main_tags_metadata
from .metadata_cache import instances_json, metadata_body
from .multipart import PartSource, constant_part, multipart_response, parse_media_type
from .transfer_syntax import (
    BIG_ENDIAN,
    EXPLICIT_LITTLE_ENDIAN,
    FRAME_SYNTAXES,
    IMPLICIT_LITTLE_ENDIAN,
    can_decode,
    check_instance_target,
    frame_media_type,
    media_type_of_syntax,
    not_acceptable,
    requested_syntax,
)
from .xml_model import MEDIA_TYPE as XML_MEDIA_TYPE
from .xml_model import dataset_to_xml

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Accepted:
    """What the ``Accept`` header of a WADO-RS request asks for."""

    part_type: str | None  # the "type" of multipart/related, or None
    transfer_syntax: str | None  # None: not said; "*": as stored


def accepted(request: Request) -> Accepted:
    """The first ``multipart/related`` of the ``Accept`` header; any other type is refused (400)."""
    header = request.headers.get("accept", "")
    first = None
    for entry in header.split(","):
        media, params = parse_media_type(entry)
        if media == "multipart/related":
            return Accepted(params.get("type"), params.get("transfer-syntax"))
        if media and first is None:
            first = media
    if first is not None and first not in ("*/*", "multipart/*"):
        raise OrthancError(
            ErrorCode.BadRequest, f"This WADO-RS plugin cannot generate the following content type: {first}"
        )
    return Accepted(None, None)


def _uids(request: Request) -> tuple[str, str | None, str | None]:
    p = request.path_params
    return p["study"], p.get("series"), p.get("instance")


async def _resource(request: Request) -> tuple[ServerContext, ResourceRow]:
    context: ServerContext = request.app.state.context
    return context, await locate(context, *_uids(request))


# --------------------------------------------------------------------------- instances


async def _stored_syntaxes(context: ServerContext, instances: list[ResourceRow]) -> dict[int, str]:
    async with context.index.transaction() as tx:
        found = await tx.get_metadata([i.internal_id for i in instances], [MetadataType.TRANSFER_SYNTAX])
    return {i: m[MetadataType.TRANSFER_SYNTAX] for i, m in found.items() if MetadataType.TRANSFER_SYNTAX in m}


async def retrieve(request: Request) -> Response:
    context, row = await _resource(request)
    accept = accepted(request)
    if accept.part_type not in (None, "application/dicom"):
        raise OrthancError(
            ErrorCode.BadRequest,
            "This WADO-RS plugin only supports application/dicom return type for DICOM retrieval "
            f"({accept.part_type})",
        )
    requested = requested_syntax(accept.transfer_syntax)
    # Without a transfer syntax, the plugin sends Explicit VR Little Endian (PS3.18 8.7.3.5.2).
    target = None if requested == "*" else (requested or EXPLICIT_LITTLE_ENDIAN)
    instances = await instances_of(context, row)
    stored = await _stored_syntaxes(context, instances) if target is not None else {}
    if requested is not None and target is not None:
        for instance in instances:
            check_instance_target(stored.get(instance.internal_id), target)

    def source(instance: ResourceRow) -> PartSource:
        async def read() -> tuple[str, bytes]:
            data = await context.read_dicom_of(instance.internal_id)
            if target is not None and stored.get(instance.internal_id) != target:
                try:
                    data = await context.run_cpu(transcode, data, target)
                except OrthancError as e:
                    if requested is not None:
                        raise  # asked for explicitly (and checked above: the decoder failed)
                    # The default syntax: better the file as stored than a cut answer.
                    logger.warning("WADO-RS: sending an instance as stored: %s", e.details or e.message)
            return "application/dicom", data

        return read

    return multipart_response([source(i) for i in instances], "application/dicom")


# --------------------------------------------------------------------------- metadata


def metadata_wants_xml(request: Request) -> bool:
    """As the plugin: DICOM JSON for ``application/json``, ``application/dicom+json``, ``*/*`` or no
    ``Accept``; XML for ``multipart/related; type="application/dicom+xml"``; anything else is a 400."""
    header = request.headers.get("accept", "")
    entries = [parse_media_type(entry) for entry in header.split(",")] if header.strip() else []
    if not entries or any(m in ("application/json", "application/dicom+json", "*/*") for m, _ in entries):
        return False
    media, params = entries[0]
    if media == "multipart/related" and params.get("type", "").lower() == XML_MEDIA_TYPE:
        if "transfer-syntax" in params:
            raise OrthancError(
                ErrorCode.BadRequest,
                f"This WADO-RS plugin cannot change the transfer syntax to {params['transfer-syntax']}",
            )
        return True
    raise OrthancError(
        ErrorCode.BadRequest, f"This WADO-RS plugin cannot generate the following content type: {header}"
    )


def xml_answer(datasets: list[Json]) -> Response:
    """DICOM datasets as a ``multipart/related`` body of Native DICOM Model documents."""
    parts = [constant_part(XML_MEDIA_TYPE, dataset_to_xml(d)) for d in datasets]
    return multipart_response(parts, XML_MEDIA_TYPE)


async def metadata(request: Request) -> Response:
    context, row = await _resource(request)
    config = dicomweb_config(request)
    xml = metadata_wants_xml(request)
    instances = await instances_of(context, row)
    # The metadata of one instance is always read from its file, as the plugin does.
    mode = {ResourceLevel.STUDY: config.studies_metadata, ResourceLevel.SERIES: config.series_metadata}.get(
        row.level, "Full"
    )
    if mode == "Full":
        items = await instances_json(context, instances)
        body = metadata_body(items, config.base_url(request))
        if xml:
            return xml_answer(orjson.loads(body))
        return Response(body, media_type="application/dicom+json")
    extrapolated = None
    if mode == "Extrapolate":
        extrapolated = {
            ResourceLevel.SERIES: list(config.series_extrapolated_tags),
            ResourceLevel.STUDY: list(config.studies_extrapolated_tags),
        }
    datasets = await main_tags_metadata(context, instances, extrapolated)
    if xml:
        return xml_answer(datasets)
    return Response(dump_json(datasets), media_type="application/dicom+json")


# --------------------------------------------------------------------------- frames


def _parse_frames(text: str) -> list[int]:
    frames: list[int] = []
    for token in text.replace(" ", "").split(","):
        try:
            frame = int(token)
        except ValueError as e:
            raise OrthancError(ErrorCode.BadRequest, f"Badly formatted list of frames: {text}") from e
        if frame < 1:
            raise OrthancError(ErrorCode.BadRequest, f"Frame numbers start at 1, not {frame}")
        frames.append(frame)
    return frames


@dataclass(frozen=True)
class FrameRequest:
    """What the client accepts for frames: ``syntax`` None (raw, Explicit VR Little Endian), ``*``
    (as stored) or a UID; ``media`` the ``type`` of ``multipart/related`` it named, if any."""

    syntax: str | None
    media: str | None


def _frame_syntax(request: FrameRequest, stored: str) -> str:
    """The transfer syntax the frames go out in; 406 when that cannot be produced."""
    compressed = stored not in UNCOMPRESSED and stored != BIG_ENDIAN
    if request.syntax == "*":
        return stored if compressed else EXPLICIT_LITTLE_ENDIAN
    if request.syntax is None:
        media = request.media
        if media in (None, "application/octet-stream", "*/*"):
            return EXPLICIT_LITTLE_ENDIAN
        if compressed and media == media_type_of_syntax(stored):
            return stored
        raise not_acceptable(f"Cannot send frames of transfer syntax {stored} as {media}")
    if request.syntax == stored and compressed:
        return stored
    if request.syntax in FRAME_SYNTAXES:
        return request.syntax
    raise not_acceptable(f"Cannot send frames of transfer syntax {stored} in {request.syntax}")


def extract_frames(data: bytes, numbers: list[int], request: FrameRequest) -> tuple[str, list[bytes]]:
    """(transfer syntax of the frames, the frames), compressed frames as stored or decoded."""
    dataset = pydicom.dcmread(io.BytesIO(data), force=True)
    if "PixelData" not in dataset:
        raise OrthancError(ErrorCode.BadRequest, "This instance has no pixel data")
    stored = str(getattr(dataset.file_meta, "TransferSyntaxUID", "") or IMPLICIT_LITTLE_ENDIAN)
    count = int(dataset.get("NumberOfFrames", 1) or 1)
    for n in numbers:
        if n > count:
            raise OrthancError(
                ErrorCode.ParameterOutOfRange, f"Frame {n} out of range: the instance has {count} frame(s)"
            )
    syntax = _frame_syntax(request, stored)
    if syntax == stored and syntax not in UNCOMPRESSED:
        all_frames = list(generate_frames(dataset.PixelData, number_of_frames=count))
        return syntax, [all_frames[n - 1] for n in numbers]
    bits = int(dataset.BitsAllocated)
    if stored in UNCOMPRESSED and bits % 8 == 0:
        pixels: bytes = dataset.PixelData
        rows, columns = int(dataset.Rows), int(dataset.Columns)
        size = rows * columns * int(dataset.get("SamplesPerPixel", 1)) * bits // 8
        return syntax, [pixels[(n - 1) * size : n * size] for n in numbers]
    if not can_decode(stored):
        raise not_acceptable(f"Cannot decode the frames of transfer syntax {stored}")
    frames = []
    for n in numbers:
        try:
            array, _ = get_decoder(stored).as_array(dataset, index=n - 1)
        except Exception as e:
            raise OrthancError(
                ErrorCode.NotImplemented, f"Cannot decode the frames of transfer syntax {stored}: {e}"
            ) from e
        frames.append(array.astype(array.dtype.newbyteorder("<")).tobytes())
    return syntax, frames


async def frames(request: Request) -> Response:
    context, row = await _resource(request)
    numbers = _parse_frames(request.path_params["frames"])
    accept = accepted(request)
    wanted = FrameRequest(requested_syntax(accept.transfer_syntax), accept.part_type)
    data = await context.read_dicom_of(row.internal_id)
    syntax, parts = await context.run_cpu(extract_frames, data, numbers, wanted)
    content_type = frame_media_type(syntax)
    instance_url = f"{dicomweb_config(request).base_url(request)}studies/{_path_of(request)}"
    locations = [f"{instance_url}/frames/{n}" for n in numbers]
    return multipart_response([constant_part(content_type, p) for p in parts], content_type, locations)


def _path_of(request: Request) -> str:
    p = request.path_params
    return f"{p['study']}/series/{p['series']}/instances/{p['instance']}"


# --------------------------------------------------------------------------- bulk data


def bulk_value(data: bytes, path: str) -> bytes:
    """The value at ``tag[/index/tag…]`` (hex tags, 1-based item indexes) of a DICOM file."""
    tokens = [t for t in path.split("/") if t]
    if not tokens or len(tokens) % 2 == 0:
        raise OrthancError(ErrorCode.BadRequest, f"Bad path to bulk data: {path}")
    dataset: Any = pydicom.dcmread(io.BytesIO(data), force=True)
    try:
        for i in range(0, len(tokens) - 1, 2):
            dataset = dataset[int(tokens[i], 16)].value[int(tokens[i + 1]) - 1]
        value = dataset[int(tokens[-1], 16)].value
    except (KeyError, IndexError, ValueError, TypeError) as e:
        raise OrthancError(ErrorCode.InexistentItem, f"No bulk data at {path}", http_status=404) from e
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    raise OrthancError(ErrorCode.BadRequest, f"Not a bulk data element: {path}")


async def bulk(request: Request) -> Response:
    context, row = await _resource(request)
    data = await context.read_dicom_of(row.internal_id)
    value = await context.run_cpu(bulk_value, data, request.path_params["path"])
    return multipart_response([constant_part("application/octet-stream", value)], "application/octet-stream")
