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

import pydicom
from pydicom.encaps import generate_frames
from starlette.requests import Request
from starlette.responses import Response

from ..core.context import ServerContext
from ..core.errors import ErrorCode, OrthancError
from ..core.transcoding import UNCOMPRESSED, transcode
from ..index.base import ResourceRow
from .config import dicomweb_config
from .locate import instances_of, locate
from .metadata_cache import instances_json, metadata_body
from .multipart import PartSource, multipart_response, parse_media_type

logger = logging.getLogger(__name__)

EXPLICIT_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"


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


async def retrieve(request: Request) -> Response:
    context, row = await _resource(request)
    accept = accepted(request)
    if accept.part_type not in (None, "application/dicom"):
        raise OrthancError(
            ErrorCode.BadRequest,
            f"This WADO-RS plugin cannot generate the following content type: {accept.part_type}",
        )
    # Without a transfer syntax, the plugin sends Explicit VR Little Endian (PS3.18 8.7.3.5.2).
    target = None if accept.transfer_syntax == "*" else (accept.transfer_syntax or EXPLICIT_LITTLE_ENDIAN)
    if target is not None and target not in UNCOMPRESSED:
        raise OrthancError(
            ErrorCode.BadRequest, f"Transcoding to the transfer syntax {target} is not supported"
        )
    instances = await instances_of(context, row)

    def source(instance: ResourceRow) -> PartSource:
        async def read() -> tuple[str, bytes]:
            data = await context.read_dicom_of(instance.internal_id)
            if target is not None:
                try:
                    data = await context.run_cpu(transcode, data, target)
                except OrthancError as e:
                    if accept.transfer_syntax is not None:
                        raise  # asked for explicitly
                    # The default syntax: better the file as stored than a cut answer.
                    logger.warning("WADO-RS: sending an instance as stored: %s", e.details or e.message)
            return "application/dicom", data

        return read

    return multipart_response([source(i) for i in instances], "application/dicom")


# --------------------------------------------------------------------------- metadata


async def metadata(request: Request) -> Response:
    context, row = await _resource(request)
    instances = await instances_of(context, row)
    items = await instances_json(context, instances)
    body = metadata_body(items, dicomweb_config(request).base_url(request))
    return Response(body, media_type="application/dicom+json")


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


def extract_frames(data: bytes, numbers: list[int], keep_stored: bool) -> tuple[str, list[bytes]]:
    """(transfer syntax of the frames, the frames); ``keep_stored`` keeps compressed frames as stored."""
    dataset = pydicom.dcmread(io.BytesIO(data), force=True)
    if "PixelData" not in dataset:
        raise OrthancError(ErrorCode.BadRequest, "This instance has no pixel data")
    syntax = str(getattr(dataset.file_meta, "TransferSyntaxUID", "") or "1.2.840.10008.1.2")
    count = int(dataset.get("NumberOfFrames", 1) or 1)
    for n in numbers:
        if n > count:
            raise OrthancError(
                ErrorCode.ParameterOutOfRange, f"Frame {n} out of range: the instance has {count} frame(s)"
            )
    if syntax not in UNCOMPRESSED and syntax != "1.2.840.10008.1.2.2":
        if keep_stored:
            all_frames = list(generate_frames(dataset.PixelData, number_of_frames=count))
            return syntax, [all_frames[n - 1] for n in numbers]
        try:
            array: Any = dataset.pixel_array
        except Exception as e:
            raise OrthancError(
                ErrorCode.NotImplemented, f"Cannot decode the frames of transfer syntax {syntax}: {e}"
            ) from e
        if count == 1:
            array = array[None, ...]
        return EXPLICIT_LITTLE_ENDIAN, [
            array[n - 1].astype(array.dtype.newbyteorder("<")).tobytes() for n in numbers
        ]
    pixels: bytes = dataset.PixelData
    rows, columns = int(dataset.Rows), int(dataset.Columns)
    samples, bits = int(dataset.get("SamplesPerPixel", 1)), int(dataset.BitsAllocated)
    size = rows * columns * samples * bits // 8
    return EXPLICIT_LITTLE_ENDIAN, [pixels[(n - 1) * size : n * size] for n in numbers]


async def frames(request: Request) -> Response:
    context, row = await _resource(request)
    numbers = _parse_frames(request.path_params["frames"])
    accept = accepted(request)
    keep_stored = accept.transfer_syntax == "*" or (
        accept.transfer_syntax is not None and accept.transfer_syntax not in UNCOMPRESSED
    )
    data = await context.read_dicom_of(row.internal_id)
    syntax, parts = await context.run_cpu(extract_frames, data, numbers, keep_stored)
    if accept.transfer_syntax not in (None, "*", syntax, *UNCOMPRESSED):
        raise OrthancError(
            ErrorCode.BadRequest, f"Cannot send frames in transfer syntax {accept.transfer_syntax}"
        )
    content_type = f"application/octet-stream; transfer-syntax={syntax}"
    instance_url = f"{dicomweb_config(request).base_url(request)}studies/{_path_of(request)}"
    locations = [f"{instance_url}/frames/{n}" for n in numbers]
    return multipart_response([_constant(content_type, p) for p in parts], content_type, locations)


def _path_of(request: Request) -> str:
    p = request.path_params
    return f"{p['study']}/series/{p['series']}/instances/{p['instance']}"


def _constant(content_type: str, data: bytes) -> PartSource:
    async def read() -> tuple[str, bytes]:
        return content_type, data

    return read


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
    return multipart_response([_constant("application/octet-stream", value)], "application/octet-stream")
