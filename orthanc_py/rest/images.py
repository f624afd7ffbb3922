"""Images of instances: ``/preview``, ``/rendered``, ``/image-uint8|uint16|int16``, ``/matlab``,
``/numpy``, ``/frames/{n}/…`` (with ``/raw``, ``/raw.gz``), ``/pdf`` and ``/series/{id}/numpy``.

Error answers follow Orthanc 1.12 (``IDecodedFrameHandler::Apply``): an image that cannot be
decoded, a frame past the end or a bad rendering argument get an empty 415 (or, with
``?returnUnsupportedImage``, a 307 to ``app/images/unsupported.png``); an unknown instance, a frame
index that is not a number or an Accept header with no image type Orthanc offers get an empty 404.
"""

from __future__ import annotations

import gzip
import logging
from collections.abc import Callable, Iterator
from typing import Any

from pydicom.dataset import Dataset
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ..core.errors import ErrorCode, OrthancError
from ..core.identifiers import ResourceLevel
from ..imaging import decoding, encoding, formats, rendering
from ..imaging.decoding import DecodedFrame
from ..imaging.rendering import ExtractionMode, RenderingOptions
from .context_access import context_of
from .ordered_slices import slice_order
from .responses import OrthancJSONResponse

logger = logging.getLogger(__name__)

FRAME_CHILDREN = [
    "image-int16",
    "image-uint16",
    "image-uint8",
    "matlab",
    "numpy",
    "preview",
    "raw",
    "raw.gz",
    "rendered",
]


class UnsupportedImage(Exception):
    """Orthanc's 415 (the frame cannot be decoded or rendered)."""


class NoImage(Exception):
    """Orthanc's empty 404 (no such resource or frame index, no acceptable media type)."""


def _frame_index(request: Request) -> int:
    text = request.path_params.get("frame", "0")
    if not text.isdigit():
        raise NoImage
    return int(text)


def _unsupported_answer(request: Request) -> Response:
    if "returnUnsupportedImage" in request.query_params:
        depth = len([p for p in request.url.path.split("/") if p])
        return RedirectResponse("../" * (depth - 1) + "app/images/unsupported.png", status_code=307)
    return Response(status_code=415)


def _rendering_options(params: Any) -> RenderingOptions:
    def number(name: str) -> float | None:
        if name not in params:
            return None
        try:
            return float(params[name])
        except ValueError:
            raise OrthancError(ErrorCode.ParameterOutOfRange, f"Bad value for argument: {name}") from None

    def size(name: str) -> int:
        if name not in params:
            return 0
        try:
            value = int(params[name])
        except ValueError:
            raise OrthancError(ErrorCode.ParameterOutOfRange, f"Bad value for argument: {name}") from None
        if value < 0:
            raise OrthancError(ErrorCode.ParameterOutOfRange, f"Argument cannot be negative: {name}")
        return value

    smooth = params.get("smooth", "false").lower() in ("1", "true", "")
    return RenderingOptions(
        number("window-center"), number("window-width"), size("width"), size("height"), smooth
    )


def image_answer(data: bytes, frame: int, kind: str, accept: str | None, params: Any) -> tuple[bytes, str]:
    """Decode, convert and encode one frame (CPU-bound, run off the event loop)."""
    media_type = encoding.negotiate(accept)
    if media_type is None:
        raise NoImage
    try:
        quality = encoding.parse_quality(params.get("quality")) if media_type == encoding.MIME_JPEG else 90
        dataset = decoding.read_image_dataset(data)
        decoded = decoding.decode_frame(dataset, frame)
        if kind == "rendered":
            image = rendering.render(decoded, dataset, frame, _rendering_options(params))
        else:
            mode = ExtractionMode(kind)
            monochrome1 = mode == ExtractionMode.PREVIEW and rendering.is_monochrome1(dataset)
            image = rendering.extract(decoded, mode, invert_pixels=monochrome1)
        return encoding.encode(image, media_type, quality), media_type
    except OrthancError as e:
        logger.info("Cannot answer the %s of frame %d: %s", kind, frame, e.details or e.message)
        raise UnsupportedImage from e


def _image_route(kind: str) -> Callable[[Request], Any]:
    async def answer(request: Request) -> Response:
        context = context_of(request)
        try:
            frame = _frame_index(request)
            try:
                data = await context.read_dicom(request.path_params["id"])
            except OrthancError as e:
                if e.code in (ErrorCode.UnknownResource, ErrorCode.InexistentFile):
                    raise NoImage from e
                raise
            accept = request.headers.get("accept")
            body, media_type = await context.run_cpu(
                image_answer, data, frame, kind, accept, request.query_params
            )
        except NoImage:
            return Response(status_code=404)
        except UnsupportedImage:
            return _unsupported_answer(request)
        return Response(body, media_type=media_type)

    answer.__name__ = f"get_{kind.replace('-', '_')}"
    return answer


# --- Matlab and numpy


def _decode_or_bad_file(dataset: Dataset, frame: int) -> DecodedFrame:
    # Orthanc answers 400 "Bad file format" to any frame its matlab/numpy exports cannot decode.
    try:
        return decoding.decode_frame(dataset, frame)
    except OrthancError as e:
        raise OrthancError(ErrorCode.BadFileFormat) from e


def _matlab_answer(data: bytes, frame: int) -> bytes:
    decoded = _decode_or_bad_file(decoding.read_image_dataset(data), frame)
    return formats.to_matlab(decoded).encode("ascii")


async def get_matlab(request: Request) -> Response:
    context = context_of(request)
    try:
        frame = _frame_index(request)
    except NoImage:
        return Response(status_code=404)
    data = await context.read_dicom(request.path_params["id"])
    body = await context.run_cpu(_matlab_answer, data, frame)
    return Response(body, media_type="text/plain")


def _boolean(params: Any, name: str, default: bool) -> bool:
    if name not in params:
        return default
    value = params[name].lower()
    if value in ("", "1", "true"):
        return True
    if value in ("0", "false"):
        return False
    raise OrthancError(
        ErrorCode.ParameterOutOfRange, f'Expected a Boolean for argument "{name}": {params[name]}'
    )


def _instance_frames(
    dataset: Dataset, frames: list[int]
) -> Iterator[tuple[DecodedFrame, tuple[float, float]]]:
    for frame in frames:
        yield _decode_or_bad_file(dataset, frame), rendering.rescale_of(dataset, frame)


def _numpy_of_instance(data: bytes, frame: int | None, rescale: bool, compress: bool) -> bytes:
    dataset = decoding.read_image_dataset(data)
    if frame is not None:
        return formats.to_numpy(_instance_frames(dataset, [frame]), 0, rescale=rescale, compress=compress)
    depth = decoding.frame_count(dataset)
    if depth == 0:
        raise OrthancError(ErrorCode.BadFileFormat, "Empty DICOM instance")
    frames = list(range(depth))
    return formats.to_numpy(_instance_frames(dataset, frames), depth, rescale=rescale, compress=compress)


async def get_instance_numpy(request: Request) -> Response:
    context = context_of(request)
    params = request.query_params
    compress, rescale = _boolean(params, "compress", False), _boolean(params, "rescale", True)
    frame: int | None = None
    if "frame" in request.path_params:
        text = request.path_params["frame"]
        if not text.isdigit():
            raise OrthancError(
                ErrorCode.ParameterOutOfRange, 'Expected an unsigned integer for the "frame" argument'
            )
        frame = int(text)
    data = await context.read_dicom(request.path_params["id"])
    body = await context.run_cpu(_numpy_of_instance, data, frame, rescale, compress)
    return Response(body, media_type="application/octet-stream")


async def get_series_numpy(request: Request) -> Response:
    """The frames of every instance of the series, in the order of ``/series/{id}/ordered-slices``."""
    context = context_of(request)
    params = request.query_params
    compress, rescale = _boolean(params, "compress", False), _boolean(params, "rescale", True)
    order = await slice_order(context, request.path_params["id"])
    files = [await context.read_dicom(public_id) for public_id, _, _ in order["SlicesShort"]]
    counts = [int(count) for _, _, count in order["SlicesShort"]]

    def work() -> bytes:
        datasets = [decoding.read_image_dataset(data) for data in files]

        def frames() -> Iterator[tuple[DecodedFrame, tuple[float, float]]]:
            for dataset, count in zip(datasets, counts, strict=True):
                yield from _instance_frames(dataset, list(range(count)))

        return formats.to_numpy(frames(), sum(counts), rescale=rescale, compress=compress)

    body = await context.run_cpu(work)
    return Response(body, media_type="application/octet-stream")


# --- raw frames, frame listing, PDF


_RAW_MEDIA_TYPES = {
    "1.2.840.10008.1.2.4.50": "image/jpeg",
    "1.2.840.10008.1.2.4.51": "image/jpeg",
    "1.2.840.10008.1.2.4.57": "image/jpeg",
    "1.2.840.10008.1.2.4.70": "image/jpeg",
    "1.2.840.10008.1.2.4.90": "image/jp2",
    "1.2.840.10008.1.2.4.91": "image/jp2",
}


def _raw_frame(data: bytes, frame: int) -> tuple[bytes, str]:
    from pydicom.encaps import generate_frames

    dataset = decoding.read_image_dataset(data)
    if decoding.TAG_PIXEL_DATA not in dataset:
        raise OrthancError(ErrorCode.BadFileFormat, "Cannot access a raw frame")
    info = decoding.ImageInfo.of(dataset)
    if frame >= info.frames:
        raise OrthancError(ErrorCode.ParameterOutOfRange)
    pixels = dataset[decoding.TAG_PIXEL_DATA].value
    syntax = str(dataset.file_meta.get("TransferSyntaxUID", "")) if hasattr(dataset, "file_meta") else ""
    encapsulated = bool(syntax) and decoding.UID(syntax).is_encapsulated
    if encapsulated:
        try:
            for index, content in enumerate(generate_frames(pixels, number_of_frames=info.frames)):
                if index == frame:
                    return content, _RAW_MEDIA_TYPES.get(syntax, "application/octet-stream")
        except Exception as e:
            raise OrthancError(ErrorCode.BadFileFormat, "Cannot access a raw frame") from e
        raise OrthancError(ErrorCode.ParameterOutOfRange)
    size = len(pixels) // info.frames
    return bytes(pixels[frame * size : (frame + 1) * size]), "application/octet-stream"


def _raw_route(compressed: bool) -> Callable[[Request], Any]:
    async def answer(request: Request) -> Response:
        context = context_of(request)
        try:
            frame = _frame_index(request)
        except NoImage:
            return Response(status_code=404)
        data = await context.read_dicom(request.path_params["id"])
        content, media_type = await context.run_cpu(_raw_frame, data, frame)
        if compressed:
            return Response(gzip.compress(content, compresslevel=6), media_type="application/gzip")
        return Response(content, media_type=media_type)

    answer.__name__ = "get_raw_gz" if compressed else "get_raw"
    return answer


async def get_frame_children(request: Request) -> Response:
    await context_of(request).lookup(ResourceLevel.INSTANCE, request.path_params["id"])
    return OrthancJSONResponse(FRAME_CHILDREN)


def _pdf_of(data: bytes) -> bytes | None:
    dataset = decoding.read_image_dataset(data)
    if str(dataset.get("SOPClassUID", "")) != "1.2.840.10008.5.1.4.1.1.104.1":
        return None
    if str(dataset.get("MIMETypeOfEncapsulatedDocument", "")).strip() != "application/pdf":
        return None
    pdf = bytes(dataset.get("EncapsulatedDocument", b"") or b"")
    if not pdf:
        return None
    # The element is padded to an even length; the PDF itself ends at its last byte.
    if pdf.endswith(b"\x00"):
        pdf = pdf[:-1]
    return pdf


async def get_pdf(request: Request) -> Response:
    context = context_of(request)
    data = await context.read_dicom(request.path_params["id"])
    pdf = await context.run_cpu(_pdf_of, data)
    if pdf is None:
        return Response(status_code=404)
    return Response(pdf, media_type="application/pdf")


_IMAGE_KINDS = ["preview", "rendered", "image-uint8", "image-uint16", "image-int16"]

routes = [
    *[Route(f"/instances/{{id}}/{kind}", _image_route(kind), methods=["GET"]) for kind in _IMAGE_KINDS],
    *[
        Route(f"/instances/{{id}}/frames/{{frame}}/{kind}", _image_route(kind), methods=["GET"])
        for kind in _IMAGE_KINDS
    ],
    Route("/instances/{id}/frames/{frame}", get_frame_children, methods=["GET"]),
    Route("/instances/{id}/matlab", get_matlab, methods=["GET"]),
    Route("/instances/{id}/frames/{frame}/matlab", get_matlab, methods=["GET"]),
    Route("/instances/{id}/numpy", get_instance_numpy, methods=["GET"]),
    Route("/instances/{id}/frames/{frame}/numpy", get_instance_numpy, methods=["GET"]),
    Route("/instances/{id}/frames/{frame}/raw", _raw_route(False), methods=["GET"]),
    Route("/instances/{id}/frames/{frame}/raw.gz", _raw_route(True), methods=["GET"]),
    Route("/instances/{id}/pdf", get_pdf, methods=["GET"]),
    Route("/series/{id}/numpy", get_series_numpy, methods=["GET"]),
]
